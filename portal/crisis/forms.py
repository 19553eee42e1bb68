from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, DateTimeLocalField, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from ..formkit import choices, optional_int
from ..i18n import LABELS
from ..models.crisis import CRISIS_TYPES
from .protocol import SAFETY_PLAN_SECTIONS
from .services import CONTACT_METHODS, EMERGENCY_SERVICES

YES_NO = choices([("yes", _l("Yes")), ("no", _l("No"))])
WHEN_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]


class StartForm(FlaskForm):
    crisis_type = RadioField(_l("What kind of crisis?"), choices=choices(
        (t, LABELS["crisis_type"][t]) for t in CRISIS_TYPES),
        validators=[InputRequired(message=_l("Choose the kind of crisis."))])
    occurred_at = DateTimeLocalField(_l("When did it happen or come to light?"), format=WHEN_FORMATS,
                                     validators=[InputRequired(message=_l("Give the date and time."))])
    account = TextAreaField(_l("What happened"), validators=[
        InputRequired(message=_l("Say briefly what happened and what has been done.")), Length(max=10000)],
        render_kw={"rows": 5})
    concern_id = HiddenField()


class StepForm(FlaskForm):
    """One form for every step; each step's template shows the fields it needs."""
    version = HiddenField()
    occurred_at = DateTimeLocalField(_l("When"), format=WHEN_FORMATS, validators=[Optional()])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=4000)], render_kw={"rows": 2})
    reason = TextAreaField(_l("Why is this step not done?"), validators=[Optional(), Length(max=4000)],
                           render_kw={"rows": 2})
    guardian_id = SelectField(_l("Guardian"), coerce=optional_int, validate_choice=False, validators=[Optional()])
    method = SelectField(_l("How"), choices=choices((m, LABELS["contact_method"][m]) for m in CONTACT_METHODS),
                         validators=[Optional()])
    reached = RadioField(_l("Was the guardian reached?"), choices=choices(
        [("yes", _l("Yes, we spoke")), ("no", _l("No, only attempted"))]), validators=[Optional()])
    override_reason = TextAreaField(_l("Supervisor override: why this guardian must be told despite the restriction"),
                                    validators=[Optional(), Length(max=2000)], render_kw={"rows": 2})
    agency = StringField(_l("Agency"), validators=[Optional(), Length(max=200)])
    official = StringField(_l("Official's name"), validators=[Optional(), Length(max=200)])
    reference = StringField(_l("Reference number"), validators=[Optional(), Length(max=100)])
    service = SelectField(_l("Service"), choices=choices(
        (s, LABELS["emergency_service"][s]) for s in EMERGENCY_SERVICES), validators=[Optional()])
    hospitalised = BooleanField(_l("The student was admitted to hospital"))
    return_on = DateField(_l("Return to school on"), validators=[Optional()])
    meeting_on = DateField(_l("Re-entry meeting on"), validators=[Optional()])
    release_signed = BooleanField(_l("Release signed to talk with the hospital"))
    plan_revisited = BooleanField(_l("Safety plan revisited"))
    supports_agreed = BooleanField(_l("Supports at school agreed"))
    checkins_set = BooleanField(_l("Check-ins set"))


class ScreenForm(FlaskForm):
    q1 = RadioField(choices=YES_NO, validators=[Optional()])
    q2 = RadioField(choices=YES_NO, validators=[Optional()])
    q3 = RadioField(choices=YES_NO, validators=[Optional()])
    q4 = RadioField(choices=YES_NO, validators=[Optional()])
    q5 = RadioField(choices=YES_NO, validators=[Optional()])
    q6 = RadioField(choices=YES_NO, validators=[Optional()])
    q6_recent = RadioField(choices=YES_NO, validators=[Optional()])
    follow_up_id = HiddenField()


def _plan_field(key):
    return TextAreaField(LABELS["safety_plan_section"][key], validators=[Optional(), Length(max=4000)],
                         render_kw={"rows": 3})


class SafetyPlanForm(FlaskForm):
    based_on = HiddenField()


for _key in SAFETY_PLAN_SECTIONS:  # the Stanley–Brown sections, in their order
    setattr(SafetyPlanForm, _key, _plan_field(_key))


class FollowUpForm(FlaskForm):
    version = HiddenField()
    note = TextAreaField(_l("How is the student? What was agreed?"), validators=[Optional(), Length(max=4000)],
                         render_kw={"rows": 2})


class SignoffRequestForm(FlaskForm):
    version = HiddenField()
    summary = TextAreaField(_l("Closing summary"), validators=[Optional(), Length(max=4000)],
                            render_kw={"rows": 4})
