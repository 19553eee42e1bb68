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
