"""Family liaison rules: family members and their restrictions, the contact log, home visits.
Flush, never commit; audit every change.

A restriction (no contact, no information, no pick-up) is checked wherever a family member can be
contacted or told something: here, in the crisis guardian step, and in referral consent. Only a
supervisor above the case's worker can override it, with a written reason that is audited.
"""
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload, selectinload

from .. import audit, clock
from ..alerts import services as alerts
from ..cases import timeline
from ..crypto import new_uid
from ..extensions import db
from ..i18n import label, local_today
from ..models import Case, Guardian, User
from ..models.family import (CONTACT_METHODS, CONTACT_PURPOSES, INBOUND_METHODS, INITIATORS, PARENT_SESSIONS,
                             RESTRICTION_BASES, RESTRICTION_KINDS, ContactPerson, ContactRestriction, FamilyContact,
                             HomeVisit)
from ..permissions import can
from ..rules import RuleError, clean_text
from ..web import path_for


class FamilyError(RuleError):
    pass


def _text(value, field, required=True, limit=4000):
    return clean_text(value, field, required=required, limit=limit, error=FamilyError)


def _check(obj, version):
    if version not in (None, "") and str(version) != str(obj.version_id):
        raise FamilyError(None, "stale")


def _open_cases(student):
    return db.session.scalars(select(Case).where(Case.student_id == student.id, Case.status != "closed")).all()


# -- family members --------------------------------------------------------------------------------------

def save_guardian(actor, student, guardian=None, *, name, relationship, legal_responsibility, lives_with_student,
                  language, interpreter_needed, phone, email, address, contact_times, version=None):
    if guardian is not None:
        if version in (None, ""):  # an edit always says which version it started from
            raise FamilyError(None, "stale")
        _check(guardian, version)
    name = _text(name, "name", limit=200)
    relationship = _text(relationship, "relationship", limit=40)
    email = _text(email, "email", required=False, limit=254)
    if email and "@" not in email:
        raise FamilyError("email", "email")
    created = guardian is None
    if created:
        guardian = Guardian(uid=new_uid(), name=name, relationship_to_student=relationship)
        student.guardians.append(guardian)
    guardian.name, guardian.relationship_to_student = name, relationship
    guardian.legal_responsibility, guardian.lives_with_student = bool(legal_responsibility), bool(lives_with_student)
    guardian.language = _text(language, "language", required=False, limit=40) or None
    guardian.interpreter_needed = bool(interpreter_needed)
    guardian.contact_times = _text(contact_times, "contact_times", required=False, limit=200) or None
    guardian.phone = _text(phone, "phone", required=False, limit=40) or None
    guardian.email = email or None
    guardian.address = _text(address, "address", required=False, limit=500) or None
    db.session.flush()
    audit.record("guardian.added" if created else "guardian.changed", guardian, actor=actor,
                 details={"student_id": student.id})
    return guardian


def add_restriction(actor, guardian, *, kinds, basis, details, ends_on=None, document=None):
    """document: (filename, bytes) kept as an encrypted attachment of the student's open case."""
    kinds = sorted(set(kinds or ()))
    if not kinds or any(k not in RESTRICTION_KINDS for k in kinds):
        raise FamilyError("kinds", "kinds")
    if basis not in RESTRICTION_BASES:
        raise FamilyError("basis", "invalid")
    if ends_on is not None and ends_on < local_today():
        raise FamilyError("ends_on", "past")
    r = ContactRestriction(uid=new_uid(), guardian=guardian, kinds=kinds, basis=basis, created_by=actor,
                           created_at=clock.now(), ends_on=ends_on)
    db.session.add(r)
    r.details = _text(details, "details", limit=2000)
    if document is not None:
        cases = [c for c in _open_cases(guardian.student) if can(actor, "attachment.upload", c)]
        if not cases:
            raise FamilyError("document", "no_case")
        from ..notes import services as notes
        try:
            r.attachment_id = notes.add_attachment(actor, cases[0], document[0], document[1]).id
        except notes.NoteError as exc:
            raise FamilyError("document", exc.code) from None
    _sync_flag(guardian)
    db.session.flush()
    for case in _open_cases(guardian.student):
        timeline.add(case, "restriction_added", actor=actor, ref=r,
                     params={"name": guardian.name, "kinds": kinds, "basis": basis})
    audit.record("restriction.added", r, actor=actor, details={"guardian_id": guardian.id, "kinds": kinds})
    return r


def lift_restriction(actor, r, reason):
    if r.ended_at is not None:
        raise FamilyError(None, "already_handled")
    r.end_reason = _text(reason, "reason", limit=2000)
    r.ended_at, r.ended_by = clock.now(), actor
    _sync_flag(r.guardian)
    db.session.flush()
    for case in _open_cases(r.guardian.student):
        timeline.add(case, "restriction_lifted", actor=actor, ref=r, params={"name": r.guardian.name})
        if case.worker_id != actor.id:
            alerts.notify(case.worker, "restriction_lifted", path_for("family.guardian", guardian_id=r.guardian_id),
                          params={"case": case.reference, "by": actor.display_name})
    audit.record("restriction.lifted", r, actor=actor, details={"guardian_id": r.guardian_id})


def _sync_flag(guardian):
    guardian.contact_restricted = any(r.blocks_contact for r in guardian.restrictions)


def blocked(guardians) -> list:
    """The people in `guardians` whom no one may contact or tell anything without an override."""
    return [g for g in guardians if g.no_contact]


def check_contact(actor, case, guardians, override_reason, *, incoming=False):
    """Refuse contact with a restricted person unless a supervisor above the case's worker
    overrides it with a reason. Returns the override reason (or None); audits an override.

    `incoming`: the restricted person contacted the school. That must be recorded (it matters
    most for the child's safety), so it is allowed, audited and reported to the worker's line."""
    restricted = blocked(guardians)
    if not restricted:
        return None
    names = [g.name for g in restricted]
    if incoming:
        audit.record("restriction.incoming_contact", case, actor=actor,
                     details={"guardians": [g.id for g in restricted]})
        for person in {p for p in [case.worker] + alerts.line_chain(case.worker)[:1] if p.id != actor.id}:
            alerts.notify(person, "restricted_contact", path_for("family.family_tab", case_id=case.id),
                          params={"case": case.reference, "by": actor.display_name})
        return None
    if not can(actor, "family.override", case):
        raise FamilyError("people", "restricted", names=names)
    reason = (override_reason or "").strip()
    if not reason:
        raise FamilyError("override_reason", "override_reason", names=names)
    audit.record("restriction.overridden", case, actor=actor, details={"guardians": [g.id for g in restricted]})
    return reason[:2000]


# -- the contact log ---------------------------------------------------------------------------------------

def log_contact(actor, case, *, guardian_ids, occurred_at, method, initiated_by, purpose, reached, duration,
                interpreter_used, summary, outcome=None, next_steps=None, follow_up_on=None,
                override_reason=None, attended_ids=None, as_service_record=False, home_visit=None):
    people = [g for g in case.student.guardians if g.id in set(guardian_ids or ())]
    if not people or len(people) != len(set(guardian_ids)):
        raise FamilyError("people", "people")
    if method not in CONTACT_METHODS:
        raise FamilyError("method", "invalid")
    if initiated_by not in INITIATORS:
        raise FamilyError("initiated_by", "invalid")
    if purpose not in CONTACT_PURPOSES:
        raise FamilyError("purpose", "invalid")
    now = clock.now()
    if occurred_at is None:
        raise FamilyError("occurred_at", "required")
    if occurred_at > now + timedelta(minutes=5):
        raise FamilyError("occurred_at", "future")
    if occurred_at < now - timedelta(days=365):
        raise FamilyError("occurred_at", "too_old")
    if duration not in (None, "") and not 1 <= int(duration) <= 600:
        raise FamilyError("duration", "duration")
    if follow_up_on is not None and follow_up_on < local_today():
        raise FamilyError("follow_up_on", "past")
    session = method in PARENT_SESSIONS
    if session and duration in (None, ""):
        raise FamilyError("duration", "required")
    summary = _text(summary, "summary", limit=10000)
    if home_visit is not None:
        if method != "home_visit":
            raise FamilyError("method", "visit_method")
        if db.session.scalar(select(FamilyContact.id).where(FamilyContact.home_visit_id == home_visit.id).limit(1)):
            raise FamilyError(None, "visit_recorded")
    incoming = initiated_by == "family" and reached and method in INBOUND_METHODS
    override = check_contact(actor, case, people, override_reason, incoming=incoming)
    contact = FamilyContact(uid=new_uid(), case=case, student_id=case.student_id, author=actor,
                            occurred_at=occurred_at, recorded_at=now, method=method, initiated_by=initiated_by,
                            purpose=purpose, reached=bool(reached), interpreter_used=bool(interpreter_used),
                            duration_minutes=int(duration) if duration not in (None, "") else None,
                            follow_up_on=follow_up_on, home_visit_id=home_visit.id if home_visit else None,
                            restricted_incoming=incoming and bool(blocked(people)))
    # A parent session records who came: nobody when the family was not reached, and at least one
    # ticked person when it was (an unticked list is a mistake, not "everyone").
    attended = set(attended_ids or ()) & {g.id for g in people} if reached else set()
    if session and reached and not attended:
        raise FamilyError("attended", "attended")
    contact.people = [ContactPerson(guardian_id=g.id, attended=(g.id in attended) if session else True)
                      for g in people]
    db.session.add(contact)
    contact.summary = summary
    contact.outcome = _text(outcome, "outcome", required=False) or None
    contact.next_steps = _text(next_steps, "next_steps", required=False) or None
    if override:
        contact.override_reason, contact.override_by = override, actor
    db.session.flush()
    if session and as_service_record:  # a parent session is also a family service record, reviewed
        from ..casework import services as work
        try:
            rec = work.add_service_record(actor, case, occurred_on=occurred_at.date(), duration=int(duration),
                                          kind="family",
                                          participants=", ".join(g.name for g in people if g.id in attended),
                                          summary=summary, progress=contact.outcome)
        except work.WorkError as exc:
            raise FamilyError(exc.field if exc.field in ("summary", "duration") else None, exc.code) from None
        contact.service_record_id = rec.id
    timeline.add(case, "family_contact", actor=actor, occurred_at=occurred_at, ref=contact,
                 params={"method": method, "reached": bool(reached), "names": [g.name for g in people]})
    audit.record("contact.logged", contact, actor=actor,
                 details={"case_id": case.id, "override": bool(override)})
    return contact


def follow_up_done(actor, contact, *, version=None):
    _check(contact, version)
    if contact.follow_up_on is None or contact.follow_up_done_at is not None:
        raise FamilyError(None, "already_handled")
    contact.follow_up_done_at = clock.now()
    audit.record("contact.follow_up_done", contact, actor=actor)


def contacts_statement(user, student, case, guardian_id=None, method=None):
    """Every contact with the student's family on cases the user may read (and on `case`, which
    the caller checked: emergency access included), newest first."""
    from ..permissions import visible_cases_clause
    stmt = (select(FamilyContact).join(Case, Case.id == FamilyContact.case_id)
            .where(FamilyContact.student_id == student.id, or_(visible_cases_clause(user), Case.id == case.id))
            .options(joinedload(FamilyContact.author), joinedload(FamilyContact.case).selectinload(Case.members),
                     joinedload(FamilyContact.override_by),
                     selectinload(FamilyContact.people).joinedload(ContactPerson.guardian)))
    if guardian_id:
        stmt = stmt.where(FamilyContact.people.any(ContactPerson.guardian_id == guardian_id))
    if method in CONTACT_METHODS:
        stmt = stmt.where(FamilyContact.method == method)
    return stmt.order_by(FamilyContact.occurred_at.desc(), FamilyContact.id.desc())


def recent_contacts(case, limit=5):
    return db.session.scalars(select(FamilyContact).where(FamilyContact.case_id == case.id)
                              .options(joinedload(FamilyContact.author), joinedload(FamilyContact.override_by),
                                       selectinload(FamilyContact.people).joinedload(ContactPerson.guardian))
                              .order_by(FamilyContact.occurred_at.desc()).limit(limit)).all()


def follow_ups_due(user, horizon_days=1):
    """Agreed family follow-ups due by tomorrow on the user's cases (or contacts they logged, while
    they are still on the case: someone taken off it no longer sees its family)."""
    from ..permissions import visible_cases_clause
    return db.session.scalars(select(FamilyContact).join(Case, Case.id == FamilyContact.case_id).where(
        FamilyContact.follow_up_on <= local_today() + timedelta(days=horizon_days),
        FamilyContact.follow_up_done_at.is_(None), Case.status != "closed",
        or_(Case.worker_id == user.id, FamilyContact.author_id == user.id), visible_cases_clause(user))
        .options(joinedload(FamilyContact.case).joinedload(Case.student))
        .order_by(FamilyContact.follow_up_on)).all()


# -- home visits --------------------------------------------------------------------------------------------

def grace():
    return timedelta(minutes=current_app.config["HOME_VISIT_GRACE_MINUTES"])


def plan_visit(actor, case, *, visitor, companion, checkin_contact, planned_at, expected_return_at, address,
               purpose):
    from ..cases.services import eligible_workers
    staff = {u.id: u for u in eligible_workers(case.school_id)}
    if visitor is None or visitor.id not in staff:
        raise FamilyError("visitor", "staff")
    if companion is not None and (companion.id not in staff or companion.id == visitor.id):
        raise FamilyError("companion", "staff")
    if companion is None and checkin_contact is None:
        raise FamilyError("checkin_contact", "lone_visit")
    if checkin_contact is not None and checkin_contact.id not in staff:
        raise FamilyError("checkin_contact", "staff")
    if checkin_contact is not None and checkin_contact.id == visitor.id:
        raise FamilyError("checkin_contact", "checkin_self")
    now = clock.now()
    if planned_at is None or planned_at < now - timedelta(hours=1):
        raise FamilyError("planned_at", "past")
    if expected_return_at is None or expected_return_at <= planned_at:
        raise FamilyError("expected_return_at", "return_before_start")
    if expected_return_at <= now:
        raise FamilyError("expected_return_at", "return_past")
    if expected_return_at - planned_at > timedelta(hours=12):
        raise FamilyError("expected_return_at", "too_long_visit")
    visit = HomeVisit(uid=new_uid(), case=case, planned_by=actor, visitor=visitor, companion=companion,
                      checkin_contact=checkin_contact, planned_at=planned_at, expected_return_at=expected_return_at,
                      status="planned", created_at=now)
    db.session.add(visit)
    visit.address = _text(address, "address", limit=500)
    visit.purpose = _text(purpose, "purpose", required=False, limit=2000) or None
    db.session.flush()
    timeline.add(case, "visit_planned", actor=actor, occurred_at=planned_at, ref=visit,
                 params={"visitor": visitor.display_name, "companion": companion.display_name if companion else ""})
    audit.record("visit.planned", visit, actor=actor, details={"case_id": case.id})
    if checkin_contact is not None and checkin_contact.id != actor.id:
        alerts.notify(checkin_contact, "visit_checkin_contact", path_for("family.visit", visit_id=visit.id),
                      params={"visitor": visitor.display_name})
    return visit


def check_in(actor, visit):
    """The visitor is back (or the check-in colleague has heard from them). Never refused for a
    page drawn before the overdue alert: being safe is not a concurrent edit."""
    if visit.status != "planned":
        raise FamilyError(None, "already_handled")
    visit.status, visit.returned_at = "returned", clock.now()
    if visit.alert_id:  # the overdue alert is answered: it stops climbing, everyone's banner goes
        from ..models import Alert
        alerts.resolve(db.session.get(Alert, visit.alert_id), actor, event="alert.visitor_back")
    timeline.add(visit.case, "visit_returned", actor=actor, ref=visit,
                 params={"visitor": visit.visitor.display_name, "late": visit.alert_id is not None,
                         "by": actor.display_name if actor.id != visit.visitor_id else ""})
    audit.record("visit.checked_in", visit, actor=actor)


def cancel_visit(actor, visit, *, version=None):
    """Before the visit is overdue only: once its alert is out, only a check-in answers it."""
    _check(visit, version)
    if visit.status != "planned":
        raise FamilyError(None, "already_handled")
    if visit.alert_id is not None or visit.expected_return_at < clock.now():
        raise FamilyError(None, "overdue_cancel")
    visit.status = "cancelled"
    timeline.add(visit.case, "visit_cancelled", actor=actor, ref=visit, params={})
    audit.record("visit.cancelled", visit, actor=actor)


@alerts.sweep_task
def alert_overdue_visits() -> int:
    """A visitor not back by the expected time plus the grace period: alert the check-in
    colleague, the companion and the visitor's supervisor, once. Names no family, no address."""
    cutoff = clock.now() - grace()
    due = db.session.scalars(select(HomeVisit).where(
        HomeVisit.status == "planned", HomeVisit.expected_return_at < cutoff, HomeVisit.alert_id.is_(None))
        .options(joinedload(HomeVisit.visitor), joinedload(HomeVisit.case))).all()
    for visit in due:
        people = {u.id for u in (visit.checkin_contact, visit.companion) if u is not None}
        people |= {p.id for p in alerts.line_chain(visit.visitor)[:1]}
        people.discard(visit.visitor_id)
        if not people:
            people = {p.id for p in alerts.line_chain(visit.visitor)} or {visit.planned_by_id}
        alert = alerts.raise_alert("visit_overdue", school_id=visit.case.school_id, source=visit,
                                   link=path_for("family.visit", visit_id=visit.id), recipients=people,
                                   raised_by=None, params={"visitor": visit.visitor.display_name,
                                                           "due": visit.expected_return_at.isoformat()},
                                   line_of=visit.visitor,
                                   escalate_minutes=current_app.config["CRISIS_ESCALATE_MINUTES"])
        visit.alert_id = alert.id
        audit.record("visit.overdue", visit, actor=audit.SYSTEM, details={"alerted": sorted(people)})
    return len(due)


def my_visits(user):
    """Visits the user goes on or is the check-in contact for, not yet back."""
    return db.session.scalars(select(HomeVisit).where(
        HomeVisit.status == "planned",
        or_(HomeVisit.visitor_id == user.id, HomeVisit.companion_id == user.id,
            HomeVisit.checkin_contact_id == user.id))
        .options(joinedload(HomeVisit.case).joinedload(Case.student), joinedload(HomeVisit.visitor))
        .order_by(HomeVisit.planned_at)).all()


def visits_for(case):
    return db.session.scalars(select(HomeVisit).where(HomeVisit.case_id == case.id)
                              .options(joinedload(HomeVisit.visitor), joinedload(HomeVisit.companion),
                                       joinedload(HomeVisit.checkin_contact))
                              .order_by(HomeVisit.planned_at.desc()).limit(10)).all()


def default_address(student):
    g = next((g for g in student.guardians if g.lives_with_student and not g.no_contact and g.address_ct),
             None)
    return g.address if g else ""


def people(ids):
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}


# -- timeline -----------------------------------------------------------------------------------------------

@timeline.summary("family_contact")
def _contact(p):
    names = ", ".join(p.get("names") or [])
    if p.get("reached", True):
        return _l("%(method)s with %(names)s", method=label("contact_method_family", p.get("method")), names=names)
    return _l("%(method)s to %(names)s: not reached", method=label("contact_method_family", p.get("method")),
              names=names)


@timeline.summary("restriction_added")
def _restriction_added(p):
    return _l("Contact restriction recorded for %(name)s: %(kinds)s", name=p.get("name", ""),
              kinds=", ".join(str(label("restriction_kind", k)) for k in p.get("kinds") or []))


@timeline.summary("restriction_lifted")
def _restriction_lifted(p):
    return _l("Contact restriction for %(name)s lifted", name=p.get("name", ""))


@timeline.summary("visit_planned")
def _visit_planned(p):
    if p.get("companion"):
        return _l("Home visit planned: %(visitor)s with %(companion)s", visitor=p.get("visitor", ""),
                  companion=p.get("companion"))
    return _l("Home visit planned: %(visitor)s", visitor=p.get("visitor", ""))


@timeline.summary("visit_returned")
def _visit_returned(p):
    if p.get("late"):
        return _l("%(visitor)s checked in after the home visit, late", visitor=p.get("visitor", ""))
    return _l("%(visitor)s checked in after the home visit", visitor=p.get("visitor", ""))


@timeline.summary("visit_cancelled")
def _visit_cancelled(p):
    return _l("Home visit cancelled")
