from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp

from ..config import ROLES
from ..formkit import MultiCheckboxField, choices
from ..i18n import LABELS


class UserForm(FlaskForm):
    username = StringField(_l("Username"), validators=[
        DataRequired(), Length(min=3, max=64),
        Regexp(r"^[a-zA-Z0-9._-]+$", message=_l("Use letters, digits, dots, dashes and underscores."))])
    display_name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=120)])
    email = EmailField(_l("Email"), validators=[Optional(), Email(check_deliverability=False), Length(max=254)])
    role = SelectField(_l("Role"), choices=choices((r, LABELS["role"][r]) for r in ROLES))
    schools = MultiCheckboxField(_l("Schools"), coerce=int)
    supervisor = SelectField(_l("Supervisor"), coerce=int)
    on_duty = BooleanField(_l("On duty for urgent concerns and crises"))
    password = PasswordField(_l("Initial password"), render_kw={"autocomplete": "new-password"})
    version = HiddenField()


class SchoolForm(FlaskForm):
    code = StringField(_l("Code"), validators=[
        DataRequired(), Length(max=20),
        Regexp(r"^[A-Za-z0-9_-]+$", message=_l("Use letters, digits, dashes and underscores."))])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    active = BooleanField(_l("Active"), default=True)


class ImportForm(FlaskForm):
    file = FileField(_l("CSV file"), validators=[
        FileRequired(_l("Choose a CSV file.")), FileAllowed(["csv"], _l("Choose a .csv file."))])


class ConfirmForm(FlaskForm):
    """An empty form: a POST button with CSRF protection."""
