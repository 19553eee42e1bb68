"""Account and school administration rules. Flush, never commit; audit every change."""
from sqlalchemy import func, select

from .. import audit, clock
from ..auth.passwords import hash_password, password_problems
from ..auth.services import AccountError, end_other_sessions, validate_supervisor
from ..extensions import db
from ..models import Case, School, User
from ..models.people import TIERS


def supervisor_choices():
    """Active staff who can supervise someone (any supervision tier above a worker)."""
    return db.session.scalars(select(User).where(User.role.in_([r for r, t in TIERS.items() if t > 1]),
                                                 User.active.is_(True))
                              .order_by(User.display_name)).all()


def _apply(user, data):
    supervisor = db.session.get(User, data["supervisor_id"]) if data.get("supervisor_id") else None
    problem = validate_supervisor(data["role"], supervisor)
    if problem:
        raise AccountError("supervisor", problem)
    if supervisor is not None and user.id is not None and supervisor.id == user.id:
        raise AccountError("supervisor", "not_higher")
    # A role change must keep everyone this user supervises below them (deactivated people
    # included: they can be reactivated, and a loop in the line must never be possible).
    if user.id is not None and data["role"] != user.role:
        below = db.session.scalars(select(User).where(User.supervisor_id == user.id)).all()
        if any(TIERS.get(data["role"], 0) <= TIERS.get(s.role, 0) for s in below):
            raise AccountError("role", "would_break_line")
    if user.id is not None and supervisor is not None and user.id in _chain_above(supervisor):
        raise AccountError("supervisor", "not_higher")
    # Case access follows the team and its line: moving someone with open cases to another
    # school or line would carry those cases with them. Reassign first (as for deactivation).
    new_schools = set(data.get("school_ids") or [])
    moved = user.id is not None and (
        (supervisor.id if supervisor else None) != user.supervisor_id or data["role"] != user.role
        or new_schools != {s.id for s in user.schools})
    if moved and open_case_count(user):
        raise AccountError(None, "has_cases_transfer")
    user.display_name = data["display_name"].strip()
    user.email = (data.get("email") or "").strip() or None
    user.role = data["role"]
    user.supervisor = supervisor
    user.on_duty = bool(data.get("on_duty"))
    user.schools = db.session.scalars(select(School).where(School.id.in_(data.get("school_ids") or []))).all()


def _chain_above(user) -> set[int]:
    """The ids from `user` up the line, stopping at a repeat (so even bad data cannot loop)."""
    seen = set()
    while user is not None and user.id not in seen:
        seen.add(user.id)
        user = user.supervisor
    return seen


def open_case_count(user) -> int:
    from ..models import CaseMember
    return db.session.scalar(select(func.count()).select_from(Case).where(
        Case.status != "closed",
        (Case.worker_id == user.id) | Case.members.any(CaseMember.user_id == user.id)))


def _tell_line(actor, user, old_supervisor_id):
    """Supervision changes are visible to the people they affect (an admin cannot quietly put
    themselves, or an account they control, above a team)."""
    from ..alerts.services import notify
    from ..web import path_for
    ids = {i for i in (old_supervisor_id, user.supervisor_id) if i}
    if user.role in TIERS and TIERS[user.role] > 1:
        ids |= set(db.session.scalars(select(User.id).where(User.role == "supervisor_mentor",
                                                            User.active.is_(True))))
    for uid in ids - {user.id}:
        notify(db.session.get(User, uid), "line_changed", path_for("home.index"),
               params={"name": user.display_name, "by": actor.display_name if actor else ""})


def create_user(actor, data):
    username = data["username"].strip().lower()
    if db.session.scalar(select(User.id).where(User.username == username)):
        raise AccountError("username", "taken")
    problems = password_problems(data.get("password") or "", [username, data["display_name"]])
    if problems:
        raise AccountError("password", " ".join(problems))
    user = User(username=username, password_hash=hash_password(data["password"]),
                password_changed_at=clock.now(), active=True, role=data["role"])
    db.session.add(user)
    with db.session.no_autoflush:  # not inserted until every field is set
        _apply(user, data)
    db.session.flush()
    audit.record("user.created", user, actor=actor, details={"role": user.role})
    if user.supervisor_id or TIERS.get(user.role, 0) > 1:
        _tell_line(actor, user, None)
    return user


def update_user(actor, user, data, version=None):
    if version is not None and str(version) != str(user.version_id):
        raise AccountError(None, "stale")
    before = {"role": user.role, "supervisor_id": user.supervisor_id,
              "schools": sorted(s.id for s in user.schools)}
    _apply(user, data)
    if before["supervisor_id"] != user.supervisor_id or before["role"] != user.role:
        _tell_line(actor, user, before["supervisor_id"])
    if data.get("password"):
        problems = password_problems(data["password"], [user.username, user.display_name])
        if problems:
            raise AccountError("password", " ".join(problems))
        user.password_hash = hash_password(data["password"])
        user.password_changed_at = clock.now()
        end_other_sessions(user, reason="password_reset")
    db.session.flush()
    after = {"role": user.role, "supervisor_id": user.supervisor_id,
             "schools": sorted(s.id for s in user.schools)}
    audit.record("user.updated", user, actor=actor,
                 details={"changed": sorted(k for k in after if after[k] != before[k]),
                          "password_reset": bool(data.get("password"))})


def set_active(actor, user, active: bool):
    if user.id == actor.id:
        raise AccountError(None, "self")
    if not active:
        if db.session.scalar(select(func.count()).select_from(User).where(
                User.supervisor_id == user.id, User.active.is_(True))):
            raise AccountError(None, "has_supervisees")
        if open_case_count(user):
            raise AccountError(None, "has_cases")
        from ..supervision.line import orphans
        if any(orphans(user).values()):  # escalations, home visits or actions still waiting on them
            raise AccountError(None, "has_open_items")
        user.deactivated_at = clock.now()
        end_other_sessions(user, reason="deactivated")
    else:
        problem = validate_supervisor(user.role, user.supervisor)
        if problem:  # the line changed while this person was away: fix their supervisor first
            raise AccountError(None, "reactivate_line")
        user.deactivated_at = None
    user.active = active
    audit.record("user.activated" if active else "user.deactivated", user, actor=actor)


def save_school(actor, school, data):
    code = data["code"].strip().upper()
    clash = db.session.scalar(select(School.id).where(School.code == code))
    if clash and clash != school.id:
        raise AccountError("code", "taken")
    created = school.id is None
    school.code, school.name, school.active = code, data["name"].strip(), bool(data["active"])
    db.session.add(school)
    db.session.flush()
    audit.record("school.created" if created else "school.updated", school, actor=actor)
    return school

