from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField
from wtforms.validators import Optional

from ..formkit import optional_int


class PeriodForm(FlaskForm):
    """The report's period and school, as GET parameters (a link can be shared and bookmarked)."""
    class Meta:
        csrf = False

    start = DateField(_l("From"), validators=[Optional()])
    end = DateField(_l("To"), validators=[Optional()])
    school = SelectField(_l("School"), coerce=optional_int, validators=[Optional()], validate_choice=False)
