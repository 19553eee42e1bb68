from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, HiddenField, IntegerField, RadioField, SelectField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from ..formkit import MultiCheckboxField
from ..formkit import choices
from ..i18n import LABELS
from ..models.concerns import CONCERN_CATEGORIES, URGENCIES
from ..models.cases import RISK_LEVELS
from .services import MAX_DESCRIPTION


class ConcernForm(FlaskForm):
    student_id = IntegerField(_l("Student"), validators=[
        InputRequired(message=_l("Find the student and choose them from the list."))])
    categories = MultiCheckboxField(_l("What is the concern about?"), validators=[
        DataRequired(message=_l("Choose at least one."))],
        choices=choices((c, LABELS["concern_category"][c]) for c in CONCERN_CATEGORIES))
    urgency = RadioField(_l("How urgent is it?"), validators=[InputRequired(message=_l("Choose one."))],
                         choices=choices((u, LABELS["urgency"][u]) for u in URGENCIES))
    observed_at = DateTimeLocalField(_l("When did you notice it?"), format="%Y-%m-%dT%H:%M",
                                     validators=[InputRequired(message=_l("Give a date and time."))])
    description = TextAreaField(_l("What did you see or hear?"), validators=[
        DataRequired(message=_l("Describe what you noticed.")),
        Length(max=MAX_DESCRIPTION, message=_l("Keep it under %(max)d characters.", max=MAX_DESCRIPTION))],
        render_kw={"rows": 5})
    action_taken = TextAreaField(_l("What have you already done? (optional)"), validators=[
        Optional(), Length(max=MAX_DESCRIPTION)], render_kw={"rows": 2})
    token = HiddenField()


class OpenCaseFromConcernForm(FlaskForm):
    worker = SelectField(_l("Assign to"), coerce=int, validators=[DataRequired()])
    risk_level = SelectField(_l("Risk level"), choices=choices((r, LABELS["risk"][r]) for r in RISK_LEVELS))
    version = HiddenField()


class LinkForm(FlaskForm):
    version = HiddenField()


class NoActionForm(FlaskForm):
    reason = TextAreaField(_l("Why no further action?"), validators=[
        DataRequired(message=_l("A reason is required.")), Length(max=2000)], render_kw={"rows": 2})
    version = HiddenField()
