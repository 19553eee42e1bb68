from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from ..formkit import MultiCheckboxField, choices

SECTION_LABELS = {
    "assessment": _l("The assessment (ratings and notes)"),
    "plan": _l("The case plan in force"),
    "records": _l("Service records"),
    "crises": _l("Crises (type and level only)"),
    "referrals": _l("Referrals (kind of service and outcome)"),
    "closure": _l("The closing summary"),
}


class NewStudyForm(FlaskForm):
    title = StringField(_l("Title"), validators=[Optional(), Length(max=200)])
    sections = MultiCheckboxField(_l("What to include"), choices=choices(SECTION_LABELS.items()))
    question = TextAreaField(_l("What would you like your peers to discuss?"),
                             validators=[Optional(), Length(max=4000)], render_kw={"rows": 3})


class EditStudyForm(FlaskForm):
    title = StringField(_l("Title"), validators=[InputRequired(message=_l("Give the study a title.")),
                                                 Length(max=200)])
    body = TextAreaField(_l("The case study"), validators=[InputRequired(message=_l("The study is empty.")),
                                                          Length(max=60000)], render_kw={"rows": 24})
    version = HiddenField()


class SubmitForm(FlaskForm):
    version = HiddenField()
