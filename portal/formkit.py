"""Small helpers shared by the feature forms."""
from wtforms import SelectMultipleField, widgets
from wtforms.fields.choices import SelectChoice


class MultiCheckboxField(SelectMultipleField):
    """Several choices as a list of checkboxes."""
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def optional_int(value):
    """Coerce for a select whose first option is "Choose…" (empty): nothing chosen is None."""
    return int(value) if value not in (None, "", "None") else None


def choices(pairs):
    """(value, label) pairs as WTForms select choices."""
    return [SelectChoice(value, label) for value, label in pairs]


def place_error(form, field, message):
    """A rule's message goes beside its field, so the user sees it where they typed; a message
    that belongs to no field of `form` is returned, to be shown above the form. `field` is a field
    object or a field name (None for the form as a whole)."""
    if isinstance(field, str) or field is None:
        field = getattr(form, field or "", None) if form is not None else None
    if field is None or not hasattr(field, "errors"):
        return message
    field.errors = list(field.errors) + [message]
    return None
