"""Crisis rules: starting one (and who is alerted), recording protocol steps, risk screens, safety
plans, follow-ups, and the supervisor's sign-off. Flush, never commit; audit every change.
"""
import json
from datetime import date, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from .. import audit, clock
from ..alerts import services as alerts
from ..cases import services as case_services, timeline
from ..casework.services import _entry as review_entry, thread  # noqa: F401  (one review thread)
from ..crypto import new_uid
from ..extensions import db
from ..i18n import label
from ..models import Alert, AlertRecipient, Case, Concern, Crisis, CrisisStep, FollowUp, Guardian, RiskScreen, SafetyPlan, Student, User
from ..models.crisis import CRISIS_TYPES, SCREEN_LEVELS as SCREEN_ORDER
from ..permissions import line_below
from ..rules import RuleError, clean_text
from ..web import path_for
from . import protocol

MAX_TEXT = 10000
EMERGENCY_SERVICES = ("police", "ambulance", "hospital", "crisis_team", "other")
CONTACT_METHODS = ("phone", "in_person", "video", "message")


class CrisisError(RuleError):
    pass


def _text(value, field, required=True, limit=MAX_TEXT):
    return clean_text(value, field, required=required, limit=limit, error=CrisisError)


def _when(value, field, not_before=None, early="too_early"):
    now = clock.now()
    if value is None:
        raise CrisisError(field, "required")
    if value > now + timedelta(minutes=5):
        raise CrisisError(field, "future")
    if not_before is not None and value < not_before:
        raise CrisisError(field, early)
    return value


def _check(obj, version):
    if version not in (None, "") and str(version) != str(obj.version_id):
        raise CrisisError(None, "stale")


# -- starting -------------------------------------------------------------------------------------------

def open_crisis_for(case, crisis_type):
    return db.session.scalar(select(Crisis).where(Crisis.case_id == case.id, Crisis.type == crisis_type,
                                                  Crisis.status != "closed"))


def recipients(case, actor) -> set[int]:
    """Who a crisis alerts at once: the case's worker, the first person up the worker's line (and
    up the starter's, when someone else starts it), and the school's on-duty workers. Higher
    tiers are added one by one while nobody on the line acknowledges."""
    ids = {case.worker_id}
    for person in {case.worker, actor}:
        chain = alerts.line_chain(person)
        if chain:
            ids.add(chain[0].id)
    ids |= {u.id for u in db.session.scalars(alerts.on_duty_statement(case.school_id))}
    ids.discard(actor.id)
    if not ids:  # an alert must never go nowhere: every other case worker of the school
        ids = {u.id for u in case_services.eligible_workers(case.school_id)} - {actor.id}
    return ids


def _case_for(actor, student, concern):
    """The student's open case, opened (and the concern triaged) if needed. Someone outside the
    case's team who starts a crisis gets the crisis, not the case (see permissions: responders)."""
    from ..concerns import services as concerns
    case = concerns.open_case_for(student.id)
    try:
        if concern is not None and concern.status == "new":
            if case is None:
                case = concerns.open_case_from(actor, concern, worker=actor, risk_level="high")
            else:
                concerns.link_to_open_case(actor, concern)
        elif case is None:
            case = case_services.open_case(actor, student, worker=actor, risk_level="high")
    except case_services.CaseError as exc:
        raise CrisisError(None, exc.code) from None
    return case


def start_crisis(actor, student, *, crisis_type, account, occurred_at, concern=None):
    if crisis_type not in CRISIS_TYPES:
        raise CrisisError("crisis_type", "invalid")
    account = _text(account, "account")
    _when(occurred_at, "occurred_at", not_before=clock.now() - timedelta(days=30), early="too_long_ago")
    if concern is not None and concern.student_id != student.id:
        raise CrisisError(None, "invalid")
    existing = db.session.scalar(select(Crisis).join(Case).where(
        Case.student_id == student.id, Case.status != "closed", Crisis.type == crisis_type,
        Crisis.status != "closed"))
    if existing is not None:
        raise CrisisError("crisis_type", "already_open", crisis=existing)
    case = _case_for(actor, student, concern)
    now = clock.now()
    crisis = Crisis(uid=new_uid(), reference="pending", case=case, school_id=case.school_id, concern=concern,
                    type=crisis_type, status="open", started_by=actor, occurred_at=occurred_at, started_at=now)
    db.session.add(crisis)
    crisis.account = account
    for position, (code, (required, _w)) in enumerate(_ordered(protocol.requirements(crisis))):
        crisis.steps.append(CrisisStep(uid=new_uid(), code=code, position=position, required=required,
                                       status="pending"))
    for name, delta in protocol.cadence():
        crisis.follow_ups.append(FollowUp(uid=new_uid(), label=name, due_at=now + delta, status="pending"))
    try:
        db.session.flush()
    except IntegrityError:  # the same crisis was started by someone else a moment ago
        raise CrisisError("crisis_type", "already_open") from None
    crisis.reference = f"K{now:%y%m}-{crisis.id:05d}"
    timeline.add(case, "crisis_started", actor=actor, occurred_at=occurred_at, ref=crisis,
                 params={"type": crisis_type, "ref": crisis.reference})
    audit.record("crisis.started", crisis, actor=actor, details={"case_id": case.id})
    crisis.alert = alerts.raise_alert(
        "crisis", school_id=case.school_id, source=crisis, link=path_for("crisis.show", crisis_id=crisis.id),
        recipients=recipients(case, actor), raised_by=actor, line_of=case.worker,
        escalate_minutes=current_app.config["CRISIS_ESCALATE_MINUTES"],
        params={"by": actor.display_name, "school": case.student.school.name, "ref": crisis.reference})
    if concern is not None:
        alerts.supersede(concern, by=actor)
    return crisis


def _ordered(reqs):
    return [(code, reqs[code]) for code in protocol.STEPS if code in reqs]


def refresh_requirements(crisis, actor):
    """What is required can grow as facts arrive (a high screen, a hospital admission). A step
    waived while it could be, and no longer waivable now (emergency help after a high screen),
    opens again: a waiver given before the facts cannot stand in for the protective step."""
    reqs = protocol.requirements(crisis)
    have = {s.code: s for s in crisis.steps}
    for code, (required, waivable) in _ordered(reqs):
        if code in have:
            step = have[code]
            step.required = step.required or required  # once required, always
            if step.status == "waived" and not waivable:
                _reopen_waived(actor, crisis, step)
        else:
            crisis.steps.append(CrisisStep(uid=new_uid(), code=code, position=protocol.STEPS.index(code),
                                           required=required, status="pending"))


def _reopen_waived(actor, crisis, step):
    step.status, step.occurred_at, step.recorded_at, step.done_by, step.note = "pending", None, None, None, None
    timeline.add(crisis.case, "crisis_step_reopened", actor=actor, ref=crisis,
                 params={"step": step.code, "ref": crisis.reference})
    audit.record("crisis.step_reopened", crisis, actor=actor, details={"step": step.code})


def step_of(crisis, code):
    return next((s for s in crisis.steps if s.code == code), None)


def _require_open(crisis):
    if crisis.status == "submitted":
        raise CrisisError(None, "awaiting_signoff")
    if crisis.status != "open":
        raise CrisisError(None, "closed")


# -- protocol steps ----------------------------------------------------------------------------------

def record_step(actor, crisis, code, action, *, occurred_at=None, note=None, details=None, version=None):
    """Mark a step done (with when and what), or waive a waivable step with a reason. A guardian
    not reached is an attempt: logged, and the step stays open."""
    _require_open(crisis)
    step = step_of(crisis, code)
    if step is None:
        raise CrisisError(None, "invalid")
    _check(step, version)
    if step.settled:
        raise CrisisError(None, "already_done")
    required, waivable = protocol.requirements(crisis).get(code, (False, True))
    details = details or {}
    if action == "waive":
        if not waivable:
            raise CrisisError(None, "not_waivable")
        note, clean, when = _text(note, "note", limit=4000), {}, clock.now()
        status = "waived"
    elif action == "done":
        when = _when(occurred_at, "occurred_at", not_before=crisis.occurred_at - timedelta(days=1))
        note = _text(note, "note", required=code in ("safe_now", "hearing", "families_outcome"), limit=4000)
        clean = _step_details(actor, crisis, code, details, when)
        status = "done"
        if code == "guardian" and not clean["reached"]:
            return _guardian_attempt(actor, crisis, step, clean, when, note)
    else:
        raise CrisisError("action", "invalid")
    step.status, step.occurred_at, step.recorded_at, step.done_by = status, when, clock.now(), actor
    step.note = note or None
    if clean:
        step.details = json.dumps(clean, ensure_ascii=False, default=str)
    if code == "mandated_report":
        step.due_at = when + timedelta(hours=current_app.config["MANDATED_REPORT_WRITTEN_HOURS"])
    if code == "emergency" and clean.get("hospitalised"):
        crisis.hospitalised = True
        refresh_requirements(crisis, actor)
    db.session.flush()
    timeline.add(crisis.case, "crisis_step", actor=actor, occurred_at=when, ref=step,
                 params={"code": code, "status": status, "ref": crisis.reference}, detail=note or None)
    audit.record(f"crisis.step_{status}", crisis, actor=actor, details={"step": code})
    return step


def _step_details(actor, crisis, code, d, when):
    if code in ("risk_screen", "safety_plan"):
        raise CrisisError(None, "use_form")
    if code == "guardian":
        guardian = db.session.get(Guardian, d.get("guardian_id") or 0)
        if guardian is None or guardian.student_id != crisis.case.student_id:  # none chosen, or not this family
            raise CrisisError("guardian_id", "required")
        from ..family import services as family
        try:  # a restricted person: refused, unless a supervisor above the worker overrides it
            override = family.check_contact(actor, crisis.case, [guardian], d.get("override_reason"))
        except family.FamilyError as exc:
            raise CrisisError("guardian_id" if exc.code == "restricted" else "override_reason", exc.code) from None
        if d.get("method") not in CONTACT_METHODS:
            raise CrisisError("method", "invalid")
        if d.get("reached") not in ("yes", "no"):
            raise CrisisError("reached", "required")
        out = {"guardian_id": guardian.id, "guardian": guardian.name, "method": d["method"],
               "reached": d["reached"] == "yes"}
        if override:
            out["override"] = override
        return out
    if code == "mandated_report":
        return {"agency": _text(d.get("agency"), "agency", limit=200),
                "official": _text(d.get("official"), "official", limit=200),
                "reference": _text(d.get("reference"), "reference", limit=100)}
    if code == "emergency":
        if d.get("service") not in EMERGENCY_SERVICES:
            raise CrisisError("service", "invalid")
        return {"service": d["service"], "hospitalised": bool(d.get("hospitalised"))}
    if code == "reentry":
        return_on, meeting_on = d.get("return_on"), d.get("meeting_on")
        if not isinstance(return_on, date):
            raise CrisisError("return_on", "required")
        if not isinstance(meeting_on, date):
            raise CrisisError("meeting_on", "required")
        if meeting_on > return_on:
            raise CrisisError("meeting_on", "meeting_after_return")
        checklist = {k: bool(d.get(k)) for k in ("release_signed", "plan_revisited", "supports_agreed",
                                                  "checkins_set")}
        if not all(checklist.values()):
            raise CrisisError("checklist", "checklist")
        return {"return_on": return_on.isoformat(), "meeting_on": meeting_on.isoformat(), **checklist}
    return {}


def _guardian_attempt(actor, crisis, step, clean, when, note):
    attempts = json.loads(step.details) if step.details else {"attempts": []}
    attempts["attempts"].append({**clean, "at": when.isoformat(), "by": actor.display_name})
    step.details = json.dumps(attempts, ensure_ascii=False)
    timeline.add(crisis.case, "guardian_attempt", actor=actor, occurred_at=when, ref=step,
                 params={"method": clean["method"], "ref": crisis.reference}, detail=note or None)
    audit.record("crisis.guardian_attempt", crisis, actor=actor)
    return step


def step_details(step) -> dict:
    return json.loads(step.details) if step.details_ct else {}


# -- risk screen ---------------------------------------------------------------------------------------

def record_screen(actor, crisis, raw, *, follow_up=None):
    _require_open(crisis)
    try:
        answers = protocol.clean_answers(raw)
    except protocol.ScreenError as exc:
        raise CrisisError(exc.field, "answer", fields=exc.fields) from None
    level = protocol.screen_level(answers)
    screen = RiskScreen(uid=new_uid(), crisis=crisis, by=actor, level=level, screened_at=clock.now(),
                        wording="since_last" if follow_up is not None else "past_month",
                        follow_up_id=follow_up.id if follow_up is not None else None)
    db.session.add(screen)
    screen.answers = json.dumps(answers)
    # The highest level reached governs the protocol: a calmer re-screen does not undo what a
    # high one required (each screen keeps its own level).
    if crisis.level is None or SCREEN_ORDER.index(level) > SCREEN_ORDER.index(crisis.level):
        crisis.level = level
    refresh_requirements(crisis, actor)
    step = step_of(crisis, "risk_screen")
    if step is not None and not step.settled:
        step.status, step.occurred_at, step.recorded_at, step.done_by = "done", screen.screened_at, clock.now(), actor
    db.session.flush()
    timeline.add(crisis.case, "risk_screened", actor=actor, ref=screen,
                 params={"level": level, "ref": crisis.reference})
    audit.record("crisis.screened", crisis, actor=actor, details={"screen": screen.id, "level": level})
    if level == "high":
        if crisis.case.risk_level != "high":
            case_services.change_risk(actor, crisis.case, "high", str(_l("Suicide-risk screen: high risk")))
        worker = crisis.case.worker
        for person in {p for p in [worker] + alerts.line_chain(worker)[:1] if p.id != actor.id}:
            alerts.notify(person, "crisis_high", path_for("crisis.show", crisis_id=crisis.id),
                          params={"ref": crisis.reference, "by": actor.display_name})
    return screen


def screens_of(crisis):
    return db.session.scalars(select(RiskScreen).where(RiskScreen.crisis_id == crisis.id)
                              .options(joinedload(RiskScreen.by)).order_by(RiskScreen.screened_at.desc())).all()


# -- safety plan ----------------------------------------------------------------------------------------

SAFETY_PLAN_REQUIRED = ("warning_signs", "help_people", "professionals", "safe_environment")


def latest_plan(crisis):
    return db.session.scalar(select(SafetyPlan).where(SafetyPlan.crisis_id == crisis.id)
                             .options(joinedload(SafetyPlan.author)).order_by(SafetyPlan.version.desc()).limit(1))


def save_safety_plan(actor, crisis, sections: dict, *, based_on=None):
    """A new version of the plan. `based_on` is the version the writer started from: if someone
    saved a newer one meanwhile, refuse rather than silently replace their work (None: no check)."""
    _require_open(crisis)
    current = latest_plan(crisis)
    if based_on is not None and str(based_on) != (str(current.version) if current else ""):
        raise CrisisError(None, "stale")
    clean = {k: _text(sections.get(k), k, required=k in SAFETY_PLAN_REQUIRED, limit=4000)
             for k in protocol.SAFETY_PLAN_SECTIONS}
    plan = SafetyPlan(uid=new_uid(), crisis=crisis, author=actor, created_at=clock.now(),
                      version=(current.version if current else 0) + 1)
    db.session.add(plan)
    plan.content = json.dumps(clean, ensure_ascii=False)
    step = step_of(crisis, "safety_plan")
    if step is not None and not step.settled:
        step.status, step.occurred_at, step.recorded_at, step.done_by = "done", plan.created_at, clock.now(), actor
    db.session.flush()
    timeline.add(crisis.case, "safety_plan_saved", actor=actor, ref=plan,
                 params={"version": plan.version, "ref": crisis.reference})
    audit.record("crisis.safety_plan", crisis, actor=actor, details={"version": plan.version})
    return plan


def plan_content(plan) -> dict:
    return json.loads(plan.content) if plan else {}


# -- follow-ups ---------------------------------------------------------------------------------------

def grace():
    return timedelta(hours=current_app.config["CRISIS_FOLLOW_UP_GRACE_HOURS"])


def held_late(fu) -> bool:
    return fu.status == "done" and fu.done_at is not None and fu.done_at > fu.due_at + grace()


def is_missed(fu, now=None) -> bool:
    return fu.status == "pending" and fu.due_at + grace() < (now or clock.now())


def record_follow_up(actor, fu, action, note, *, version=None):
    crisis = fu.crisis
    _require_open(crisis)
    _check(fu, version)
    if fu.status != "pending":
        raise CrisisError(None, "already_done")
    if action == "done":
        if clock.now() < fu.due_at - grace():
            raise CrisisError(None, "not_due")
        note = _text(note, "note", limit=4000)
    elif action == "waive":
        note = _text(note, "note", limit=4000)
    else:
        raise CrisisError("action", "invalid")
    fu.status = "done" if action == "done" else "waived"
    fu.done_at, fu.done_by = clock.now(), actor
    fu.note = note
    db.session.flush()
    timeline.add(crisis.case, "crisis_follow_up", actor=actor, ref=fu,
                 params={"label": fu.label, "status": fu.status, "ref": crisis.reference})
    audit.record(f"crisis.follow_up_{fu.status}", crisis, actor=actor, details={"follow_up": fu.id})
    return fu


@alerts.sweep_task
def report_missed_follow_ups() -> int:
    """Tell the worker and the next person up the line, once, when a check-in was missed."""
    cutoff = clock.now() - grace()
    due = db.session.scalars(select(FollowUp).join(Crisis).where(
        FollowUp.status == "pending", FollowUp.due_at < cutoff, FollowUp.missed_notified_at.is_(None),
        Crisis.status != "closed").options(joinedload(FollowUp.crisis).joinedload(Crisis.case)
                                           .joinedload(Case.worker))).all()
    done = 0
    for fu in due:
        # Claimed by a conditional UPDATE: a cron sweep and a live-poll sweep never both notify.
        if not db.session.execute(update(FollowUp).where(FollowUp.id == fu.id, FollowUp.missed_notified_at.is_(None))
                                  .values(missed_notified_at=clock.now())).rowcount:
            continue
        done += 1
        worker = fu.crisis.case.worker
        people = [worker] + alerts.line_chain(worker)[:1]
        for person in people:
            alerts.notify(person, "follow_up_missed", path_for("crisis.show", crisis_id=fu.crisis_id),
                          params={"ref": fu.crisis.reference, "case": fu.crisis.case.reference})
        audit.record("crisis.follow_up_missed", fu.crisis, actor=audit.SYSTEM, details={"follow_up": fu.id,
                                                                    "notified": [p.id for p in people]})
    return done


# -- closing -------------------------------------------------------------------------------------------

def blockers(crisis) -> list[tuple[str, str]]:
    """What stops closing: required steps not done or waived, follow-ups not done or waived."""
    reqs = protocol.requirements(crisis)
    out = [("step", s.code) for s in crisis.steps if s.required and (
        not s.settled or (s.status == "waived" and not reqs.get(s.code, (True, True))[1]))]
    out += [("follow_up", f.label) for f in crisis.follow_ups if f.status == "pending"]
    return out


def request_signoff(actor, crisis, summary, *, version=None):
    _require_open(crisis)
    _check(crisis, version)
    missing = blockers(crisis)
    if missing:
        raise CrisisError(None, "incomplete", missing=missing)
    crisis.summary = _text(summary, "summary", limit=4000)
    crisis.status, crisis.submitted_at, crisis.submitted_by = "submitted", clock.now(), actor
    db.session.flush()
    review_entry(actor, crisis.case, crisis, "submitted")
    timeline.add(crisis.case, "crisis_signoff_requested", actor=actor, ref=crisis,
                 params={"ref": crisis.reference})
    audit.record("crisis.signoff_requested", crisis, actor=actor)
    above = alerts.line_chain(crisis.case.worker)[:1] or alerts.line_chain(actor)[:1]
    for person in above:
        alerts.notify(person, "crisis_signoff", path_for("crisis.show", crisis_id=crisis.id),
                      params={"ref": crisis.reference, "by": actor.display_name})


def decide_signoff(actor, crisis, decision, comment, *, version=None):
    if crisis.status != "submitted":
        raise CrisisError(None, "already_handled")
    _check(crisis, version)
    if crisis.submitted_by_id == actor.id:
        raise CrisisError(None, "own_record")
    if decision == "return":
        comment = _text(comment, "comment", limit=4000)
        crisis.status = "open"
    elif decision == "approve":
        comment = _text(comment, "comment", required=False, limit=4000)
        crisis.status, crisis.closed_at, crisis.signed_off_by = "closed", clock.now(), actor
        if crisis.alert is not None:  # over: no banner stays up, no link leads to a 403
            alerts.resolve(crisis.alert, actor, event="alert.crisis_closed")
    else:
        raise CrisisError("decision", "invalid")
    review_entry(actor, crisis.case, crisis, "approved" if decision == "approve" else "returned",
                 comment=comment or None)
    timeline.add(crisis.case, "crisis_closed" if decision == "approve" else "crisis_returned", actor=actor,
                 ref=crisis, params={"ref": crisis.reference, "name": actor.display_name})
    audit.record("crisis.signed_off" if decision == "approve" else "crisis.returned", crisis, actor=actor)
    if crisis.submitted_by is not None:
        alerts.notify(crisis.submitted_by, "crisis_decided", path_for("crisis.show", crisis_id=crisis.id),
                      params={"ref": crisis.reference, "by": actor.display_name,
                              "status": "approved" if decision == "approve" else "returned"})


# -- queries ------------------------------------------------------------------------------------------

def load(crisis_id):
    return db.session.scalar(select(Crisis).where(Crisis.id == crisis_id).options(
        joinedload(Crisis.case).joinedload(Case.student).options(
            joinedload(Student.school), selectinload(Student.guardians).selectinload(Guardian.restrictions)),
        joinedload(Crisis.case).joinedload(Case.worker), joinedload(Crisis.started_by),
        selectinload(Crisis.steps).joinedload(CrisisStep.done_by),
        selectinload(Crisis.follow_ups).joinedload(FollowUp.done_by),
        joinedload(Crisis.alert).selectinload(Alert.recipients)))


def for_case(case):
    return db.session.scalars(select(Crisis).where(Crisis.case_id == case.id)
                              .options(joinedload(Crisis.started_by), joinedload(Crisis.alert),
                                       selectinload(Crisis.steps), selectinload(Crisis.follow_ups))
                              .order_by(Crisis.started_at.desc())).all()


def _needs_line(user):
    """Open crises of the user's line that need a supervisor: unacknowledged alert, sign-off
    requested, or a missed follow-up."""
    missed = exists().where(FollowUp.crisis_id == Crisis.id, FollowUp.status == "pending",
                            FollowUp.due_at < clock.now() - grace())
    unacknowledged = exists().where(Alert.id == Crisis.alert_id, Alert.settled_at.is_(None))
    return (Crisis.status != "closed", Case.worker_id.in_(line_below(user)),
            or_(Crisis.status == "submitted", unacknowledged, missed))


def queue_statement(user, worker_id=None, school_id=None):
    stmt = (select(Crisis).join(Case, Case.id == Crisis.case_id).where(*_needs_line(user))
            .options(joinedload(Crisis.case).joinedload(Case.student).joinedload(Student.school),
                     joinedload(Crisis.case).joinedload(Case.worker), joinedload(Crisis.started_by),
                     joinedload(Crisis.alert).selectinload(Alert.recipients).joinedload(AlertRecipient.user),
                     selectinload(Crisis.follow_ups), selectinload(Crisis.steps)))
    if worker_id:
        stmt = stmt.where(Case.worker_id == worker_id)
    if school_id:
        stmt = stmt.where(Case.school_id == school_id)
    return stmt.order_by(Crisis.started_at, Crisis.id)


def queue_count(user) -> int:
    if not line_below(user):
        return 0
    return db.session.scalar(select(func.count()).select_from(Crisis).join(Case, Case.id == Crisis.case_id)
                             .where(*_needs_line(user)))


def my_follow_ups(user, horizon=timedelta(days=1)):
    """Check-ins due by tomorrow (and missed ones) on crises of the user's cases."""
    return db.session.scalars(select(FollowUp).join(Crisis).join(Case, Case.id == Crisis.case_id).where(
        FollowUp.status == "pending", Crisis.status == "open", Case.worker_id == user.id,
        FollowUp.due_at <= clock.now() + horizon)
        .options(joinedload(FollowUp.crisis).joinedload(Crisis.case).joinedload(Case.student))
        .order_by(FollowUp.due_at)).all()


def my_open_crises(user):
    return db.session.scalars(select(Crisis).join(Case, Case.id == Crisis.case_id).where(
        Crisis.status != "closed", or_(Case.worker_id == user.id, Crisis.started_by_id == user.id))
        .options(joinedload(Crisis.case).joinedload(Case.student), selectinload(Crisis.steps),
                 selectinload(Crisis.follow_ups)).order_by(Crisis.started_at)).all()


def acknowledged_by(crisis) -> list:
    if crisis.alert is None:
        return []
    return [r for r in crisis.alert.recipients if r.acknowledged_at is not None]


def people(ids):
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}


def concern_for_start(concern_id, student):
    if not concern_id:
        return None
    concern = db.session.get(Concern, concern_id)
    return concern if concern is not None and concern.student_id == student.id else None


# -- timeline summaries ---------------------------------------------------------------------------------

@timeline.summary("crisis_started")
def _started(p):
    return _l("Crisis %(ref)s started: %(type)s", ref=p.get("ref", ""), type=label("crisis_type", p.get("type")))


@timeline.summary("crisis_step")
def _step(p):
    if p.get("status") == "waived":
        return _l("Crisis %(ref)s: step waived with a reason: %(step)s", ref=p.get("ref", ""),
                  step=label("crisis_step", p.get("code")))
    return _l("Crisis %(ref)s: %(step)s", ref=p.get("ref", ""), step=label("crisis_step", p.get("code")))


@timeline.summary("crisis_step_reopened")
def _reopened(p):
    return _l("Crisis %(ref)s: the waiver of %(step)s no longer stands after a high screen; the step is open again",
              ref=p.get("ref", ""), step=label("crisis_step", p.get("step")))


@timeline.summary("guardian_attempt")
def _attempt(p):
    return _l("Crisis %(ref)s: guardian not reached (%(method)s)", ref=p.get("ref", ""),
              method=label("contact_method", p.get("method")))


@timeline.summary("risk_screened")
def _screened(p):
    return _l("Crisis %(ref)s: suicide-risk screen, %(level)s", ref=p.get("ref", ""),
              level=label("screen_level", p.get("level")))


@timeline.summary("safety_plan_saved")
def _plan(p):
    return _l("Crisis %(ref)s: safety plan version %(n)s", ref=p.get("ref", ""), n=p.get("version", ""))


@timeline.summary("crisis_follow_up")
def _follow_up(p):
    if p.get("status") == "waived":
        return _l("Crisis %(ref)s: follow-up (%(when)s) not held, with a reason", ref=p.get("ref", ""),
                  when=protocol.describe_cadence(p.get("label", "")))
    return _l("Crisis %(ref)s: follow-up (%(when)s) held", ref=p.get("ref", ""),
              when=protocol.describe_cadence(p.get("label", "")))


@timeline.summary("crisis_signoff_requested")
def _requested(p):
    return _l("Crisis %(ref)s: sign-off requested", ref=p.get("ref", ""))


@timeline.summary("crisis_closed")
def _closed(p):
    return _l("Crisis %(ref)s signed off and closed by %(name)s", ref=p.get("ref", ""), name=p.get("name", ""))


@timeline.summary("crisis_returned")
def _returned(p):
    return _l("Crisis %(ref)s: sign-off returned by %(name)s", ref=p.get("ref", ""), name=p.get("name", ""))
