from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, HiddenField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from ..formkit import MultiCheckboxField, choices, optional_int
from ..i18n import LABELS
from ..models.prevention import ACTIVITY_STATES, ACTIVITY_TOPICS, ACTIVITY_TYPES, AUDIENCES, GRADES, SCALE


def _count(label):
    return IntegerField(label, validators=[Optional(), NumberRange(min=0, max=100000,
                                                                  message=_l("A number from 0."))])


class ActivityForm(FlaskForm):
    version = HiddenField()
    school_id = SelectField(_l("School"), coerce=optional_int, validate_choice=False)
    title = StringField(_l("Title"), validators=[InputRequired(message=_l("Give the activity a title.")),
                                                 Length(max=200)])
    type = SelectField(_l("Type"), validators=[InputRequired(message=_l("Choose one."))], choices=choices(
        [("", _l("Choose…"))] + [(t, LABELS["activity_type"][t]) for t in ACTIVITY_TYPES]))
    topic = SelectField(_l("Topic"), validators=[InputRequired(message=_l("Choose one."))], choices=choices(
        [("", _l("Choose…"))] + [(t, LABELS["activity_topic"][t]) for t in ACTIVITY_TOPICS]))
    topic_other = StringField(_l("Topic, in your words (when “Other”)"), validators=[Optional(), Length(max=100)])
    occurs_on = DateField(_l("Date"), validators=[InputRequired(message=_l("Give the date."))])
    status = RadioField(_l("Status"), default="planned", choices=choices(
        (s, LABELS["activity_state"][s]) for s in ACTIVITY_STATES))
    audience = MultiCheckboxField(_l("Audience"), choices=choices((a, LABELS["audience"][a]) for a in AUDIENCES))
    grades = MultiCheckboxField(_l("Grades"), choices=choices((g, g) for g in GRADES))
    classes = StringField(_l("Classes"), validators=[Optional(), Length(max=200)])
    reached = IntegerField(_l("Number of people reached"), validators=[
        Optional(), NumberRange(min=1, max=100000, message=_l("Between 1 and 100000."))])
    materials = StringField(_l("Materials used"), validators=[Optional(), Length(max=500)])
    eval_question = StringField(_l("Evaluation question"), validators=[Optional(), Length(max=300)])
    notes = TextAreaField(_l("Notes (what went well, what to change)"), validators=[Optional(), Length(max=4000)],
                          render_kw={"rows": 3})


for _n in SCALE:
    setattr(ActivityForm, f"before_{_n}", _count(_l("Before: answered %(n)d", n=_n)))
    setattr(ActivityForm, f"after_{_n}", _count(_l("After: answered %(n)d", n=_n)))


class MaterialForm(FlaskForm):
    file = FileField(_l("File (PDF, PNG or JPEG)"), validators=[FileRequired(_l("Choose a file."))])
