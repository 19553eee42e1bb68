"""Supervision sessions (督导会议), individual or group, and the action items agreed in them.
Flush, never commit; audit every change."""
from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from .. import audit, clock
from ..alerts import services as alerts
from ..crypto import new_uid
from ..extensions import db
from ..i18n import local_today
from ..models import ActionItem, Case, CaseMember, SessionCase, SupervisionSession, User
from ..models.supervision import SESSION_KINDS, session_attendees
from ..permissions import can, line_below, visible_cases_clause
from ..rules import RuleError, clean_text
from ..web import path_for


class SessionError(RuleError):
    pass


def _text(value, field, required=True, limit=10000):
    return clean_text(value, field, required=required, limit=limit, error=SessionError)


def attendee_choices(supervisor):
    """Active people of the supervisor's line, highest tier first."""
    people = db.session.scalars(select(User).where(User.id.in_(line_below(supervisor)), User.active.is_(True))
                                .order_by(User.display_name)).all()
    return sorted(people, key=lambda u: -u.tier)


def _fields(actor, kind, held_on, duration, attendee_ids, topics, decisions):
    if kind not in SESSION_KINDS:
        raise SessionError("kind", "invalid")
    if held_on is None or held_on > local_today():
        raise SessionError("held_on", "future")
    if held_on < local_today() - timedelta(days=366):
        raise SessionError("held_on", "too_old")
    if duration is None or not 5 <= int(duration) <= 600:
        raise SessionError("duration", "duration")
    allowed = {u.id: u for u in attendee_choices(actor)}
    ids = {int(i) for i in attendee_ids or ()}
    if not ids:
        raise SessionError("attendees", "attendees_required")
    if ids - set(allowed):
        raise SessionError("attendees", "not_in_line")
    if kind == "individual" and len(ids) != 1:
        raise SessionError("attendees", "individual_one")
    if kind == "group" and len(ids) < 2:
        raise SessionError("attendees", "group_two")
    return {"kind": kind, "held_on": held_on, "duration": int(duration),
            "attendees": sorted((allowed[i] for i in ids), key=lambda u: u.display_name),
            "topics": _text(topics, "topics", limit=10000), "decisions": _text(decisions, "decisions",
                                                                              required=False, limit=10000)}


def record_session(actor, *, kind, held_on, duration, attendee_ids, topics, decisions=None, actions=()):
    """A session held by `actor` with people of their line. `actions` are dicts of add_action's
    arguments (owner_id, due_on, text); rows left empty are skipped."""
    f = _fields(actor, kind, held_on, duration, attendee_ids, topics, decisions)
    s = SupervisionSession(uid=new_uid(), kind=f["kind"], held_on=f["held_on"], duration_minutes=f["duration"],
                           supervisor=actor, created_at=clock.now())
    s.attendees = f["attendees"]
    db.session.add(s)
    s.topics = f["topics"]
    s.decisions = f["decisions"] or None
    db.session.flush()
    audit.record("session.recorded", s, actor=actor,
                 details={"kind": s.kind, "attendees": [u.id for u in s.attendees]})
    for u in s.attendees:
        alerts.notify(u, "session_recorded", path_for("supervision.session", session_id=s.id),
                      params={"by": actor.display_name, "kind": s.kind})
    for n, a in enumerate(actions):
        if not (a.get("text") or "").strip() and not a.get("owner_id"):
            continue
        owner = db.session.get(User, a["owner_id"]) if a.get("owner_id") else None
        try:
            add_action(actor, s, owner=owner, due_on=a.get("due_on"), text=a.get("text"))
        except SessionError as exc:
            raise SessionError(exc.field, exc.code, row=n) from None
    return s


def update_session(actor, s, *, version=None, kind, held_on, duration, attendee_ids, topics, decisions=None):
    if version not in (None, "") and str(version) != str(s.version_id):
        raise SessionError(None, "stale")
    f = _fields(actor, kind, held_on, duration, attendee_ids, topics, decisions)
    owners = {a.owner_id for a in s.actions if a.status == "open"} - {u.id for u in f["attendees"]} - {s.supervisor_id}
    if owners:
        raise SessionError("attendees", "owner_left")
    added = {u.id for u in f["attendees"]} - {u.id for u in s.attendees}
    s.kind, s.held_on, s.duration_minutes = f["kind"], f["held_on"], f["duration"]
    s.attendees = f["attendees"]
    s.topics, s.decisions = f["topics"], f["decisions"] or None
    s.updated_at = clock.now()
    db.session.flush()
    audit.record("session.updated", s, actor=actor, details={"attendees": [u.id for u in s.attendees]})
    for u in s.attendees:
        if u.id in added:
            alerts.notify(u, "session_recorded", path_for("supervision.session", session_id=s.id),
                          params={"by": actor.display_name, "kind": s.kind})


def discussable_cases(s):
    """Open cases the supervisor may read whose worker or team includes an attendee, not yet added."""
    ids = {u.id for u in s.attendees}
    done = {c.case_id for c in s.cases}
    return [c for c in db.session.scalars(
        select(Case).where(Case.status != "closed", visible_cases_clause(s.supervisor),
                           or_(Case.worker_id.in_(ids), Case.members.any(CaseMember.user_id.in_(ids))))
        .options(joinedload(Case.student), joinedload(Case.worker)).order_by(Case.reference)) if c.id not in done]


def add_case(actor, s, case, notes):
    """A case discussed, with notes written under the case's own key."""
    if case is None or not can(actor, "case.view", case) or case.id not in {c.id for c in discussable_cases(s)}:
        raise SessionError("case", "case_not_discussable")
    sc = SessionCase(uid=new_uid(), session=s, case=case, added_by_id=actor.id, created_at=clock.now())
    db.session.add(sc)
    notes = _text(notes, "notes", required=False, limit=10000)
    if notes:
        sc.notes = notes
    try:
        db.session.flush()
    except IntegrityError:
        raise SessionError("case", "case_not_discussable") from None
    # Audited on the case too: its supervision line reads what was said about it there.
    audit.record("session.case_discussed", case, actor=actor, details={"session": s.id})
    return sc


def add_action(actor, s, *, owner, due_on, text, case=None):
    if owner is None or owner.id not in {u.id for u in s.attendees} | {s.supervisor_id}:
        raise SessionError("owner", "owner_not_present")
    if due_on is None:
        raise SessionError("due_on", "required")
    if due_on < local_today():
        raise SessionError("due_on", "past")
    text = _text(text, "text", limit=1000)
    if case is not None:
        # On a case: written under its key, so its owner must be able to read the case.
        if case.id not in {c.case_id for c in s.cases} or not can(owner, "case.view", case):
            raise SessionError("case", "action_case")
    item = ActionItem(uid=new_uid(), session=s, owner=owner, case=case, due_on=due_on, status="open",
                      created_at=clock.now())
    db.session.add(item)
    item.text = text
    db.session.flush()
    audit.record("action.assigned", item, actor=actor, details={"session": s.id, "owner": owner.id,
                                                                 "case": case.id if case else None})
    if owner.id != actor.id:
        alerts.notify(owner, "action_assigned", path_for("supervision.session", session_id=s.id) + f"#action-{item.id}",
                      params={"by": actor.display_name, "due": due_on.isoformat()})
    return item


def complete_action(actor, item, *, version=None):
    if item.status != "open" or (version not in (None, "") and str(version) != str(item.version_id)):
        raise SessionError(None, "already_handled")
    item.status, item.done_at, item.done_by = "done", clock.now(), actor
    db.session.flush()
    audit.record("action.done", item, actor=actor)


# -- queries --------------------------------------------------------------------------------------------

def load(session_id):
    return db.session.scalar(select(SupervisionSession).where(SupervisionSession.id == session_id).options(
        joinedload(SupervisionSession.supervisor), selectinload(SupervisionSession.attendees),
        selectinload(SupervisionSession.cases).joinedload(SessionCase.case).options(
            joinedload(Case.student), selectinload(Case.members)),
        selectinload(SupervisionSession.actions).options(
            joinedload(ActionItem.owner), joinedload(ActionItem.done_by),
            joinedload(ActionItem.case).selectinload(Case.members))))


def sessions_statement(user, person_id=None):
    """Sessions the user held or attended, and those held by anyone below them on the line."""
    below = line_below(user)
    attended = select(session_attendees.c.session_id).where(session_attendees.c.user_id == user.id)
    stmt = (select(SupervisionSession).where(or_(
        SupervisionSession.supervisor_id == user.id, SupervisionSession.id.in_(attended),
        SupervisionSession.supervisor_id.in_(below)))
        .options(joinedload(SupervisionSession.supervisor), selectinload(SupervisionSession.attendees),
                 selectinload(SupervisionSession.actions), selectinload(SupervisionSession.cases)))
    if person_id:
        stmt = stmt.where(or_(SupervisionSession.supervisor_id == person_id, SupervisionSession.id.in_(
            select(session_attendees.c.session_id).where(session_attendees.c.user_id == person_id))))
    return stmt.order_by(SupervisionSession.held_on.desc(), SupervisionSession.id.desc())


def my_actions(user, horizon_days=7):
    """Open actions the user owns, due within the horizon or overdue (for My day). An action on a
    case shows only while the owner may read that case: its text is the case's."""
    from ..permissions import visible_cases_clause
    return db.session.scalars(select(ActionItem).where(
        ActionItem.owner_id == user.id, ActionItem.status == "open",
        ActionItem.due_on <= local_today() + timedelta(days=horizon_days),
        or_(ActionItem.case_id.is_(None), ActionItem.case.has(visible_cases_clause(user))))
        .options(joinedload(ActionItem.session).joinedload(SupervisionSession.supervisor),
                 joinedload(ActionItem.case).joinedload(Case.student))
        .order_by(ActionItem.due_on, ActionItem.id)).all()


def open_actions(user):
    return db.session.scalars(select(ActionItem).where(ActionItem.owner_id == user.id, ActionItem.status == "open")
                              .options(joinedload(ActionItem.session).joinedload(SupervisionSession.supervisor),
                                       joinedload(ActionItem.case).options(joinedload(Case.student),
                                                                           selectinload(Case.members)))
                              .order_by(ActionItem.due_on, ActionItem.id)).all()


def case_discussions(case):
    """Where a case was discussed in supervision, for its case page."""
    return db.session.scalars(select(SessionCase).where(SessionCase.case_id == case.id)
                              .join(SupervisionSession, SupervisionSession.id == SessionCase.session_id)
                              .options(joinedload(SessionCase.session).joinedload(SupervisionSession.supervisor))
                              .order_by(SupervisionSession.held_on.desc()).limit(20)).all()

