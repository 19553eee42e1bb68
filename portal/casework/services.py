"""Rules of the work cycle and of review (批阅/批复). Flush, never commit; audit every change.

Who reviews: anyone above the author on the supervision line (the next person up is the usual
reviewer; a higher tier may act too). Nobody reviews their own record.
"""
import json
from datetime import date, datetime, time, timedelta

from flask_babel import format_date, gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from .. import audit, clock
from ..alerts import services as alerts
from ..cases import timeline
from ..crypto import new_uid
from ..extensions import db
from ..models import Assessment, Case, CasePlan, CaseStudy, Closure, Escalation, ReviewEntry, ServiceRecord, Student, User
from ..models.casework import ASSESSMENT_AREAS, CLOSURE_REASONS, GOALS_MET, RATINGS, SERVICE_KINDS
from ..permissions import line_below
from ..rules import RuleError, clean_text
from ..web import path_for

MAX_TEXT = 10000


class WorkError(RuleError):
    pass


def _text(value, field, required=True, limit=MAX_TEXT):
    return clean_text(value, field, required=required, limit=limit, error=WorkError)


def _entry(actor, owner, subject, action, comment=None, snapshot=None):
    """One step of `subject`'s review thread, encrypted under its owner's key: the record's case,
    or the group of a group session."""
    e = ReviewEntry(uid=new_uid(), subject_type=subject.__tablename__, subject_id=subject.id,
                    author=actor, action=action, created_at=clock.now())
    if isinstance(owner, Case):
        e.case = owner
    else:
        e.group = owner
    db.session.add(e)
    if comment:
        e.comment = comment
    if snapshot is not None:
        e.snapshot = json.dumps(snapshot, ensure_ascii=False, default=str)
    return e


def check_state(obj, status, version):
    """The record is still in `status` at the version the user saw, or someone else got there first."""
    if obj.status != status or (version not in (None, "") and str(version) != str(obj.version_id)):
        raise WorkError(None, "already_handled")


# -- service records ------------------------------------------------------------------------------

def _record_fields(case, occurred_on, duration, kind, participants, summary, progress):
    if occurred_on is None or occurred_on > clock.now().date():
        raise WorkError("occurred_on", "future")
    if occurred_on < case.opened_at.date() - timedelta(days=30):
        raise WorkError("occurred_on", "before_case")
    if duration is None or not 1 <= int(duration) <= 600:
        raise WorkError("duration", "duration")
    if kind not in SERVICE_KINDS:
        raise WorkError("kind", "invalid")
    return {"occurred_on": occurred_on, "duration": int(duration), "kind": kind,
            "participants": _text(participants, "participants", required=False, limit=500),
            "summary": _text(summary, "summary"), "progress": _text(progress, "progress", required=False)}


def _apply_record(rec, f):
    rec.occurred_on, rec.duration_minutes, rec.kind = f["occurred_on"], f["duration"], f["kind"]
    rec.participants, rec.summary, rec.progress = f["participants"] or None, f["summary"], f["progress"] or None


def add_service_record(actor, case, **fields):
    f = _record_fields(case, **fields)
    rec = ServiceRecord(uid=new_uid(), case=case, author=actor, status="submitted", revision=1,
                        submitted_at=clock.now())
    db.session.add(rec)
    _apply_record(rec, f)
    db.session.flush()
    _entry(actor, case, rec, "submitted", snapshot=f)
    timeline.add(case, "service_record", actor=actor, occurred_at=datetime.combine(f["occurred_on"], time(12)),
                 params={"kind": f["kind"], "minutes": f["duration"]}, ref=rec)
    audit.record("record.submitted", rec, actor=actor, details={"case_id": case.id})
    return rec


def submit_for_review(actor, owner, rec, snapshot=None):
    """A new record enters review: the first step of its thread (the queue finds it by status)."""
    return _entry(actor, owner, rec, "submitted", snapshot=snapshot)


def decide_review(actor, rec, owner, decision, comment, *, version=None) -> str:
    """Accept, or return with comments (the reply, 批复, the author answers by revising): the one
    review step of every service record, a case's or a group's. Returns the new status."""
    check_state(rec, "submitted", version)
    if rec.author_id == actor.id:
        raise WorkError(None, "own_record")
    if decision == "return":
        comment = _text(comment, "comment", limit=4000)
    elif decision == "accept":
        comment = _text(comment, "comment", required=False, limit=4000)
    else:
        raise WorkError("decision", "invalid")
    rec.status = "accepted" if decision == "accept" else "returned"
    _entry(actor, owner, rec, rec.status, comment=comment or None)
    return rec.status


def resubmit(actor, rec, owner, reply, snapshot):
    """A returned record, revised, goes back to the reviewer; the thread keeps what was resubmitted."""
    rec.status, rec.revision, rec.submitted_at = "submitted", rec.revision + 1, clock.now()
    _entry(actor, owner, rec, "revised", comment=_text(reply, "reply", required=False, limit=4000) or None,
           snapshot=snapshot)


def review_record(actor, rec, decision, comment, *, version=None):
    status = decide_review(actor, rec, rec.case, decision, comment, version=version)
    audit.record(f"record.{status}", rec, actor=actor)
    alerts.notify(rec.author, "record_reviewed", path_for("casework.record", case_id=rec.case_id, record_id=rec.id),
                  params={"status": status, "by": actor.display_name, "case": rec.case.reference})


def revise_record(actor, rec, reply, *, version=None, **fields):
    check_state(rec, "returned", version)
    f = _record_fields(rec.case, **fields)
    _apply_record(rec, f)
    resubmit(actor, rec, rec.case, reply, f)
    audit.record("record.revised", rec, actor=actor, details={"revision": rec.revision})


def thread(subject):
    return db.session.scalars(select(ReviewEntry).where(
        ReviewEntry.subject_type == subject.__tablename__, ReviewEntry.subject_id == subject.id)
        .options(joinedload(ReviewEntry.author)).order_by(ReviewEntry.created_at, ReviewEntry.id)).all()


# -- case plans -------------------------------------------------------------------------------------

def _plan_rows(goals, interventions, review_on):
    goals = [g for g in goals if (g.get("goal") or "").strip()]
    interventions = [i for i in interventions if (i.get("what") or "").strip()]
    if not goals:
        raise WorkError("goals", "one_goal")
    for g in goals:
        if not (g.get("measure") or "").strip():
            raise WorkError("goals", "measure")
        if not g.get("target") or g["target"] < clock.now().date():
            raise WorkError("goals", "target")
    if not interventions:
        raise WorkError("interventions", "one_intervention")
    if review_on is None or review_on < clock.now().date():
        raise WorkError("review_on", "past")
    clean = lambda d: {k: (v.isoformat() if isinstance(v, date) else (v or "").strip()) for k, v in d.items()}  # noqa: E731
    return [clean(g) for g in goals], [clean(i) for i in interventions]


def submit_plan(actor, case, *, goals, interventions, review_on):
    pending = db.session.scalar(select(CasePlan.id).where(CasePlan.case_id == case.id,
                                                          CasePlan.status == "submitted"))
    if pending:
        raise WorkError(None, "plan_pending")
    goals, interventions = _plan_rows(goals, interventions, review_on)
    for returned in db.session.scalars(select(CasePlan).where(CasePlan.case_id == case.id,
                                                              CasePlan.status == "returned")):
        returned.status = "superseded"  # answered by this new version
    number = (db.session.scalar(select(func.max(CasePlan.number)).where(CasePlan.case_id == case.id)) or 0) + 1
    plan = CasePlan(uid=new_uid(), case=case, number=number, author=actor, status="submitted",
                    submitted_at=clock.now(), review_on=review_on)
    db.session.add(plan)
    plan.goals = json.dumps(goals, ensure_ascii=False)
    plan.interventions = json.dumps(interventions, ensure_ascii=False)
    db.session.flush()
    _entry(actor, case, plan, "submitted")
    timeline.add(case, "plan_submitted", actor=actor, params={"number": number}, ref=plan)
    audit.record("plan.submitted", plan, actor=actor, details={"case_id": case.id, "number": number})
    return plan


def decide_plan(actor, plan, decision, comment, *, version=None):
    check_state(plan, "submitted", version)
    if plan.author_id == actor.id:
        raise WorkError(None, "own_record")
    if decision == "return":
        comment = _text(comment, "comment", limit=4000)
        plan.status = "returned"
    elif decision == "approve":
        comment = _text(comment, "comment", required=False, limit=4000)
        for old in db.session.scalars(select(CasePlan).where(CasePlan.case_id == plan.case_id,
                                                             CasePlan.status == "approved")):
            old.status = "superseded"
        plan.status, plan.approved_by, plan.approved_at = "approved", actor, clock.now()
    else:
        raise WorkError("decision", "invalid")
    _entry(actor, plan.case, plan, "approved" if decision == "approve" else "returned", comment=comment or None)
    timeline.add(plan.case, "plan_decided", actor=actor, params={"number": plan.number, "status": plan.status},
                 ref=plan)
    audit.record(f"plan.{plan.status}", plan, actor=actor)
    alerts.notify(plan.author, "plan_decided", path_for("casework.plan", case_id=plan.case_id, plan_id=plan.id),
                  params={"status": plan.status, "by": actor.display_name, "case": plan.case.reference})


def plan_json(plan):
    return json.loads(plan.goals), json.loads(plan.interventions)


# -- assessment ------------------------------------------------------------------------------------

def add_assessment(actor, case, *, assessed_on, overall_risk, ratings, narratives):
    from ..cases import services as case_services
    from ..models.cases import RISK_LEVELS
    if assessed_on is None or assessed_on > clock.now().date():
        raise WorkError("assessed_on", "future")
    if overall_risk not in RISK_LEVELS:
        raise WorkError("overall_risk", "invalid")
    clean = {}
    for area in ASSESSMENT_AREAS:
        value = ratings.get(area)
        if value in (None, ""):
            raise WorkError(area, "rating_required")
        if int(value) not in RATINGS:
            raise WorkError(area, "invalid")
        clean[area] = int(value)
    texts = {a: _text(narratives.get(a), a, required=False, limit=4000) for a in ASSESSMENT_AREAS}
    if not any(texts.values()):
        raise WorkError("family", "one_narrative")
    a = Assessment(uid=new_uid(), case=case, author=actor, assessed_on=assessed_on, overall_risk=overall_risk,
                   ratings=clean, created_at=clock.now())
    db.session.add(a)
    a.narratives = json.dumps(texts, ensure_ascii=False)
    db.session.flush()
    timeline.add(case, "assessment_recorded", actor=actor, ref=a,
                 occurred_at=datetime.combine(assessed_on, time(12)), params={"risk": overall_risk})
    audit.record("assessment.recorded", a, actor=actor, details={"case_id": case.id})
    if overall_risk != case.risk_level:  # the assessment's risk becomes the case's, with its reason
        case_services.change_risk(actor, case, overall_risk,
                                  _("Assessment of %(date)s", date=format_date(assessed_on, "medium")))
    return a


def latest_assessment(case):
    return db.session.scalar(select(Assessment).where(Assessment.case_id == case.id)
                             .options(joinedload(Assessment.author))
                             .order_by(Assessment.assessed_on.desc(), Assessment.id.desc()).limit(1))


# -- closure ------------------------------------------------------------------------------------------

def pending_closure(case):
    return db.session.scalar(select(Closure).where(Closure.case_id == case.id, Closure.status == "submitted"))


def _no_open_crisis(case):
    """A case cannot close over an open crisis: its follow-ups and sign-off would be orphaned."""
    from ..models import Crisis
    if db.session.scalar(select(Crisis.id).where(Crisis.case_id == case.id, Crisis.status != "closed").limit(1)):
        raise WorkError(None, "crisis_open")


def request_closure(actor, case, *, reason, goals_met, summary):
    if not case.is_open:
        raise WorkError(None, "already_handled")
    _no_open_crisis(case)
    if pending_closure(case) is not None:
        raise WorkError(None, "closure_pending")
    if reason not in CLOSURE_REASONS:
        raise WorkError("reason", "invalid")
    for returned in db.session.scalars(select(Closure).where(Closure.case_id == case.id,
                                                            Closure.status == "returned")):
        returned.status = "superseded"
    if goals_met not in GOALS_MET:
        raise WorkError("goals_met", "invalid")
    closure = Closure(uid=new_uid(), case=case, author=actor, reason=reason, goals_met=goals_met,
                      status="submitted", submitted_at=clock.now())
    db.session.add(closure)
    closure.summary = _text(summary, "summary")
    db.session.flush()
    _entry(actor, case, closure, "submitted")
    timeline.add(case, "closure_requested", actor=actor, ref=closure, params={"reason": reason})
    audit.record("closure.submitted", closure, actor=actor, details={"case_id": case.id})
    return closure


def decide_closure(actor, closure, decision, comment, *, version=None):
    check_state(closure, "submitted", version)
    if closure.author_id == actor.id:
        raise WorkError(None, "own_record")
    if decision == "return":
        comment = _text(comment, "comment", limit=4000)
        closure.status = "returned"
        timeline.add(closure.case, "closure_returned", actor=actor, ref=closure)
    elif decision == "approve":
        comment = _text(comment, "comment", required=False, limit=4000)
        _no_open_crisis(closure.case)
        closure.status = "approved"
        from ..cases import services as case_services
        case_services.close_case(closure.author, closure.case, approved_by=actor)
    else:
        raise WorkError("decision", "invalid")
    _entry(actor, closure.case, closure, "approved" if decision == "approve" else "returned", comment=comment or None)
    audit.record(f"closure.{closure.status}", closure, actor=actor)
    alerts.notify(closure.author, "closure_decided", path_for("cases.show", case_id=closure.case_id),
                  params={"status": closure.status, "by": actor.display_name, "case": closure.case.reference})


# -- escalation (上转) ----------------------------------------------------------------------------------

def open_escalation(case):
    return db.session.scalar(select(Escalation).where(Escalation.case_id == case.id, Escalation.status == "open"))


def escalate(actor, case, reason):
    """Send the case to the next person up the sender's line."""
    reason = _text(reason, "reason", limit=4000)
    if actor.supervisor is None or not actor.supervisor.active:
        raise WorkError(None, "no_one_above")
    if open_escalation(case) is not None:
        raise WorkError(None, "already_escalated")
    return _send_up(actor, case, actor.supervisor, reason)


def _send_up(actor, case, to_user, reason):
    case.escalation_level = (case.escalation_level or 0) + 1
    esc = Escalation(uid=new_uid(), case=case, from_user=actor, to_user=to_user, level=case.escalation_level,
                     status="open", created_at=clock.now())
    db.session.add(esc)
    esc.reason = reason
    db.session.flush()
    timeline.add(case, "escalated", actor=actor, ref=esc,
                 params={"to": to_user.display_name, "level": case.escalation_level}, detail=reason)
    audit.record("case.escalated", case, actor=actor, details={"to": to_user.id, "level": case.escalation_level})
    alerts.notify(to_user, "case_escalated", path_for("cases.show", case_id=case.id),
                  params={"case": case.reference, "by": actor.display_name})
    return esc


def respond(actor, esc, action, response, *, version=None):
    """advise (the case stays), take_over (the receiver becomes the assigned worker), forward."""
    if esc.status != "open" or (version not in (None, "") and str(version) != str(esc.version_id)):
        raise WorkError(None, "already_handled")
    response = _text(response, "response", required=action != "take_over", limit=4000)
    case = esc.case
    if action == "advise":
        esc.status = "advised"
    elif action == "take_over":
        from ..cases import services as case_services
        if actor.id != case.worker_id:
            former = case.worker
            case_services.assign_worker(actor, case, actor)
            try:  # the former worker stays on the team, for continuity with the student
                case_services.add_member(actor, case, former)
            except case_services.CaseError:
                pass
        esc.status = "taken_over"
    elif action == "forward":
        if actor.supervisor is None or not actor.supervisor.active:
            raise WorkError(None, "no_one_above")
        esc.status = "forwarded"
    else:
        raise WorkError("action", "invalid")
    esc.responded_at = clock.now()
    if response:
        esc.response = response
    timeline.add(case, "escalation_" + esc.status, actor=actor, ref=esc, detail=response or None,
                 params={"name": actor.display_name, "level": esc.level})
    audit.record("case.escalation_" + esc.status, case, actor=actor, details={"escalation": esc.id})
    alerts.notify(esc.from_user, "escalation_answered", path_for("cases.show", case_id=case.id),
                  params={"case": case.reference, "by": actor.display_name, "status": esc.status})
    if action == "forward":
        return _send_up(actor, case, actor.supervisor, response)
    return esc


def escalations_for(case):
    return db.session.scalars(select(Escalation).where(Escalation.case_id == case.id)
                              .options(joinedload(Escalation.from_user), joinedload(Escalation.to_user))
                              .order_by(Escalation.created_at)).all()


# -- the review queue ---------------------------------------------------------------------------------

def queue_statement(user, model, worker_id=None, school_id=None):
    below = line_below(user)
    stmt = (select(model).join(Case, Case.id == model.case_id)
            .where(model.status == "submitted", model.author_id.in_(below))
            .options(joinedload(model.author), joinedload(model.case).joinedload(Case.student).joinedload(Student.school)))
    if worker_id:
        stmt = stmt.where(model.author_id == worker_id)
    if school_id:
        stmt = stmt.where(Case.school_id == school_id)
    return stmt.order_by(model.submitted_at, model.id)


def escalation_queue_statement(user, worker_id=None, school_id=None):
    """Open escalations addressed to the user or to anyone below them (a higher tier may act)."""
    to = set(line_below(user)) | {user.id}
    stmt = (select(Escalation).join(Case, Case.id == Escalation.case_id)
            .where(Escalation.status == "open", Escalation.to_user_id.in_(to))
            .options(joinedload(Escalation.from_user), joinedload(Escalation.to_user),
                     joinedload(Escalation.case).joinedload(Case.student).joinedload(Student.school)))
    if worker_id:
        stmt = stmt.where(Escalation.from_user_id == worker_id)
    if school_id:
        stmt = stmt.where(Case.school_id == school_id)
    return stmt.order_by(Escalation.created_at, Escalation.id)


def queue_counts(user) -> dict:
    below = line_below(user)
    if not below:
        return {"plans": 0, "records": 0, "closures": 0, "escalations": 0, "crises": 0, "referrals": 0, "groups": 0,
                "studies": 0}
    from ..crisis.services import queue_count as crisis_count
    from ..groups.services import queue_count as group_count
    from ..referrals.services import queue_count as referral_count
    count = lambda m: db.session.scalar(select(func.count()).select_from(m).where(  # noqa: E731
        m.status == "submitted", m.author_id.in_(below)))
    escalations = db.session.scalar(select(func.count()).select_from(Escalation).where(
        Escalation.status == "open", Escalation.to_user_id.in_(set(below) | {user.id})))
    return {"plans": count(CasePlan), "records": count(ServiceRecord), "closures": count(Closure),
            "escalations": escalations, "crises": crisis_count(user), "referrals": referral_count(user),
            "groups": group_count(user), "studies": count(CaseStudy)}


def line_people(user):
    return db.session.scalars(select(User).where(User.id.in_(line_below(user))).order_by(User.display_name)).all()


# -- timeline summaries ------------------------------------------------------------------------------

from flask_babel import lazy_gettext as _l  # noqa: E402

from ..i18n import label  # noqa: E402


@timeline.summary("service_record")
def _record_summary(p):
    return _l("Service record: %(kind)s, %(minutes)s minutes", kind=label("service_kind", p.get("kind")),
              minutes=p.get("minutes", ""))


@timeline.summary("plan_submitted")
def _plan_submitted(p):
    return _l("Case plan version %(n)s submitted for approval", n=p.get("number", ""))


@timeline.summary("plan_decided")
def _plan_decided(p):
    if p.get("status") == "approved":
        return _l("Case plan version %(n)s approved", n=p.get("number", ""))
    return _l("Case plan version %(n)s returned with comments", n=p.get("number", ""))


@timeline.summary("escalated")
def _escalated(p):
    return _l("Case escalated to %(to)s (level %(level)s)", to=p.get("to", ""), level=p.get("level", ""))


@timeline.summary("escalation_advised")
def _esc_advised(p):
    return _l("%(name)s advised on the escalated case", name=p.get("name", ""))


@timeline.summary("escalation_taken_over")
def _esc_taken(p):
    return _l("%(name)s took the case over", name=p.get("name", ""))


@timeline.summary("escalation_forwarded")
def _esc_forwarded(p):
    return _l("%(name)s sent the case further up", name=p.get("name", ""))


@timeline.summary("closure_requested")
def _closure_requested(p):
    return _l("Closure requested: %(reason)s", reason=label("closure_reason", p.get("reason")))


@timeline.summary("closure_returned")
def _closure_returned(p):
    return _l("Closure returned with comments")


@timeline.summary("assessment_recorded")
def _assessment(p):
    return _l("Assessment recorded (overall risk: %(risk)s)", risk=label("risk", p.get("risk")))


# -- my day ---------------------------------------------------------------------------------------------

def my_day(user, horizon_days=7):
    """What is due for a worker: plan reviews due or overdue, records and requests returned to them."""
    from ..i18n import local_today
    today = local_today()  # the school's day, not UTC's
    plans_due = db.session.scalars(
        select(CasePlan).join(Case, Case.id == CasePlan.case_id)
        .where(CasePlan.status == "approved", Case.worker_id == user.id, Case.status != "closed",
               CasePlan.review_on <= today + timedelta(days=horizon_days))
        .options(joinedload(CasePlan.case).joinedload(Case.student)).order_by(CasePlan.review_on)).all()
    returned = {}
    for model in (ServiceRecord, CasePlan, Closure, CaseStudy):
        returned[model.__tablename__] = db.session.scalars(
            select(model).where(model.author_id == user.id, model.status == "returned")
            .options(joinedload(model.case).joinedload(Case.student)).order_by(model.submitted_at)).all()
    no_plan = db.session.scalars(
        select(Case).where(Case.worker_id == user.id, Case.status.in_(("planning", "active")),
                           ~select(CasePlan.id).where(CasePlan.case_id == Case.id,
                                                      CasePlan.status.in_(("approved", "submitted"))).exists())
        .options(joinedload(Case.student)).order_by(Case.opened_at)).all()
    return {"today": today, "plans_due": plans_due, "returned": returned, "no_plan": no_plan}
