from flask import abort, current_app, flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from ..cases.sections import section
from ..cases.views import load_case
from ..crypto import preload_data_keys
from ..formkit import place_error
from ..extensions import db
from ..models import Assessment, CasePlan, CaseStudy, Closure, Escalation, School, ServiceRecord
from ..models.casework import ASSESSMENT_AREAS
from ..permissions import can, require, school_ids
from ..web import is_htmx, render, see_other, toast
from . import bp, services
from .forms import assessment_form_class, ClosureForm, EscalateForm, PlanForm, RecordForm, ReopenForm, RespondForm, ReviewForm, ReviseForm


def _messages():
    return {
        "required": _("This field is required."),
        "too_long": _("This text is too long."),
        "future": _("This date is in the future."),
        "before_case": _("This date is long before the case was opened."),
        "duration": _("Between 1 and 600 minutes."),
        "invalid": _("Choose one of the listed values."),
        "already_handled": _("Someone else has already handled this, or it changed since you opened it."),
        "own_record": _("You cannot review your own record; it goes to your supervisor."),
        "one_goal": _("Write at least one goal."),
        "measure": _("Each goal needs a way to know it was met."),
        "target": _("Each goal needs a target date that is not in the past."),
        "one_intervention": _("Write at least one intervention."),
        "past": _("Choose a date that is not in the past."),
        "plan_pending": _("A plan for this case is already waiting for approval."),
        "rating_required": _("Rate this area."),
        "one_narrative": _("Write a note for at least one area."),
        "closure_pending": _("A closure request for this case is already waiting for approval."),
        "already_open": _("This student already has another open case."),
        "crisis_open": _("A crisis on this case is still open: it needs its follow-ups and sign-off before the case can close."),
        "illegal_transition": _("That is not possible in the case's current state."),
        "no_one_above": _("There is nobody above you on the supervision line to send this case to."),
        "already_escalated": _("This case is already waiting for an answer from higher up the line."),
        "worker_not_eligible": _("You are not a case worker of this student's school, so you cannot take the case over."),
    }


def _fail(form, exc):
    db.session.rollback()
    return place_error(form, exc.field, _messages().get(exc.code, _messages()["invalid"]))


# -- case page sections -----------------------------------------------------------------------------

AssessmentForm = assessment_form_class()


@section("assessment", "casework/_assessment_section.html", order=2)
def assessment_section(case, user, overrides):
    if not can(user, "case.view", case):
        return None
    return {"case": case, "latest": services.latest_assessment(case), "areas": ASSESSMENT_AREAS,
            "can_write": can(user, "assessment.create", case)}


@bp.route("/cases/<int:case_id>/assessments/new", methods=["GET", "POST"])
@login_required
def assessment_new(case_id):
    case = load_case(case_id)
    require("assessment.create", case)
    form = AssessmentForm()
    error = None
    if request.method == "GET":
        from .. import clock
        form.assessed_on.data, form.overall_risk.data = clock.now().date(), case.risk_level
    elif form.validate_on_submit():
        try:
            a = services.add_assessment(
                current_user, case, assessed_on=form.assessed_on.data, overall_risk=form.overall_risk.data,
                ratings={area: getattr(form, f"rating_{area}").data for area in ASSESSMENT_AREAS},
                narratives={area: getattr(form, f"narrative_{area}").data for area in ASSESSMENT_AREAS})
        except services.WorkError as exc:
            db.session.rollback()
            field = getattr(form, f"narrative_{exc.field}", None) if exc.code == "one_narrative" else \
                getattr(form, f"rating_{exc.field}", None) or getattr(form, exc.field or "", None)
            error = place_error(form, field, _messages().get(exc.code, _messages()["invalid"]))
        else:
            db.session.commit()
            flash(_("Assessment saved."), "success")
            return see_other("casework.assessment", case_id=case.id, assessment_id=a.id)
    return render("casework/assessment_form.html", status=422 if (form.errors or error) else 200,
                  case=case, form=form, areas=ASSESSMENT_AREAS, error=error)


@bp.route("/cases/<int:case_id>/assessments/<int:assessment_id>")
@login_required
def assessment(case_id, assessment_id):
    case = load_case(case_id)
    require("case.view", case)
    a = db.session.scalar(select(Assessment).where(Assessment.id == assessment_id, Assessment.case_id == case.id)
                          .options(joinedload(Assessment.author)))
    if a is None:
        abort(404)
    import json
    from .. import audit
    audit.record("assessment.read", case, details={"assessment": a.id})
    resp = render("casework/assessment.html", case=case, assessment=a, areas=ASSESSMENT_AREAS,
                  narratives=json.loads(a.narratives))
    db.session.commit()
    return resp


@section("plan", "casework/_plan_section.html", order=3)
def plan_section(case, user, overrides):
    if not can(user, "case.view", case):
        return None
    plans = db.session.scalars(select(CasePlan).where(CasePlan.case_id == case.id)
                               .options(joinedload(CasePlan.author), joinedload(CasePlan.approved_by))
                               .order_by(CasePlan.number.desc())).all()
    in_force = next((p for p in plans if p.status == "approved"), None)
    pending = next((p for p in plans if p.status in ("submitted", "returned")), None)
    goals = services.plan_json(in_force) if in_force else None
    return {"case": case, "in_force": in_force, "pending": pending, "goals": goals,
            "can_submit": can(user, "plan.submit", case) and case.is_open}


@section("records", "casework/_records_section.html", order=15)
def records_section(case, user, overrides):
    if not can(user, "case.view", case):
        return None
    records = db.session.scalars(select(ServiceRecord).where(ServiceRecord.case_id == case.id)
                                 .options(joinedload(ServiceRecord.author))
                                 .order_by(ServiceRecord.occurred_on.desc(), ServiceRecord.id.desc()).limit(50)).all()
    return {"case": case, "records": records, "can_write": can(user, "record.create", case) and case.is_open}


@section("escalations", "casework/_escalations_section.html", order=25)
def escalations_section(case, user, overrides):
    if not can(user, "case.view", case):
        return None
    history = services.escalations_for(case)
    current = next((e for e in history if e.status == "open"), None)
    return {"case": case, "history": history, "current": current,
            "escalate_form": overrides.get("form") or (EscalateForm(formdata=None)
                                                        if can(user, "case.escalate", case) and not current
                                                        and user.supervisor_id else None),
            "respond_form": RespondForm(formdata=None, version=current.version_id)
            if current and can(user, "escalation.respond", current) else None}


@section("closure", "casework/_closure_section.html", order=27)
def closure_section(case, user, overrides):
    if not can(user, "case.view", case):
        return None
    pending = services.pending_closure(case) if case.is_open else None
    ctx = {"case": case, "pending": pending, "thread": services.thread(pending) if pending else [],
           "request_form": None, "decide_form": None, "reopen_form": None}
    if case.is_open and not pending and can(user, "case.request_closure", case):
        ctx["request_form"] = overrides.get("form") or ClosureForm(formdata=None)
    if pending and can(user, "closure.decide", pending):
        ctx["decide_form"] = ReviewForm(formdata=None, version=pending.version_id)
    if not case.is_open and can(user, "case.reopen", case):
        ctx["reopen_form"] = overrides.get("reopen") or ReopenForm(formdata=None, version=case.version_id)
    if not ctx["request_form"] and not pending and not ctx["reopen_form"]:
        return None
    return ctx


def _case_section_post(case, form, section, apply, done, anchor):
    """A form posted from a section of the case page: on success back to that section; a rule's
    refusal as a flash; invalid input re-renders the case page with the form and its errors."""
    if form.validate_on_submit():
        try:
            apply()
            db.session.commit()
        except services.WorkError as exc:
            message = _fail(form, exc)
            if message:
                flash(message, "error")
                return see_other("cases.show", case_id=case.id)
        else:
            flash(done(), "success")
            return see_other(f"/cases/{case.id}#{anchor}")
    from ..cases.views import case_page
    return case_page(case, status=422, section_overrides={section: {"form": form}})


@bp.route("/cases/<int:case_id>/closure", methods=["POST"])
@login_required
def closure_request(case_id):
    case = load_case(case_id)
    require("case.request_closure", case)
    form = ClosureForm()
    return _case_section_post(
        case, form, "closure",
        lambda: services.request_closure(current_user, case, reason=form.reason.data,
                                         goals_met=form.goals_met.data, summary=form.summary.data),
        lambda: _("Closure sent to your supervisor for approval."), "closure")


@bp.route("/closures/<int:closure_id>/decide", methods=["POST"])
@login_required
def closure_decide(closure_id):
    closure = db.session.get(Closure, closure_id)
    if closure is None:
        abort(404)
    require("closure.decide", closure)
    return _decide("closure", closure, lambda: db.session.get(Closure, closure_id), services.decide_closure,
                   {"approve": _("Case closed."), "return": _("Closure returned with your comments.")},
                   _("Write a comment when you return a closure."), f"/cases/{closure.case_id}#closure")


def _decide(kind, item, reload, decide, done, missing_comment, back, page=None):
    """Accept/approve or return a reviewable item: the same steps for records, plans and closures.

    reload() fetches the item again after a rollback; `back` is where a plain form goes after a
    decision; page(item, form, status, error) re-renders the item's own page with the form's errors
    (without one, the error is flashed on `back`). From the queue, htmx gets the item's new line."""
    form = ReviewForm()
    decision = request.form.get("decision")
    from_queue = request.form.get("from") == "queue"
    error = None
    if form.validate_on_submit():
        try:
            decide(current_user, item, decision, form.comment.data, version=form.version.data)
            db.session.commit()
        except services.WorkError as exc:
            db.session.rollback()
            error = missing_comment if exc.field == "comment" else _messages().get(exc.code, _messages()["invalid"])
        except StaleDataError:
            db.session.rollback()
            error = _messages()["already_handled"]
        else:
            message = done.get(decision, "")
            if is_htmx() and from_queue:
                return toast(render("casework/review.html", "casework/_queue_done.html", item=reload(),
                                    kind=kind), message)
            flash(message, "success")
            return see_other("casework.review_queue" if from_queue else back)
    error = error or missing_comment
    status = 409 if error == _messages()["already_handled"] else 422
    item = reload()
    if is_htmx() and from_queue:
        if status == 422:
            return toast(queue_item(kind, item, form, error), error, "error")
        return toast(render("casework/review.html", "casework/_queue_done.html", status=status, item=item,
                            kind=kind, error=error), error, "error")
    if page is None:
        flash(error, "error")
        return see_other(back)
    if error == missing_comment:
        form.comment.errors = [error]
        error = None
    return page(item, form, status, error)


@bp.route("/cases/<int:case_id>/reopen", methods=["POST"])
@login_required
def reopen(case_id):
    from ..cases import services as case_services
    case = load_case(case_id)
    require("case.reopen", case)
    form = ReopenForm()
    if form.validate_on_submit():
        try:
            case_services.reopen_case(current_user, case, form.reason.data, version=form.version.data)
            db.session.commit()
        except case_services.CaseError as exc:
            db.session.rollback()
            flash(_messages().get(exc.code) or _messages()["already_handled"], "error")
            return see_other("cases.show", case_id=case.id)
        flash(_("Case reopened."), "success")
        return see_other("cases.show", case_id=case.id)
    from ..cases.views import case_page
    return case_page(case, status=422, section_overrides={"closure": {"reopen": form}})


@bp.route("/cases/<int:case_id>/escalate", methods=["POST"])
@login_required
def escalate(case_id):
    case = load_case(case_id)
    require("case.escalate", case)
    form = EscalateForm()
    return _case_section_post(
        case, form, "escalations", lambda: services.escalate(current_user, case, form.reason.data),
        lambda: _("The case was sent up the line to %(name)s.", name=current_user.supervisor.display_name),
        "escalations")


@bp.route("/escalations/<int:escalation_id>/respond", methods=["POST"])
@login_required
def escalation_respond(escalation_id):
    esc = db.session.get(Escalation, escalation_id)
    if esc is None:
        abort(404)
    require("escalation.respond", esc)
    form = RespondForm()
    action = request.form.get("action")
    error = None
    if form.validate_on_submit():
        from ..cases import services as case_services
        try:
            services.respond(current_user, esc, action, form.response.data, version=form.version.data)
            db.session.commit()
        except (services.WorkError, case_services.CaseError) as exc:
            db.session.rollback()
            error = _messages().get(exc.code) or _messages()["required"]
            if exc.code == "required":
                error = _("Write your advice, or why you send it further up.")
        except StaleDataError:
            db.session.rollback()
            error = _messages()["already_handled"]
        else:
            done = {"advise": _("Advice sent."), "take_over": _("You now hold the case."),
                    "forward": _("The case was sent further up the line.")}.get(action, "")
            if is_htmx() and request.form.get("from") == "queue":
                esc = db.session.get(Escalation, escalation_id)
                return toast(render("casework/review.html", "casework/_queue_done.html", item=esc,
                                    kind="escalation"), done)
            flash(done, "success")
            return see_other(f"/cases/{esc.case_id}#escalations")
    if is_htmx() and request.form.get("from") == "queue":
        esc = db.session.get(Escalation, escalation_id)
        error = error or _messages()["required"]
        if esc.status == "open":  # refused: the item again, with what was typed
            return toast(queue_item("escalation", esc, form, error), error, "error")
        return toast(render("casework/review.html", "casework/_queue_done.html", status=409, item=esc,
                            kind="escalation", error=error), error, "error")
    flash(error or _messages()["required"], "error")
    return see_other(f"/cases/{esc.case_id}#escalations")


def queue_item(kind, item, form, error, status=422):
    """A decision refused from the review queue (a missing comment, say): the item again, in
    place, with what the reviewer typed and the reason beside it."""
    from .. import clock
    tab = {"record": "records", "plan": "plans", "closure": "closures", "escalation": "escalations",
           "study": "studies"}[kind]
    preload_data_keys({item.case.data_key_id, getattr(item, "data_key_id", None)})
    resp = current_app.make_response((render_template(
        "casework/_queue_item.html", item=item, tab=tab, now=clock.now(), error=error,
        goals=lambda plan: services.plan_json(plan)[0], form=lambda _item: form), status))
    resp.vary.add("HX-Request")
    return resp


# -- service records --------------------------------------------------------------------------------

def _record_data(form):
    return {"occurred_on": form.occurred_on.data, "duration": form.duration.data, "kind": form.kind.data,
            "participants": form.participants.data, "summary": form.summary.data, "progress": form.progress.data}


@bp.route("/cases/<int:case_id>/records/new", methods=["GET", "POST"])
@login_required
def record_new(case_id):
    case = load_case(case_id)
    require("record.create", case)
    form = RecordForm()
    error = None
    if request.method == "GET":
        from .. import clock
        form.occurred_on.data = clock.now().date()
    elif form.validate_on_submit():
        try:
            rec = services.add_service_record(current_user, case, **_record_data(form))
        except services.WorkError as exc:
            error = _fail(form, exc)
        else:
            db.session.commit()
            flash(_("Service record saved and sent for review."), "success")
            return see_other("casework.record", case_id=case.id, record_id=rec.id)
    return render("casework/record_form.html", status=422 if (form.errors or error) else 200,
                  case=case, form=form, error=error, record=None)


def _load_record(case, record_id) -> ServiceRecord:
    rec = db.session.scalar(select(ServiceRecord).where(ServiceRecord.id == record_id,
                                                        ServiceRecord.case_id == case.id)
                            .options(joinedload(ServiceRecord.author)))
    if rec is None:
        abort(404)
    return rec


def _record_page(case, rec, status=200, review_form=None, revise_form=None, error=None):
    preload_data_keys({case.data_key_id})
    if revise_form is None and rec.status == "returned" and can(current_user, "record.revise", rec):
        revise_form = ReviseForm(formdata=None, obj=rec, duration=rec.duration_minutes,
                                 summary=rec.summary, progress=rec.progress, participants=rec.participants,
                                 version=rec.version_id)
    if review_form is None and rec.status == "submitted" and can(current_user, "record.review", rec):
        review_form = ReviewForm(formdata=None, version=rec.version_id)
    from .. import audit
    audit.record("record.read", case, details={"record": rec.id})
    resp = render("casework/record.html", "casework/_record.html", status=status, case=case, record=rec,
                  thread=services.thread(rec), review_form=review_form, revise_form=revise_form, error=error)
    db.session.commit()
    return resp


@bp.route("/cases/<int:case_id>/records/<int:record_id>")
@login_required
def record(case_id, record_id):
    case = load_case(case_id)
    rec = _load_record(case, record_id)
    require("record.read", rec)
    return _record_page(case, rec)


@bp.route("/cases/<int:case_id>/records/<int:record_id>/review", methods=["POST"])
@login_required
def record_review(case_id, record_id):
    case = load_case(case_id)
    rec = _load_record(case, record_id)
    require("record.review", rec)
    return _decide("record", rec, lambda: _load_record(case, record_id), services.review_record,
                   {"accept": _("Record accepted."), "return": _("Record returned with your comments.")},
                   _("Write a comment when you return a record."),
                   url_for("casework.record", case_id=case.id, record_id=rec.id),
                   lambda item, form, status, error: _record_page(case, item, status=status, review_form=form,
                                                                  error=error))


@bp.route("/cases/<int:case_id>/records/<int:record_id>/revise", methods=["POST"])
@login_required
def record_revise(case_id, record_id):
    case = load_case(case_id)
    rec = _load_record(case, record_id)
    require("record.revise", rec)
    form = ReviseForm()
    error = None
    if form.validate_on_submit():
        try:
            services.revise_record(current_user, rec, form.reply.data, version=form.version.data, **_record_data(form))
            db.session.commit()
        except services.WorkError as exc:
            error = _fail(form, exc)
        except StaleDataError:
            db.session.rollback()
            error = _messages()["already_handled"]
        else:
            flash(_("Revision sent for review."), "success")
            return see_other("casework.record", case_id=case.id, record_id=rec.id)
    return _record_page(case, _load_record(case, record_id), status=422, revise_form=form, error=error)


# -- case plans ---------------------------------------------------------------------------------------

@bp.route("/cases/<int:case_id>/plans/new", methods=["GET", "POST"])
@login_required
def plan_new(case_id):
    case = load_case(case_id)
    require("plan.submit", case)
    form = PlanForm()
    error = None
    if request.method == "GET":
        current = db.session.scalar(select(CasePlan).where(CasePlan.case_id == case.id,
                                                           CasePlan.status.in_(("approved", "returned")))
                                    .order_by(CasePlan.number.desc()))
        if current is not None:  # a new version starts from the latest one
            from datetime import date as _date
            preload_data_keys({case.data_key_id})
            goals, interventions = services.plan_json(current)
            for i, g in enumerate(goals[:8]):
                if i >= len(form.goals):
                    form.goals.append_entry()
                form.goals[i].goal.data, form.goals[i].measure.data = g["goal"], g["measure"]
                form.goals[i].target.data = _date.fromisoformat(g["target"]) if g.get("target") else None
            for i, it in enumerate(interventions[:8]):
                if i >= len(form.interventions):
                    form.interventions.append_entry()
                f = form.interventions[i]
                f.what.data, f.who.data, f.how_often.data = it["what"], it["who"], it["how_often"]
    elif form.validate_on_submit():
        try:
            plan = services.submit_plan(current_user, case, goals=form.goals.data,
                                        interventions=form.interventions.data, review_on=form.review_on.data)
        except services.WorkError as exc:
            error = _fail(form, exc) if exc.field not in ("goals", "interventions") else \
                _messages().get(exc.code)
            db.session.rollback()
        else:
            db.session.commit()
            flash(_("Case plan sent for approval."), "success")
            return see_other("casework.plan", case_id=case.id, plan_id=plan.id)
    return render("casework/plan_form.html", status=422 if (form.errors or error) else 200,
                  case=case, form=form, error=error)


def _load_plan(case, plan_id) -> CasePlan:
    plan = db.session.scalar(select(CasePlan).where(CasePlan.id == plan_id, CasePlan.case_id == case.id)
                             .options(joinedload(CasePlan.author)))
    if plan is None:
        abort(404)
    return plan


@bp.route("/cases/<int:case_id>/plans/<int:plan_id>")
@login_required
def plan(case_id, plan_id):
    case = load_case(case_id)
    require("case.view", case)
    p = _load_plan(case, plan_id)
    return _plan_page(case, p)


def _plan_page(case, p, status=200, form=None, error=None):
    preload_data_keys({case.data_key_id})
    goals, interventions = services.plan_json(p)
    if form is None and p.status == "submitted" and can(current_user, "plan.decide", p):
        form = ReviewForm(formdata=None, version=p.version_id)
    resp = render("casework/plan.html", status=status, case=case, plan=p, goals=goals,
                  interventions=interventions, thread=services.thread(p), form=form, error=error)
    return resp


@bp.route("/cases/<int:case_id>/plans/<int:plan_id>/decide", methods=["POST"])
@login_required
def plan_decide(case_id, plan_id):
    case = load_case(case_id)
    p = _load_plan(case, plan_id)
    require("plan.decide", p)
    return _decide("plan", p, lambda: _load_plan(case, plan_id), services.decide_plan,
                   {"approve": _("Plan approved."), "return": _("Plan returned with your comments.")},
                   _("Write a comment when you return a plan."),
                   url_for("casework.plan", case_id=case.id, plan_id=p.id),
                   lambda item, form, status, error: _plan_page(case, item, status=status, form=form, error=error))


# -- my day -----------------------------------------------------------------------------------------------

@bp.route("/my-day")
@login_required
def my_day():
    require("case.list")
    from .. import clock
    from ..concerns.services import new_concern_count
    from ..crisis import protocol, services as crisis_services
    from ..family import services as family_services
    from ..groups import services as group_services
    from ..prevention import services as prevention_services
    from ..referrals import services as referral_services
    from ..supervision import growth, performance, sessions as supervision
    ctx = services.my_day(current_user)
    actions = supervision.my_actions(current_user)
    preload_data_keys({a.session.data_key_id for a in actions} | {a.case.data_key_id for a in actions if a.case})
    return render("casework/my_day.html", **ctx, new_concerns=new_concern_count(current_user),
                  actions=actions, growth_due=growth.reviews_due(current_user),
                  reviews_waiting=performance.waiting_for_comments(current_user),
                  follow_ups=crisis_services.my_follow_ups(current_user),
                  open_crises=crisis_services.my_open_crises(current_user), blockers=crisis_services.blockers,
                  is_missed=crisis_services.is_missed, now=clock.now(), describe_cadence=protocol.describe_cadence,
                  family_follow_ups=family_services.follow_ups_due(current_user),
                  stale_referrals=referral_services.my_stale(current_user),
                  visits=family_services.my_visits(current_user),
                  my_groups=group_services.my_groups(current_user),
                  returned_sessions=group_services.returned_to(current_user),
                  my_activities=prevention_services.my_activities(current_user),
                  queue=services.queue_counts(current_user) if can(current_user, "review.queue") else None)


# -- the review queue --------------------------------------------------------------------------------------

@bp.route("/review")
@login_required
def review_queue():
    require("review.queue")
    tabs = ("crises", "records", "groups", "plans", "closures", "escalations", "referrals", "studies")
    counts = services.queue_counts(current_user)
    # Crises come first when there are any: they cannot wait behind paperwork.
    tab = request.args.get("tab") if request.args.get("tab") in tabs else ("crises" if counts["crises"] else "records")
    worker_id = request.args.get("worker", type=int)
    school_id = request.args.get("school", type=int)
    people = services.line_people(current_user)
    if worker_id not in {p.id for p in people}:
        worker_id = None
    if school_id not in school_ids(current_user):
        school_id = None
    if tab == "crises":
        from ..crisis import services as crisis_services
        stmt = crisis_services.queue_statement(current_user, worker_id, school_id)
    elif tab == "referrals":
        from ..referrals import services as referral_services
        stmt = referral_services.queue_statement(current_user, worker_id, school_id)
    elif tab == "groups":
        from ..groups import services as group_services
        stmt = group_services.queue_statement(current_user, worker_id, school_id)
    elif tab == "escalations":
        stmt = services.escalation_queue_statement(current_user, worker_id, school_id)
    else:
        model = {"records": ServiceRecord, "plans": CasePlan, "closures": Closure, "studies": CaseStudy}[tab]
        stmt = services.queue_statement(current_user, model, worker_id, school_id)
    page = db.paginate(stmt, page=request.args.get("page", 1, type=int), per_page=current_app.config["PAGE_SIZE"],
                       error_out=False)
    preload_data_keys({(i.group if tab == "groups" else i.case).data_key_id for i in page.items}
                      | {getattr(i, "data_key_id", None) for i in page.items})
    schools = db.session.scalars(select(School).where(School.id.in_(school_ids(current_user)))
                                 .order_by(School.name)).all()
    from .. import clock
    extra = {}
    if tab == "crises":
        from ..crisis import protocol
        from ..crisis.services import grace, held_late, is_missed
        extra = {"is_missed": is_missed, "held_late": held_late, "grace": grace(),
                 "describe_cadence": protocol.describe_cadence}
    queue_template = {"crises": "crisis/_queue.html", "referrals": "referrals/_queue.html",
                      "groups": "groups/_queue.html"}.get(
        tab, "casework/_queue.html")
    return render("casework/review.html", queue_template, tab=tab, page=page, queue_template=queue_template,
                  counts=counts, people=people, schools=schools,
                  worker_id=worker_id, school_id=school_id, now=clock.now(),
                  goals=lambda plan: services.plan_json(plan)[0],
                  form=lambda item: (RespondForm if tab == "escalations" else ReviewForm)(
                      formdata=None, version=item.version_id), **extra)
