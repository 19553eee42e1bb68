from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, FieldList, Form, FormField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from ..formkit import choices
from ..i18n import LABELS
from ..models.casework import SERVICE_KINDS


class RecordForm(FlaskForm):
    occurred_on = DateField(_l("Date"), validators=[InputRequired(message=_l("Give the date of the session."))])
    duration = IntegerField(_l("Duration (minutes)"), validators=[
        InputRequired(message=_l("Give the duration in minutes.")),
        NumberRange(min=1, max=600, message=_l("Between 1 and 600 minutes."))])
    kind = SelectField(_l("Kind"), choices=choices((k, LABELS["service_kind"][k]) for k in SERVICE_KINDS))
    participants = StringField(_l("Participants"), validators=[Optional(), Length(max=500)])
    summary = TextAreaField(_l("Summary"), validators=[
        InputRequired(message=_l("Summarise what was done and said.")), Length(max=10000)], render_kw={"rows": 6})
    progress = TextAreaField(_l("Progress towards the plan's goals"), validators=[Optional(), Length(max=10000)],
                             render_kw={"rows": 3})


class ReviseForm(RecordForm):
    reply = TextAreaField(_l("Your reply to the comments"), validators=[Optional(), Length(max=4000)],
                          render_kw={"rows": 2})
    version = HiddenField()


class ReviewForm(FlaskForm):
    comment = TextAreaField(_l("Comment"), validators=[Optional(), Length(max=4000)], render_kw={"rows": 2})
    version = HiddenField()


class GoalForm(Form):
    goal = StringField(_l("Goal"), validators=[Optional(), Length(max=500)])
    target = DateField(_l("Target date"), validators=[Optional()])
    measure = StringField(_l("How we will know"), validators=[Optional(), Length(max=300)])


class InterventionForm(Form):
    what = StringField(_l("Intervention"), validators=[Optional(), Length(max=500)])
    who = StringField(_l("Responsible"), validators=[Optional(), Length(max=200)])
    how_often = StringField(_l("How often"), validators=[Optional(), Length(max=100)])


class PlanForm(FlaskForm):
    goals = FieldList(FormField(GoalForm), min_entries=3, max_entries=8)
    interventions = FieldList(FormField(InterventionForm), min_entries=3, max_entries=8)
    review_on = DateField(_l("Next review date"), validators=[InputRequired(message=_l("Choose a review date."))])


class EscalateForm(FlaskForm):
    reason = TextAreaField(_l("Why does this case need to go up the line?"), validators=[
        InputRequired(message=_l("Give a reason.")), Length(max=4000)], render_kw={"rows": 3})


class RespondForm(FlaskForm):
    response = TextAreaField(_l("Your advice or reason"), validators=[Optional(), Length(max=4000)],
                             render_kw={"rows": 3})
    version = HiddenField()


class ClosureForm(FlaskForm):
    reason = SelectField(_l("Reason for closing"), validators=[InputRequired(message=_l("Choose one."))],
                         choices=choices([("", _l("Choose…"))] + [(r, LABELS["closure_reason"][r]) for r in
                                         ("goals_met", "no_longer_needed", "referred_on", "moved_school",
                                          "family_declined", "other")]))
    goals_met = SelectField(_l("Were the goals met?"), validators=[InputRequired(message=_l("Choose one."))],
                            choices=choices([("", _l("Choose…"))] + [(g, LABELS["goals_met"][g])
                                                                     for g in ("all", "partly", "none")]))
    summary = TextAreaField(_l("Closing summary"), validators=[
        InputRequired(message=_l("Write the closing summary.")), Length(max=10000)], render_kw={"rows": 4})


class ReopenForm(FlaskForm):
    reason = TextAreaField(_l("Why reopen the case?"), validators=[
        InputRequired(message=_l("Give a reason.")), Length(max=2000)], render_kw={"rows": 2})
    version = HiddenField()


class AssessmentForm(FlaskForm):
    assessed_on = DateField(_l("Date of the assessment"), validators=[InputRequired(message=_l("Give the date."))])
    overall_risk = SelectField(_l("Overall risk level"),
                               choices=choices((r, LABELS["risk"][r]) for r in ("low", "moderate", "high")))


def assessment_form_class():
    """One rating and one narrative per area, built from the list of areas."""
    from ..models.casework import ASSESSMENT_AREAS

    class _Form(AssessmentForm):
        pass
    for area in ASSESSMENT_AREAS:
        setattr(_Form, f"rating_{area}", SelectField(
            _l("Rating"), validators=[InputRequired(message=_l("Rate this area."))],
            choices=choices([("", _l("Choose…"))] + [(str(v), LABELS["rating"][v]) for v in (1, 2, 3, 4)])))
        setattr(_Form, f"narrative_{area}", TextAreaField(
            _l("Notes"), validators=[Optional(), Length(max=4000)], render_kw={"rows": 2}))
    return _Form
