from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (BooleanField, DateField, DateTimeLocalField, HiddenField, IntegerField, RadioField, SelectField,
                     StringField, TextAreaField)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from ..formkit import MultiCheckboxField, choices
from ..i18n import LABELS
from ..models.family import CONTACT_METHODS, CONTACT_PURPOSES, INITIATORS, RESTRICTION_BASES, RESTRICTION_KINDS

WHEN_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]


class GuardianForm(FlaskForm):
    version = HiddenField()
    name = StringField(_l("Name"), validators=[InputRequired(message=_l("Give the person's name.")),
                                               Length(max=200)])
    relationship = StringField(_l("Relationship to the student"), validators=[
        InputRequired(message=_l("Say how they are related, e.g. mother, grandfather, foster carer.")),
        Length(max=40)])
    legal_responsibility = BooleanField(_l("Has legal responsibility for the student"), default=True)
    lives_with_student = BooleanField(_l("Lives with the student"), default=True)
    language = StringField(_l("Preferred language"), validators=[Optional(), Length(max=40)])
    interpreter_needed = BooleanField(_l("Needs an interpreter"))
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)])
    email = StringField(_l("Email"), validators=[Optional(), Length(max=254)])
    address = TextAreaField(_l("Address"), validators=[Optional(), Length(max=500)], render_kw={"rows": 2})
    contact_times = StringField(_l("Preferred contact times"), validators=[Optional(), Length(max=200)])


class RestrictionForm(FlaskForm):
    kinds = MultiCheckboxField(_l("What is restricted"), choices=choices(
        (k, LABELS["restriction_kind"][k]) for k in RESTRICTION_KINDS))
    basis = SelectField(_l("Basis"), choices=choices(
        (b, LABELS["restriction_basis"][b]) for b in RESTRICTION_BASES))
    details = TextAreaField(_l("Details (court, date, what it says)"), validators=[Optional(), Length(max=2000)],
                            render_kw={"rows": 2})
    ends_on = DateField(_l("Ends on (if the order says)"), validators=[Optional()])
    document = FileField(_l("The order or decision (PDF or image, optional)"))


class LiftForm(FlaskForm):
    reason = TextAreaField(_l("Why is the restriction lifted?"), validators=[Optional(), Length(max=2000)],
                           render_kw={"rows": 2})


class ContactForm(FlaskForm):
    visit_id = HiddenField()  # a home visit being recorded as a contact
    people = MultiCheckboxField(_l("With whom"), coerce=int, validate_choice=False)
    occurred_at = DateTimeLocalField(_l("When"), format=WHEN_FORMATS,
                                     validators=[InputRequired(message=_l("Give the date and time."))])
    method = SelectField(_l("How"), choices=choices(
        (m, LABELS["contact_method_family"][m]) for m in CONTACT_METHODS))
    reached = RadioField(_l("Reached?"), choices=choices([("yes", _l("Yes, we spoke")),
                                                          ("no", _l("No, only attempted"))]), default="yes")
    initiated_by = SelectField(_l("Who initiated it"), choices=choices(
        (i, LABELS["initiator"][i]) for i in INITIATORS))
    purpose = SelectField(_l("Purpose"), choices=choices((p, LABELS["contact_purpose"][p]) for p in CONTACT_PURPOSES))
    duration = IntegerField(_l("Minutes"), validators=[Optional(), NumberRange(min=1, max=600,
                                                                             message=_l("Between 1 and 600 minutes."))])
    interpreter_used = BooleanField(_l("An interpreter was used"))
    summary = TextAreaField(_l("What was said and done"), validators=[Length(max=10000)], render_kw={"rows": 3})
    outcome = TextAreaField(_l("Outcome"), validators=[Optional(), Length(max=4000)], render_kw={"rows": 2})
    next_steps = TextAreaField(_l("Agreed next steps"), validators=[Optional(), Length(max=4000)],
                               render_kw={"rows": 2})
    follow_up_on = DateField(_l("Follow up on"), validators=[Optional()])
    attended = MultiCheckboxField(_l("Attended (parent sessions)"), coerce=int, validate_choice=False)
    as_service_record = BooleanField(_l("Also record the session as a family service record (goes for review)"))
    override_reason = TextAreaField(_l("Supervisor override: why this contact is needed despite the restriction"),
                                    validators=[Optional(), Length(max=2000)], render_kw={"rows": 2})


class VisitForm(FlaskForm):
    visitor = SelectField(_l("Who goes"), coerce=int, validate_choice=False)
    companion = SelectField(_l("With (a second member of staff)"), coerce=int, validate_choice=False)
    checkin_contact = SelectField(_l("Check-in colleague (needed for a lone visit)"), coerce=int,
                                  validate_choice=False)
    planned_at = DateTimeLocalField(_l("Leaving at"), format=WHEN_FORMATS,
                                    validators=[InputRequired(message=_l("Give the date and time."))])
    expected_return_at = DateTimeLocalField(_l("Expected back at"), format=WHEN_FORMATS,
                                            validators=[InputRequired(message=_l("Give the time you expect to be back."))])
    address = TextAreaField(_l("Address"), validators=[Length(max=500)], render_kw={"rows": 2})
    purpose = TextAreaField(_l("Purpose of the visit"), validators=[Optional(), Length(max=2000)],
                            render_kw={"rows": 2})


class VersionForm(FlaskForm):
    version = HiddenField()
