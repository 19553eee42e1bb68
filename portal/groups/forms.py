from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (DateField, FieldList, Form, FormField, HiddenField, IntegerField, RadioField, SelectField,
                     SelectMultipleField, StringField, TextAreaField)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from ..formkit import MultiCheckboxField, choices, optional_int
from ..i18n import LABELS
from ..models.groups import ATTENDANCE, GROUP_KINDS


class GroupForm(FlaskForm):
    version = HiddenField()
    school_id = SelectField(_l("School"), coerce=optional_int, validate_choice=False)
    name = StringField(_l("Name of the group"), validators=[
        InputRequired(message=_l("Give the group a name.")), Length(max=200)])
    kind = SelectField(_l("Kind of group"), validators=[InputRequired(message=_l("Choose one."))],
                       choices=choices([("", _l("Choose…"))] + [(k, LABELS["group_kind"][k]) for k in GROUP_KINDS]))
    purpose = TextAreaField(_l("Purpose"), validators=[
        InputRequired(message=_l("Say what the group is for.")), Length(max=4000)], render_kw={"rows": 3})
    planned_sessions = IntegerField(_l("Planned sessions"), validators=[
        InputRequired(message=_l("Give the number of sessions.")),
        NumberRange(min=1, max=100, message=_l("Between 1 and 100 sessions."))])
    starts_on = DateField(_l("First session"), validators=[Optional()])
    meets = StringField(_l("When and where it meets"), validators=[Optional(), Length(max=200)])
    facilitators = MultiCheckboxField(_l("Facilitators"), coerce=int, validate_choice=False)


class MembersForm(FlaskForm):
    student_ids = SelectMultipleField(_l("Students"), coerce=int, validate_choice=False)


class VersionForm(FlaskForm):
    """Only the CSRF token and the version the page showed."""
    version = HiddenField()


class AttendanceEntry(Form):
    member_id = HiddenField()
    status = RadioField(_l("Attendance"), choices=choices((a, LABELS["attendance"][a]) for a in ATTENDANCE),
                        validate_choice=False, validators=[Optional()])
    observation = TextAreaField(_l("Observation about this student"), validators=[Optional(), Length(max=4000)],
                                render_kw={"rows": 2})


class SessionForm(FlaskForm):
    token = HiddenField()
    occurred_on = DateField(_l("Date"), validators=[InputRequired(message=_l("Give the date of the session."))])
    duration = IntegerField(_l("Duration (minutes)"), validators=[
        InputRequired(message=_l("Give the duration in minutes.")),
        NumberRange(min=1, max=600, message=_l("Between 1 and 600 minutes."))])
    topic = StringField(_l("Topic"), validators=[InputRequired(message=_l("Give the session's topic.")),
                                                 Length(max=200)])
    summary = TextAreaField(_l("Session summary"), validators=[
        InputRequired(message=_l("Summarise the session.")), Length(max=10000)], render_kw={"rows": 5})
    attendance = FieldList(FormField(AttendanceEntry), min_entries=0, max_entries=40)


class ReviseSessionForm(SessionForm):
    version = HiddenField()
    reply = TextAreaField(_l("Your reply to the comments"), validators=[Optional(), Length(max=4000)],
                          render_kw={"rows": 2})
