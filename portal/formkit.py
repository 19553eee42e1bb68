"""Small helpers shared by the feature forms."""
from wtforms.fields.choices import SelectChoice


def choices(pairs):
    """(value, label) pairs as WTForms select choices."""
    return [SelectChoice(value, label) for value, label in pairs]
