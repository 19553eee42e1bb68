"""Crisis pages. Load, ask the policy, call a service, commit; errors go back beside the field."""
from flask import abort, current_app, flash, render_template, request
from flask_babel import gettext as _, to_user_timezone, to_utc
from flask_login import current_user, login_required
from sqlalchemy.orm.exc import StaleDataError

from .. import audit, clock
from ..cases.sections import section
from ..casework.forms import ReviewForm
from ..crypto import preload_data_keys
from ..extensions import db
from ..formkit import choices, place_error
from ..i18n import label, names
from ..models import Student
from ..permissions import can, require
from ..web import is_htmx, render, see_other, toast
from . import bp, protocol, services
from .forms import FollowUpForm, SafetyPlanForm, ScreenForm, SignoffRequestForm, StartForm, StepForm


def _messages():
    return {
        "required": _("This field is required."),
        "too_long": _("This text is too long."),
        "future": _("This time is in the future."),
        "too_early": _("This time is before the crisis began."),
        "too_long_ago": _("This is more than 30 days ago. Record an older event as a note on the case."),
        "invalid": _("Choose one of the listed values."),
        "stale": _("Someone else changed this while you were looking at it. Check the latest version and try again."),
        "already_done": _("This has already been recorded."),
        "already_handled": _("Someone else has already handled this, or it changed since you opened it."),
        "already_open": _("A crisis of this kind is already open for this student."),
        "awaiting_signoff": _("This crisis is waiting for sign-off; a supervisor can return it for more work."),
        "closed": _("This crisis is closed."),
        "not_waivable": _("This step cannot be waived."),
        "use_form": _("Record this step with its own form."),
        "restricted": _("This guardian must not be contacted. Choose another guardian, or waive the step and say why. "
                        "Only a supervisor can override a restriction, with a reason."),
        "override_reason": _("This guardian must not be contacted. Give the reason for your override."),
        "meeting_after_return": _("The re-entry meeting must be on or before the day the student returns."),
        "checklist": _("Tick every item of the checklist, or waive the step and say why."),
        "answer": _("Answer this question."),
        "not_due": _("This follow-up is not due yet."),
        "incomplete": _("The crisis cannot be closed yet: some steps or follow-ups are still open."),
        "own_record": _("You cannot sign off a crisis you sent for sign-off; it goes to your supervisor."),
        "already_open_case": _("This student already has another open case."),
        "worker_not_eligible": _("You are not a case worker of this student's school."),
    }


def _local_now():
    """Now, in the user's time zone, for a datetime-local field (which has no zone)."""
    return to_user_timezone(clock.now()).replace(tzinfo=None, second=0, microsecond=0)


def _utc(value):
    """A datetime-local value, typed in the user's time zone, as the stored UTC time."""
    return to_utc(value).replace(tzinfo=None) if value is not None else None


def _message(code):
    return _messages().get(code, _messages()["invalid"])


def _load(crisis_id):
    crisis = services.load(crisis_id)
    if crisis is None:
        abort(404)
    return crisis


# -- the case page's section ------------------------------------------------------------------------

@section("crisis", "crisis/_case_section.html", order=1)
def case_section(case, user, overrides):
    if not can(user, "case.view", case):
        return None
    crises = services.for_case(case)
    can_start = case.is_open and can(user, "crisis.start", case.student)
    if not crises and not can_start:
        return None
    return {"case": case, "crises": crises, "can_start": can_start}


# -- start ----------------------------------------------------------------------------------------------

_SUGGESTED = {"self_harm": "suicide_self_harm", "abuse": "abuse_neglect", "bullying": "bullying_violence",
              "family": "family_crisis"}


@bp.route("/students/<int:student_id>/crisis/new", methods=["GET", "POST"])
@login_required
def start(student_id):
    student = db.get_or_404(Student, student_id)
    require("crisis.start", student)
    form = StartForm()
    concern = services.concern_for_start(request.values.get("concern", type=int) or
                                         (int(form.concern_id.data) if (form.concern_id.data or "").isdigit() else None),
                                         student)
    if concern is not None and not can(current_user, "concern.read", concern):
        concern = None
    error = None
    if request.method == "GET":
        form.occurred_at.data = (to_user_timezone(concern.observed_at).replace(tzinfo=None, second=0, microsecond=0)
                                 if concern else _local_now())
        if concern is not None:
            form.concern_id.data = str(concern.id)
            form.crisis_type.data = next((_SUGGESTED[c] for c in concern.categories if c in _SUGGESTED), None)
    elif form.validate_on_submit():
        try:
            crisis = services.start_crisis(current_user, student, crisis_type=form.crisis_type.data,
                                           account=form.account.data, occurred_at=_utc(form.occurred_at.data),
                                           concern=concern)
        except services.CrisisError as exc:
            db.session.rollback()
            message = _message("already_open_case" if exc.code == "already_open" and exc.field is None else exc.code)
            error = place_error(form, exc.field, message)
            existing = exc.info.get("crisis")
            if existing is not None and can(current_user, "crisis.view", existing):
                return render("crisis/start.html", status=409, form=form, student=student, concern=concern,
                              error=error, existing=existing, emergency=current_app.config["EMERGENCY_NUMBERS"])
        else:
            db.session.commit()
            alerted = services.people({r.user_id for r in crisis.alert.recipients})
            flash(_("Crisis %(ref)s started. Alerted now: %(names)s.", ref=crisis.reference,
                    names=names(sorted(u.display_name for u in alerted.values()))), "success")
            return see_other("crisis.show", crisis_id=crisis.id)
    return render("crisis/start.html", status=422 if (form.errors or error) else 200, form=form, student=student,
                  concern=concern, error=error, existing=None, emergency=current_app.config["EMERGENCY_NUMBERS"])


# -- the crisis page ---------------------------------------------------------------------------------------

def _step_form(crisis, step, posted=None):
    if posted is not None:
        form = posted
    else:
        form = StepForm(formdata=None, prefix=step.code, version=step.version_id, occurred_at=_local_now())
    if step.code == "guardian":
        # Nobody preselected: the first in the list may be the very person who must not be told.
        form.guardian_id.choices = choices(
            [("", _("Choose…"))] + [(g.id, g.name + (" · " + _("Do not contact") if g.no_contact else ""))
                                   for g in crisis.case.student.guardians])
    return form


def crisis_page(crisis, status=200, step_forms=None, signoff_form=None, decide_form=None, error=None,
                follow_up_forms=None):
    preload_data_keys({crisis.case.data_key_id})
    step_forms, follow_up_forms = step_forms or {}, follow_up_forms or {}
    may_act = crisis.status == "open" and can(current_user, "crisis.act", crisis)
    reqs = protocol.requirements(crisis)
    steps = [{"step": s, "required": s.required, "waivable": reqs.get(s.code, (False, True))[1],
              "details": services.step_details(s),
              "form": _step_form(crisis, s, step_forms.get(s.code)) if may_act and not s.settled else None}
             for s in crisis.steps]
    if signoff_form is None and crisis.status == "open" and can(current_user, "crisis.request_signoff", crisis):
        signoff_form = SignoffRequestForm(formdata=None, version=crisis.version_id)
    if decide_form is None and crisis.status == "submitted" and crisis.submitted_by_id != current_user.id \
            and can(current_user, "crisis.signoff", crisis):
        decide_form = ReviewForm(formdata=None, version=crisis.version_id)
    now = clock.now()
    alert = crisis.alert
    ack = services.acknowledged_by(crisis)
    # Recorded against the case, so its "who read what" shows crisis reads too.
    audit.record("crisis.read", crisis.case, details={"crisis": crisis.id, "ref": crisis.reference})
    resp = render("crisis/page.html", "crisis/_crisis.html", status=status, crisis=crisis, case=crisis.case,
                  steps=steps, may_act=may_act, screens=services.screens_of(crisis),
                  plan=services.latest_plan(crisis), blockers=services.blockers(crisis),
                  signoff_form=signoff_form, decide_form=decide_form, thread=services.thread(crisis),
                  follow_up_form=lambda fu: follow_up_forms.get(fu.id) or FollowUpForm(
                      formdata=None, prefix=f"fu{fu.id}", version=fu.version_id),
                  is_missed=services.is_missed, held_late=services.held_late, now=now, alert=alert, acknowledged=ack,
                  people=services.people({r.user_id for r in alert.recipients} if alert else set()),
                  grace=services.grace(), describe_cadence=protocol.describe_cadence, error=error,
                  can_override=can(current_user, "family.override", crisis.case),
                  can_ack=alert is not None and any(r.user_id == current_user.id and r.acknowledged_at is None
                                                    for r in alert.recipients))
    db.session.commit()
    if error:
        toast(resp, error, "error")
    return resp


@bp.route("/crisis/<int:crisis_id>")
@login_required
def show(crisis_id):
    crisis = _load(crisis_id)
    require("crisis.view", crisis)
    return crisis_page(crisis)


def _not_open(crisis):
    flash(_message("awaiting_signoff" if crisis.status == "submitted" else "closed"), "error")
    return see_other("crisis.show", crisis_id=crisis.id)


def _done(message, crisis_id):
    """After a change: htmx gets the refreshed crisis fragment, a plain form a redirect."""
    db.session.commit()
    if is_htmx():
        return toast(crisis_page(_load(crisis_id)), message)
    flash(message, "success")
    return see_other("crisis.show", crisis_id=crisis_id)


@bp.route("/crisis/<int:crisis_id>/steps/<code>", methods=["POST"])
@login_required
def step(crisis_id, code):
    crisis = _load(crisis_id)
    require("crisis.act", crisis)
    the_step = services.step_of(crisis, code)
    if the_step is None:
        abort(404)
    form = _step_form(crisis, the_step, StepForm(prefix=code))
    action = request.form.get("action")
    error = None
    if form.validate_on_submit():
        details = {k: getattr(form, k).data for k in (
            "guardian_id", "method", "reached", "override_reason", "agency", "official", "reference", "service", "hospitalised",
            "return_on", "meeting_on", "release_signed", "plan_revisited", "supports_agreed", "checkins_set")}
        try:
            services.record_step(current_user, crisis, code, action, occurred_at=_utc(form.occurred_at.data),
                                 note=form.reason.data if action == "waive" else form.note.data,
                                 details=details, version=form.version.data)
        except services.CrisisError as exc:
            db.session.rollback()
            message = _message(exc.code)
            field = getattr(form, exc.field or "", None)
            if action == "waive" and exc.field == "note":  # the waive form's one field
                field = form.reason
                if exc.code == "required":
                    message = _("Say why this step is waived.")
            if exc.field == "checklist":
                field = form.release_signed
            error = place_error(form, field, message)
        except StaleDataError:
            db.session.rollback()
            error = _message("stale")
        else:
            reached = the_step.status == "pending"  # a guardian attempt leaves the step open
            return _done(_("Attempt logged; the step stays open until the guardian is reached.") if reached
                         else _("Step recorded."), crisis_id)
    crisis = _load(crisis_id)
    return crisis_page(crisis, status=409 if error == _message("stale") else 422,
                       step_forms={code: form}, error=error)


# -- risk screen ----------------------------------------------------------------------------------------

@bp.route("/crisis/<int:crisis_id>/screen", methods=["GET", "POST"])
@login_required
def screen(crisis_id):
    crisis = _load(crisis_id)
    require("crisis.act", crisis)
    if crisis.status != "open":
        return _not_open(crisis)
    form = ScreenForm()
    follow_up = _follow_up_of(crisis, request.values.get("follow_up", type=int) or
                              (int(form.follow_up_id.data) if (form.follow_up_id.data or "").isdigit() else None))
    if request.method == "GET" and follow_up is not None:
        form.follow_up_id.data = str(follow_up.id)
    error = None
    if request.method == "POST" and form.validate_on_submit():
        try:
            result = services.record_screen(current_user, crisis, {k: getattr(form, k).data for k in protocol.QUESTIONS},
                                            follow_up=follow_up)
        except services.CrisisError as exc:
            db.session.rollback()
            for name in exc.info.get("fields") or [exc.field]:
                field = getattr(form, name or "", None)
                if field is not None:
                    field.errors = list(field.errors) + [_message(exc.code)]
                else:
                    error = _message(exc.code)
        else:
            db.session.commit()
            flash(_("Screen recorded: %(level)s.", level=label("screen_level", result.level)),
                  "error" if result.level == "high" else "success")
            return see_other(f"/crisis/{crisis.id}#screen")
    return render("crisis/screen.html", status=422 if (form.errors or error) else 200, crisis=crisis,
                  case=crisis.case, form=form, error=error, since_last=follow_up is not None)


def _follow_up_of(crisis, follow_up_id):
    if not follow_up_id:
        return None
    return next((f for f in crisis.follow_ups if f.id == follow_up_id), None)


# -- safety plan ----------------------------------------------------------------------------------------

@bp.route("/crisis/<int:crisis_id>/safety-plan", methods=["GET", "POST"])
@login_required
def safety_plan(crisis_id):
    crisis = _load(crisis_id)
    require("crisis.act", crisis)
    if crisis.status != "open":
        return _not_open(crisis)
    preload_data_keys({crisis.case.data_key_id})
    form = SafetyPlanForm()
    current = services.latest_plan(crisis)
    error = None
    if request.method == "GET":
        content = services.plan_content(current)
        for key in protocol.SAFETY_PLAN_SECTIONS:
            getattr(form, key).data = content.get(key, "")
        if current is None:  # crisis lines first, so the student leaves with them
            form.professionals.data = "\n".join(f"{label_} {number}".strip() for number, label_ in
                                                current_app.config["EMERGENCY_NUMBERS"])
        form.based_on.data = str(current.version) if current else ""
    elif form.validate_on_submit():
        try:
            plan = services.save_safety_plan(current_user, crisis,
                                             {k: getattr(form, k).data for k in protocol.SAFETY_PLAN_SECTIONS},
                                             based_on=form.based_on.data or "")
        except services.CrisisError as exc:
            db.session.rollback()
            field = getattr(form, exc.field or "", None)
            if field is not None:
                field.errors = list(field.errors) + [_message(exc.code)]
            else:
                error = _message(exc.code)
        else:
            db.session.commit()
            flash(_("Safety plan version %(n)d saved.", n=plan.version), "success")
            return see_other(f"/crisis/{crisis.id}#safety-plan")
    return render("crisis/safety_plan_form.html", status=422 if (form.errors or error) else 200, crisis=crisis,
                  case=crisis.case, form=form, error=error, current=current,
                  sections=protocol.SAFETY_PLAN_SECTIONS)


@bp.route("/crisis/<int:crisis_id>/safety-plan/print")
@login_required
def safety_plan_print(crisis_id):
    crisis = _load(crisis_id)
    require("crisis.view", crisis)
    preload_data_keys({crisis.case.data_key_id})
    plan = services.latest_plan(crisis)
    if plan is None:
        abort(404)
    audit.record("crisis.safety_plan_printed", crisis.case,
                 details={"crisis": crisis.id, "ref": crisis.reference, "version": plan.version})
    resp = render("crisis/safety_plan_print.html", crisis=crisis, student=crisis.case.student, plan=plan,
                  content=services.plan_content(plan), sections=protocol.SAFETY_PLAN_SECTIONS,
                  emergency=current_app.config["EMERGENCY_NUMBERS"])
    db.session.commit()
    return resp


# -- follow-ups -----------------------------------------------------------------------------------------

@bp.route("/crisis/<int:crisis_id>/follow-ups/<int:follow_up_id>", methods=["POST"])
@login_required
def follow_up(crisis_id, follow_up_id):
    crisis = _load(crisis_id)
    require("crisis.act", crisis)
    fu = _follow_up_of(crisis, follow_up_id)
    if fu is None:
        abort(404)
    form = FollowUpForm(prefix=f"fu{fu.id}")
    action = request.form.get("action")
    error = None
    if form.validate_on_submit():
        try:
            services.record_follow_up(current_user, fu, action, form.note.data, version=form.version.data)
        except services.CrisisError as exc:
            db.session.rollback()
            error = _message(exc.code) if exc.field != "note" else (
                _("Say how the student is, and what was agreed.") if action == "done"
                else _("Say why this follow-up is not held."))
        except StaleDataError:
            db.session.rollback()
            error = _message("stale")
        else:
            return _done(_("Follow-up recorded."), crisis_id)
    # The message goes beside the follow-up's note, which keeps what was typed.
    form.note.errors = list(form.note.errors) + ([error] if error else [])
    return crisis_page(_load(crisis_id), status=422, follow_up_forms={follow_up_id: form})


# -- closing and sign-off -----------------------------------------------------------------------------

@bp.route("/crisis/<int:crisis_id>/signoff-request", methods=["POST"])
@login_required
def signoff_request(crisis_id):
    crisis = _load(crisis_id)
    require("crisis.request_signoff", crisis)
    form = SignoffRequestForm()
    error = None
    if form.validate_on_submit():
        try:
            services.request_signoff(current_user, crisis, form.summary.data, version=form.version.data)
        except services.CrisisError as exc:
            db.session.rollback()
            if exc.field == "summary":
                form.summary.errors = [_("Write a closing summary.")]
            else:
                error = _message(exc.code)
        except StaleDataError:
            db.session.rollback()
            error = _message("stale")
        else:
            return _done(_("Sent to your supervisor for sign-off."), crisis_id)
    return crisis_page(_load(crisis_id), status=422, signoff_form=form, error=error)


@bp.route("/crisis/<int:crisis_id>/signoff", methods=["POST"])
@login_required
def signoff(crisis_id):
    crisis = _load(crisis_id)
    require("crisis.signoff", crisis)
    form = ReviewForm()
    decision = request.form.get("decision")
    error = None
    if form.validate_on_submit():
        try:
            services.decide_signoff(current_user, crisis, decision, form.comment.data, version=form.version.data)
        except services.CrisisError as exc:
            db.session.rollback()
            if exc.field == "comment":
                form.comment.errors = [_("Write a comment when you return a crisis for more work.")]
            else:
                error = _message(exc.code)
        except StaleDataError:
            db.session.rollback()
            error = _message("already_handled")
        else:
            done = _("Crisis signed off and closed.") if decision == "approve" else _("Returned with your comments.")
            if request.form.get("from") == "queue":
                db.session.commit()
                if is_htmx():  # the queue item becomes its outcome, in place
                    return toast(render("casework/review.html", "casework/_queue_done.html",
                                        item=_load(crisis_id), kind="crisis"), done)
                flash(done, "success")
                return see_other("casework.review_queue", tab="crises")
            return _done(done, crisis_id)
    if request.form.get("from") == "queue" and is_htmx():
        message = error or (form.comment.errors[0] if form.comment.errors else _message("invalid"))
        crisis = _load(crisis_id)
        if crisis.status == "submitted":  # refused: the item again, in place, with what was typed
            return toast(_queue_item(crisis, form, message), message, "error")
        return toast(render("casework/review.html", "casework/_queue_done.html", status=409, item=crisis,
                            kind="crisis", error=message), message, "error")
    return crisis_page(_load(crisis_id), status=422, decide_form=form, error=error)


def _queue_item(crisis, form, error):
    preload_data_keys({crisis.case.data_key_id})
    resp = current_app.make_response((render_template(
        "crisis/_queue_item.html", c=crisis, now=clock.now(), error=error, form=lambda _c: form,
        is_missed=services.is_missed, held_late=services.held_late,
        describe_cadence=protocol.describe_cadence), 422))
    resp.vary.add("HX-Request")
    return resp


def queue_item_ctx():
    return {"is_missed": services.is_missed, "form": lambda c: ReviewForm(formdata=None, version=c.version_id)}
