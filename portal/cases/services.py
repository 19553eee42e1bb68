"""Case rules: who may be assigned, which status moves are legal, what is audited.

Services take (actor, obj, data), flush but never commit, and raise CaseError for a refused change.
"""
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .. import audit, clock
from ..extensions import db
from ..models import Case, CaseMember, User
from ..models.cases import CASE_STATUSES, RISK_LEVELS
from ..models.people import CASEWORK_ROLES
from . import timeline

# Forward through the cycle, one step back for rework. Closing needs a supervisor's approval
# (casework.services.request_closure); reopening needs a reason (reopen_case).
TRANSITIONS = {
    "intake": ("assessment",),
    "assessment": ("planning", "intake"),
    "planning": ("active", "assessment"),
    "active": ("review", "planning"),
    "review": ("active",),
    "closed": (),
}


class CaseError(ValueError):
    def __init__(self, field, code):
        super().__init__(code)
        self.field = field
        self.code = code


def check_version(case, version):
    """Optimistic locking: the form carries the version it was drawn from."""
    if version is not None and int(version) != case.version_id:
        raise CaseError(None, "stale")


def eligible_workers(school_id):
    """Active case workers of a school (assignable to its cases)."""
    return db.session.scalars(
        select(User).where(User.role.in_(CASEWORK_ROLES), User.active.is_(True),
                           User.schools.any(id=school_id)).order_by(User.display_name)).all()


def _check_worker(worker, school_id):
    if worker is None or worker.role not in CASEWORK_ROLES or not worker.active \
            or school_id not in {s.id for s in worker.schools}:
        raise CaseError("worker", "worker_not_eligible")


def open_case(actor, student, *, worker, risk_level="low"):
    if risk_level not in RISK_LEVELS:
        raise CaseError("risk_level", "invalid")
    existing = db.session.scalar(select(Case.id).where(Case.student_id == student.id,
                                                       Case.status != "closed"))
    if existing:
        raise CaseError(None, "already_open")
    _check_worker(worker, student.school_id)
    case = Case(student=student, school_id=student.school_id, worker=worker, opened_by=actor,
                risk_level=risk_level, status="intake", reference="pending")
    db.session.add(case)
    try:
        db.session.flush()
    except IntegrityError:  # another case for this student was opened a moment ago
        raise CaseError(None, "already_open") from None
    case.reference = f"C{case.opened_at:%Y}-{case.id:05d}"
    timeline.add(case, "case_opened", actor=actor, occurred_at=case.opened_at,
                 params={"worker": worker.display_name})
    audit.record("case.opened", case, actor=actor,
                 details={"student_id": student.id, "worker_id": worker.id})
    return case


def change_status(actor, case, new_status, *, version=None):
    check_version(case, version)
    if new_status not in CASE_STATUSES or new_status not in TRANSITIONS[case.status]:
        raise CaseError("status", "illegal_transition")
    old, case.status = case.status, new_status
    timeline.add(case, "status_changed", actor=actor, params={"old": old, "new": new_status})
    audit.record("case.status_changed", case, actor=actor, details={"old": old, "new": new_status})


def close_case(actor, case, *, approved_by=None):
    """Close an open case. Called when a supervisor approves a closure request (and by fixtures)."""
    if not case.is_open:
        raise CaseError("status", "illegal_transition")
    old, case.status, case.closed_at = case.status, "closed", clock.now()
    timeline.add(case, "status_changed", actor=approved_by or actor, params={"old": old, "new": "closed"})
    audit.record("case.closed", case, actor=approved_by or actor, details={"old": old})


def reopen_case(actor, case, reason, *, version=None):
    check_version(case, version)
    if case.is_open:
        raise CaseError("status", "illegal_transition")
    if not (reason or "").strip():
        raise CaseError("reason", "required")
    existing = db.session.scalar(select(Case.id).where(Case.student_id == case.student_id, Case.status != "closed"))
    if existing:
        raise CaseError(None, "already_open")
    case.status, case.closed_at = "active", None
    timeline.add(case, "case_reopened", actor=actor, detail=reason.strip()[:2000])
    audit.record("case.reopened", case, actor=actor)


def change_risk(actor, case, level, reason, *, version=None):
    """A risk change needs a written reason; it goes on the timeline, encrypted."""
    check_version(case, version)
    if level not in RISK_LEVELS:
        raise CaseError("risk_level", "invalid")
    if level == case.risk_level:
        raise CaseError("risk_level", "unchanged")
    if not (reason or "").strip():
        raise CaseError("reason", "required")
    old, case.risk_level = case.risk_level, level
    timeline.add(case, "risk_changed", actor=actor, params={"old": old, "new": level},
                 detail=reason.strip())
    audit.record("case.risk_changed", case, actor=actor, details={"old": old, "new": level})


def assign_worker(actor, case, worker, *, version=None):
    check_version(case, version)
    _check_worker(worker, case.school_id)
    if worker.id == case.worker_id:
        raise CaseError("worker", "unchanged")
    old = case.worker
    case.worker = worker
    # The new worker replaces, not joins, the old one; a member who becomes worker leaves members.
    case.members = [m for m in case.members if m.user_id != worker.id]
    timeline.add(case, "worker_assigned", actor=actor,
                 params={"old": old.display_name, "new": worker.display_name})
    audit.record("case.worker_assigned", case, actor=actor,
                 details={"old": old.id, "new": worker.id})


def add_member(actor, case, user, *, version=None):
    check_version(case, version)
    _check_worker(user, case.school_id)
    if user.id == case.worker_id or any(m.user_id == user.id for m in case.members):
        raise CaseError("member", "already_member")
    case.members.append(CaseMember(user=user, added_by_id=actor.id))
    _touch(case)
    timeline.add(case, "member_added", actor=actor, params={"name": user.display_name})
    audit.record("case.member_added", case, actor=actor, details={"user_id": user.id})


def remove_member(actor, case, user_id, *, version=None):
    check_version(case, version)
    member = next((m for m in case.members if m.user_id == user_id), None)
    if member is None:
        raise CaseError("member", "not_member")
    name = member.user.display_name
    case.members.remove(member)
    _touch(case)
    timeline.add(case, "member_removed", actor=actor, params={"name": name})
    audit.record("case.member_removed", case, actor=actor, details={"user_id": user_id})


def _touch(case):
    """Bump the version so a form drawn before a team change is refused as stale."""
    case.updated_at = clock.now()
