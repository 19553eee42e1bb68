"""What every feature's services share: the error a rule raises, and the cleaning of typed text.

A service raises its feature's subclass of RuleError with the form field it concerns (or None)
and a message code; the view turns the code into a translated message beside that field.
"""


class RuleError(ValueError):
    def __init__(self, field, code, **info):
        super().__init__(code)
        self.field = field
        self.code = code
        self.info = info


def clean_text(value, field, *, required=True, limit=10000, error=RuleError):
    """Stripped text; `error(field, "required" | "too_long")` when it is missing or too long."""
    value = (value or "").strip()
    if required and not value:
        raise error(field, "required")
    if len(value) > limit:
        raise error(field, "too_long")
    return value
