from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from ..formkit import MultiCheckboxField, choices, optional_int
from ..i18n import LABELS
from ..models.referrals import AGENCY_TYPES, CONSENT_METHODS, EXEMPTIONS, INFO_ITEMS, OUTCOMES, URGENCIES


def _items():
    return choices((i, LABELS["info_item"][i]) for i in INFO_ITEMS)


class AgencyForm(FlaskForm):
    version = HiddenField()
    name = StringField(_l("Name"), validators=[InputRequired(message=_l("Give the agency's name.")), Length(max=200)])
    type = SelectField(_l("Type"), choices=choices((t, LABELS["agency_type"][t]) for t in AGENCY_TYPES))
    services = TextAreaField(_l("Services"), validators=[Optional(), Length(max=4000)], render_kw={"rows": 3})
    ages = StringField(_l("Ages served"), validators=[Optional(), Length(max=40)])
    languages = StringField(_l("Languages"), validators=[Optional(), Length(max=200)])
    area = StringField(_l("Area served"), validators=[Optional(), Length(max=200)])
    contact_person = StringField(_l("Contact person"), validators=[Optional(), Length(max=200)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)])
    email = StringField(_l("Email"), validators=[Optional(), Length(max=254)])
    address = TextAreaField(_l("Address"), validators=[Optional(), Length(max=500)], render_kw={"rows": 2})
    referral_notes = TextAreaField(_l("How to refer (form, documents, notes)"), validators=[Optional(), Length(max=4000)],
                                   render_kw={"rows": 3})
    waiting_weeks = IntegerField(_l("Typical wait (weeks)"), validators=[
        Optional(), NumberRange(min=0, max=104, message=_l("Between 0 and 104 weeks."))])


class ConsentForm(FlaskForm):
    agency_id = SelectField(_l("Agency"), coerce=optional_int, validate_choice=False)
    given_by = SelectField(_l("Given by"), validate_choice=False, validators=[Optional()])
    method = SelectField(_l("How"), choices=choices((m, LABELS["consent_method"][m]) for m in CONSENT_METHODS))
    witness = StringField(_l("Witness (for verbal consent)"), validators=[Optional(), Length(max=200)])
    given_on = DateField(_l("Given on"), validators=[InputRequired(message=_l("Give the date."))])
    expires_on = DateField(_l("Expires on"), validators=[InputRequired(message=_l("Give the date the consent ends."))])
    scope = MultiCheckboxField(_l("Information that may be shared"), choices=_items())
    purpose = TextAreaField(_l("Purpose"), validators=[Optional(), Length(max=2000)], render_kw={"rows": 2})
    document = FileField(_l("The signed form (PDF or image)"))


class RevokeForm(FlaskForm):
    version = HiddenField()
    reason = TextAreaField(_l("Why is the consent revoked?"), validators=[Optional(), Length(max=2000)],
                           render_kw={"rows": 2})
    revoked_on = DateField(_l("Withdrawn on"), validators=[Optional()])


class ReferralForm(FlaskForm):
    agency_id = SelectField(_l("Agency"), coerce=optional_int, validate_choice=False)
    urgency = SelectField(_l("Urgency"), choices=choices((u, LABELS["referral_urgency"][u]) for u in URGENCIES))
    items = MultiCheckboxField(_l("Information to share (the minimum necessary)"), choices=_items(),
                               default=["identity", "reason"])
    reason = TextAreaField(_l("Reason for the referral"), validators=[Optional(), Length(max=4000)],
                           render_kw={"rows": 4})


class SendForm(FlaskForm):
    version = HiddenField()
    exemption = SelectField(_l("No consent covers this: exemption"), choices=choices(
        [("", _l("None"))] + [(e, LABELS["exemption"][e]) for e in EXEMPTIONS]), validators=[Optional()])
    exemption_reason = TextAreaField(_l("Why the exemption applies"), validators=[Optional(), Length(max=2000)],
                                     render_kw={"rows": 2})


class StatusForm(FlaskForm):
    version = HiddenField()
    status = SelectField(_l("New status"), validate_choice=False)
    on = DateField(_l("On"), validators=[Optional()])
    first_appointment_on = DateField(_l("First appointment on"), validators=[Optional()])
    outcome = SelectField(_l("Outcome (when closing)"), choices=choices(
        [("", _l("Choose…"))] + [(o, LABELS["referral_outcome"][o]) for o in OUTCOMES]), validators=[Optional()])
    note = TextAreaField(_l("Note (needed unless the student engaged and was helped)"),
                         validators=[Optional(), Length(max=2000)], render_kw={"rows": 2})
