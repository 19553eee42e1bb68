from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, FieldList, Form, FormField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from ..formkit import MultiCheckboxField, choices, optional_int
from ..i18n import LABELS
from ..models.people import TIERS
from ..models.supervision import SESSION_KINDS


def policy_form_class():
    """One number per tier for the ratio and for the caseload share (blank: the tier is left out)."""
    class PolicyForm(FlaskForm):
        caseload_limit = IntegerField(_l("A social worker's full caseload (open cases)"), validators=[
            InputRequired(message=_l("Give a number of cases.")),
            NumberRange(min=1, max=500, message=_l("Between 1 and 500."))])
        version = HiddenField()
    for role in TIERS:
        setattr(PolicyForm, f"ratio_{role}", IntegerField(LABELS["role"][role], validators=[
            Optional(), NumberRange(min=1, max=1000, message=_l("Between 1 and 1000."))]))
        setattr(PolicyForm, f"share_{role}", IntegerField(LABELS["role"][role], validators=[
            Optional(), NumberRange(min=0, max=200, message=_l("Between 0 and 200 per cent."))]))
    return PolicyForm


class MoveForm(FlaskForm):
    supervisor = SelectField(_l("New supervisor"), coerce=optional_int,
                             validators=[InputRequired(message=_l("Choose the new supervisor."))])
    version = HiddenField()


class HandoverForm(FlaskForm):
    """The per-case choices are read from the request (worker_<case id>); see views.handover."""
    default_worker = SelectField(_l("Hand the cases over to"), coerce=optional_int, validate_choice=False)


class ActionRowForm(Form):
    owner = SelectField(_l("Owner"), coerce=optional_int, validate_choice=False)
    due_on = DateField(_l("Due date"), validators=[Optional()])
    text = StringField(_l("Action"), validators=[Optional(), Length(max=1000)])


class SessionForm(FlaskForm):
    kind = SelectField(_l("Kind of session"), choices=choices(
        [("", _l("Choose…"))] + [(k, LABELS["session_kind"][k]) for k in SESSION_KINDS]),
        validators=[InputRequired(message=_l("Choose individual or group."))])
    held_on = DateField(_l("Date"), validators=[InputRequired(message=_l("Give the date of the session."))])
    duration = IntegerField(_l("Duration (minutes)"), validators=[
        InputRequired(message=_l("Give the duration in minutes.")),
        NumberRange(min=5, max=600, message=_l("Between 5 and 600 minutes."))])
    attendees = MultiCheckboxField(_l("Attendees"), coerce=int)
    topics = TextAreaField(_l("What was discussed"), validators=[
        InputRequired(message=_l("Write what was discussed.")), Length(max=10000)], render_kw={"rows": 5})
    decisions = TextAreaField(_l("Decisions"), validators=[Optional(), Length(max=10000)], render_kw={"rows": 3})
    actions = FieldList(FormField(ActionRowForm), min_entries=2, max_entries=6)
    version = HiddenField()


class SessionEditForm(SessionForm):
    actions = None


class SessionCaseForm(FlaskForm):
    case = SelectField(_l("Case"), coerce=optional_int, validators=[InputRequired(message=_l("Choose a case."))],
                       validate_choice=False)
    notes = TextAreaField(_l("Discussion notes"), validators=[Optional(), Length(max=10000)], render_kw={"rows": 4})


class ActionForm(FlaskForm):
    owner = SelectField(_l("Owner"), coerce=optional_int, validators=[InputRequired(message=_l("Choose who does it."))],
                        validate_choice=False)
    due_on = DateField(_l("Due date"), validators=[InputRequired(message=_l("Give a due date."))])
    case = SelectField(_l("On a case discussed (optional)"), coerce=optional_int, validate_choice=False)
    text = StringField(_l("Action"), validators=[InputRequired(message=_l("Say what is to be done.")),
                                                 Length(max=1000)])


class DoneForm(FlaskForm):
    version = HiddenField(validators=[InputRequired()])  # the item as the page showed it


# -- growth plans -----------------------------------------------------------------------------------

class GrowthGoalForm(Form):
    goal = StringField(_l("Goal"), validators=[Optional(), Length(max=500)])
    measure = StringField(_l("How we will know"), validators=[Optional(), Length(max=300)])


class GrowthPlanForm(FlaskForm):
    supervisee = SelectField(_l("For"), coerce=optional_int, validators=[InputRequired(message=_l("Choose a person."))],
                             validate_choice=False)
    focus = TextAreaField(_l("Focus of the plan"), validators=[Optional(), Length(max=2000)], render_kw={"rows": 2})
    starts_on = DateField(_l("Starts on"), validators=[InputRequired(message=_l("Give a start date."))])
    review_on = DateField(_l("Review on"), validators=[InputRequired(message=_l("Choose a review date."))])
    goals = FieldList(FormField(GrowthGoalForm), min_entries=3, max_entries=8)


class ProgressForm(FlaskForm):
    goal = SelectField(_l("Goal"), coerce=optional_int, validate_choice=False)
    text = TextAreaField(_l("Progress"), validators=[InputRequired(message=_l("Write the progress.")),
                                                     Length(max=4000)], render_kw={"rows": 3})


class GoalStatusForm(FlaskForm):
    status = SelectField(_l("Goal status"), choices=choices((k, LABELS["goal_state"][k])
                                                            for k in ("open", "met", "dropped")))
    version = HiddenField()


class GrowthReviewForm(FlaskForm):
    review = TextAreaField(_l("Review of the plan"), validators=[
        InputRequired(message=_l("Write the review.")), Length(max=10000)], render_kw={"rows": 5})
    version = HiddenField()


# -- performance reviews ------------------------------------------------------------------------------

class PerformanceNewForm(FlaskForm):
    supervisee = SelectField(_l("For"), coerce=optional_int, validators=[InputRequired(message=_l("Choose a person."))],
                             validate_choice=False)
    period_start = DateField(_l("Period from"), validators=[InputRequired(message=_l("Give the start of the period."))])
    period_end = DateField(_l("Period to"), validators=[InputRequired(message=_l("Give the end of the period."))])


class AssessmentForm(FlaskForm):
    assessment = TextAreaField(_l("Your assessment"), validators=[Optional(), Length(max=10000)],
                               render_kw={"rows": 8})
    version = HiddenField()


class CommentsForm(FlaskForm):
    comments = TextAreaField(_l("Your comments"), validators=[
        InputRequired(message=_l("Write your comments.")), Length(max=10000)], render_kw={"rows": 5})
    version = HiddenField()
