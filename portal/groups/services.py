"""Rules of group work: groups, their facilitators and members, sessions with attendance.
Flush, never commit; audit every change.

A session is a service record: it enters the review thread of the work cycle
(`casework.services`), and its author's supervision line accepts it or returns it with comments
from the review queue. Each member's attendance, and what was observed about them, goes on that
member's own case (the timeline and the case's Groups section) under the case's key; nothing
about one member is written where another member's case team could read it.
"""
import json
from datetime import datetime, time, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from .. import audit, clock
from ..alerts import services as alerts
from ..cases import timeline
from ..casework import services as work
from ..crypto import new_uid
from ..extensions import db
from ..i18n import local_today
from ..models import (Case, GroupAttendance, GroupFacilitator, GroupMember, GroupSession, Student, StudentGroup,
                      TimelineEntry)
from ..models.groups import ATTENDANCE, GROUP_KINDS
from ..models.people import CASEWORK_ROLES
from ..permissions import line_below, team_scope
from ..rules import RuleError, clean_text
from ..web import path_for

MAX_MEMBERS = 30
MAX_SESSIONS = 100


class GroupError(RuleError):
    pass


def _text(value, field, required=True, limit=4000):
    return clean_text(value, field, required=required, limit=limit, error=GroupError)


def _open_cases(student_ids) -> dict:
    """student id -> their open case (one query; a student has at most one open case)."""
    if not student_ids:
        return {}
    return {c.student_id: c for c in db.session.scalars(
        select(Case).where(Case.student_id.in_(student_ids), Case.status != "closed"))}


# -- groups ----------------------------------------------------------------------------------------

def _group_fields(school, *, name, kind, purpose, planned_sessions, starts_on, meets, facilitators):
    if kind not in GROUP_KINDS:
        raise GroupError("kind", "invalid")
    if planned_sessions is None or not 1 <= int(planned_sessions) <= MAX_SESSIONS:
        raise GroupError("planned_sessions", "sessions")
    people = [u for u in facilitators if u is not None]
    if not people:
        raise GroupError("facilitators", "one_facilitator")
    for u in people:
        if u.role not in CASEWORK_ROLES or not u.active or school.id not in {s.id for s in u.schools}:
            raise GroupError("facilitators", "facilitator")
    return {"name": _text(name, "name", limit=200), "kind": kind, "purpose": _text(purpose, "purpose"),
            "planned_sessions": int(planned_sessions), "starts_on": starts_on,
            "meets": _text(meets, "meets", required=False, limit=200) or None, "facilitators": people}


def _keeps_access(actor, f):
    """Whoever sets up or edits a group stays able to see it: a facilitator, or above one."""
    if not {u.id for u in f["facilitators"]} & team_scope(actor):
        raise GroupError("facilitators", "own_group")


def _apply_group(group, f):
    group.name, group.kind, group.planned_sessions = f["name"], f["kind"], f["planned_sessions"]
    group.starts_on, group.meets = f["starts_on"], f["meets"]
    group.purpose = f["purpose"]
    wanted = {u.id for u in f["facilitators"]}
    have = {x.user_id for x in group.facilitators}
    group.facilitators = [x for x in group.facilitators if x.user_id in wanted] + [
        GroupFacilitator(user_id=uid) for uid in sorted(wanted - have)]


def create_group(actor, school, **fields):
    if school is None or school.id not in {s.id for s in actor.schools}:
        raise GroupError("school_id", "invalid")
    f = _group_fields(school, **fields)
    _keeps_access(actor, f)
    group = StudentGroup(uid=new_uid(), school=school, status="active", created_by=actor, created_at=clock.now())
    db.session.add(group)
    _apply_group(group, f)
    db.session.flush()
    audit.record("group.created", group, actor=actor,
                 details={"school_id": school.id, "facilitators": sorted(u.id for u in f["facilitators"])})
    return group


def update_group(actor, group, *, version=None, **fields):
    if version not in (None, "") and str(version) != str(group.version_id):
        raise GroupError(None, "stale")
    f = _group_fields(group.school, **fields)
    _keeps_access(actor, f)
    _apply_group(group, f)
    db.session.flush()
    audit.record("group.updated", group, actor=actor,
                 details={"facilitators": sorted(u.id for u in f["facilitators"])})


def end_group(actor, group, *, version):
    """`version` is the group as the page showed it: required, so a stray request ends nothing."""
    if not group.is_active or str(version) != str(group.version_id):
        raise GroupError(None, "stale")
    group.status, group.ended_on = "ended", local_today()
    audit.record("group.ended", group, actor=actor)


def add_members(actor, group, students):
    """Add students of the group's school; each is linked to their open case, if they have one.
    Someone who left and comes back keeps their row (and their past attendance)."""
    if not group.is_active:
        raise GroupError(None, "ended")
    by_student = {m.student_id: m for m in group.members}
    count = len(group.current_members)
    cases = _open_cases({s.id for s in students})
    added = []
    for st in students:
        if st is None or st.school_id != group.school_id or not st.active:
            raise GroupError("student_ids", "student")
        m = by_student.get(st.id)
        if m is not None and m.left_on is None:
            continue
        if count >= MAX_MEMBERS:
            raise GroupError("student_ids", "full")
        if m is None:
            m = GroupMember(group=group, student=st, added_by_id=actor.id)
            db.session.add(m)
            by_student[st.id] = m
        m.joined_on, m.left_on = local_today(), None
        m.case = cases.get(st.id)
        count += 1
        added.append(m)
    if not added:
        raise GroupError("student_ids", "none_added")
    db.session.flush()
    audit.record("group.members_added", group, actor=actor, details={"students": [m.student_id for m in added]})
    return added


def remove_member(actor, member, *, version):
    if member.left_on is not None or str(version) != str(member.group.version_id):
        raise GroupError(None, "stale")
    member.left_on = local_today()
    audit.record("group.member_left", member.group, actor=actor, details={"student": member.student_id})


# -- sessions -------------------------------------------------------------------------------------------

def _session_fields(group, occurred_on, duration, topic, summary):
    if occurred_on is None or occurred_on > local_today():
        raise GroupError("occurred_on", "future")
    if occurred_on < group.created_at.date() - timedelta(days=30):
        raise GroupError("occurred_on", "before_group")
    if duration is None or not 1 <= int(duration) <= 600:
        raise GroupError("duration", "duration")
    return {"occurred_on": occurred_on, "duration": int(duration), "topic": _text(topic, "topic", limit=200),
            "summary": _text(summary, "summary", limit=10000)}


def _marks(members, marks):
    """{member id: (status, observation)} for exactly these members, every one marked."""
    ids = {m.id for m in members}
    if set(marks) - ids:
        raise GroupError("attendance", "not_member")
    out = {}
    for m in members:
        status, observation = marks.get(m.id, (None, None))
        if status not in ATTENDANCE:
            raise GroupError("attendance", "mark", member_id=m.id)
        try:
            out[m.id] = (status, _text(observation, "attendance", required=False) or None)
        except GroupError as exc:
            raise GroupError("attendance", exc.code, member_id=m.id) from None
    return out


def _snapshot(f, marks):
    """What the thread keeps of a submission: the group-level record and who came. Observations
    stay out: they belong to each student's case key, not the group's."""
    return {"occurred_on": f["occurred_on"], "duration": f["duration"], "topic": f["topic"], "summary": f["summary"],
            "attendance": {str(k): v[0] for k, v in marks.items()}}


def _on_case(actor, session, att, observation, kind="group_attendance"):
    """The member's case learns of the session: a timeline entry with the observation (under the
    case's key), and, when someone else wrote about their student, the case's worker is told."""
    if att.case is None:
        return None
    entry = timeline.add(att.case, kind, actor=actor, occurred_at=datetime.combine(session.occurred_on, time(12)),
                         params={"group": session.group.name, "number": session.number, "status": att.status,
                                 "topic": session.topic}, detail=observation, ref=att)
    if observation and kind == "group_attendance" and att.case.worker_id != actor.id:
        alerts.notify(att.case.worker, "group_observation", path_for("cases.show", case_id=att.case_id) + "#groups",
                      params={"case": att.case.reference, "group": session.group.name, "by": actor.display_name})
    return entry


def find_by_token(actor, token):
    return db.session.scalar(select(GroupSession).where(GroupSession.submission_token == token,
                                                        GroupSession.author_id == actor.id)) if token else None


def record_session(actor, group, *, occurred_on, duration, topic, summary, marks, token=None):
    """Record a held session for review; the same form token twice gives the first session back."""
    if not group.is_active:
        raise GroupError(None, "ended")
    existing = find_by_token(actor, token)
    if existing is not None and existing.group_id == group.id:
        return existing
    f = _session_fields(group, occurred_on, duration, topic, summary)
    members = group.current_members
    if not members:
        raise GroupError(None, "no_members")
    marks = _marks(members, marks)
    number = (db.session.scalar(select(func.max(GroupSession.number)).where(GroupSession.group_id == group.id))
              or 0) + 1
    session = GroupSession(uid=new_uid(), group=group, number=number, occurred_on=f["occurred_on"],
                           duration_minutes=f["duration"], topic=f["topic"], author=actor, status="submitted",
                           submitted_at=clock.now(), revision=1, submission_token=token or None)
    db.session.add(session)
    session.summary = f["summary"]
    cases = _open_cases({m.student_id for m in members})
    for m in members:
        m.case = cases.get(m.student_id)  # the link follows the student's case as it is today
        status, observation = marks[m.id]
        att = GroupAttendance(uid=new_uid(), session=session, member=m, student=m.student, case=m.case,
                              status=status)
        db.session.add(att)
        att.observation = observation
    try:
        db.session.flush()
    except IntegrityError:  # someone recorded this group's next session at the same moment
        raise GroupError(None, "concurrent") from None
    work.submit_for_review(actor, group, session, snapshot=_snapshot(f, marks))
    for att in session.attendance:
        _on_case(actor, session, att, marks[att.member_id][1])
    audit.record("group_session.submitted", session, actor=actor,
                 details={"group": group.id, "number": number, "members": len(members)})
    return session


def review_session(actor, session, decision, comment, *, version=None):
    status = work.decide_review(actor, session, session.group, decision, comment, version=version)
    audit.record(f"group_session.{status}", session, actor=actor)
    alerts.notify(session.author, "group_session_reviewed",
                  path_for("groups.session", group_id=session.group_id, session_id=session.id),
                  params={"status": status, "by": actor.display_name, "group": session.group.name,
                          "number": session.number})


def revise_session(actor, session, reply, *, version=None, occurred_on, duration, topic, summary, marks):
    """A returned session, corrected and resubmitted. A corrected observation replaces the one on
    the member's case (a misfiled one must leave that case), and the timeline says it was corrected."""
    work.check_state(session, "returned", version)
    f = _session_fields(session.group, occurred_on, duration, topic, summary)
    marks = _marks([a.member for a in session.attendance], marks)
    session.occurred_on, session.duration_minutes, session.topic = f["occurred_on"], f["duration"], f["topic"]
    session.summary = f["summary"]
    entries = {e.ref_id: e for e in db.session.scalars(select(TimelineEntry).where(
        TimelineEntry.case_id.in_({a.case_id for a in session.attendance if a.case_id}),
        TimelineEntry.ref_type == GroupAttendance.__tablename__, TimelineEntry.kind == "group_attendance",
        TimelineEntry.ref_id.in_([a.id for a in session.attendance])))}
    for att in session.attendance:
        status, observation = marks[att.member_id]
        changed = status != att.status or observation != att.observation
        att.status, att.observation = status, observation
        entry = entries.get(att.id)
        if entry is not None:  # the case's view of this attendance follows the record
            entry.params = {**entry.params, "status": status, "topic": session.topic}
            entry.occurred_at = datetime.combine(session.occurred_on, time(12))
            entry.detail = observation
        if changed:
            _on_case(actor, session, att, None, kind="group_attendance_revised")
    work.resubmit(actor, session, session.group, reply, _snapshot(f, marks))
    audit.record("group_session.revised", session, actor=actor, details={"revision": session.revision})


# -- reading -------------------------------------------------------------------------------------------

def visible_statement(user, status=None, school_id=None):
    """The groups whose facilitators include the user or anyone below them on the line."""
    stmt = (select(StudentGroup).where(StudentGroup.facilitators.any(GroupFacilitator.user_id.in_(team_scope(user))))
            .options(joinedload(StudentGroup.school),
                     selectinload(StudentGroup.facilitators).joinedload(GroupFacilitator.user)))
    if status in ("active", "ended"):
        stmt = stmt.where(StudentGroup.status == status)
    if school_id:
        stmt = stmt.where(StudentGroup.school_id == school_id)
    return stmt.order_by(StudentGroup.status, StudentGroup.name, StudentGroup.id)


def tallies(group_ids) -> dict:
    """group id -> {"members": current members, "sessions": held, "last": date of the last} (two queries)."""
    out = {gid: {"members": 0, "sessions": 0, "last": None} for gid in group_ids}
    if not group_ids:
        return out
    for gid, n in db.session.execute(select(GroupMember.group_id, func.count()).where(
            GroupMember.group_id.in_(group_ids), GroupMember.left_on.is_(None)).group_by(GroupMember.group_id)):
        out[gid]["members"] = n
    for gid, n, last in db.session.execute(select(GroupSession.group_id, func.count(), func.max(
            GroupSession.occurred_on)).where(GroupSession.group_id.in_(group_ids)).group_by(GroupSession.group_id)):
        out[gid]["sessions"], out[gid]["last"] = n, last
    return out


def load_group(group_id):
    return db.session.scalar(select(StudentGroup).where(StudentGroup.id == group_id).options(
        joinedload(StudentGroup.school), joinedload(StudentGroup.created_by),
        selectinload(StudentGroup.facilitators).joinedload(GroupFacilitator.user),
        selectinload(StudentGroup.members).options(
            joinedload(GroupMember.student), joinedload(GroupMember.case).selectinload(Case.members))))


def sessions_of(group):
    return db.session.scalars(select(GroupSession).where(GroupSession.group_id == group.id)
                              .options(joinedload(GroupSession.author), selectinload(GroupSession.attendance))
                              .order_by(GroupSession.number.desc())).all()


def load_session(group, session_id):
    return db.session.scalar(select(GroupSession).where(GroupSession.id == session_id,
                                                        GroupSession.group_id == group.id)
                             .options(joinedload(GroupSession.author), selectinload(GroupSession.attendance).options(
                                 joinedload(GroupAttendance.member), joinedload(GroupAttendance.student),
                                 joinedload(GroupAttendance.case))))


def for_case(case, limit=200):
    """The student's own attendance and observations: rows on this case, and rows from before it
    (no case then, kept under the student's key). Never another member's."""
    return db.session.scalars(
        select(GroupAttendance).join(GroupSession, GroupSession.id == GroupAttendance.session_id)
        .where(or_(GroupAttendance.case_id == case.id,
                   and_(GroupAttendance.case_id.is_(None), GroupAttendance.student_id == case.student_id)))
        .options(joinedload(GroupAttendance.session).joinedload(GroupSession.group)
                 .selectinload(StudentGroup.facilitators))
        .order_by(GroupSession.occurred_on.desc(), GroupSession.id.desc()).limit(limit)).all()


def queue_statement(user, worker_id=None, school_id=None):
    """Group sessions of the line below the user waiting for review, oldest first."""
    stmt = (select(GroupSession).join(StudentGroup, StudentGroup.id == GroupSession.group_id)
            .where(GroupSession.status == "submitted", GroupSession.author_id.in_(line_below(user)))
            .options(joinedload(GroupSession.author), joinedload(GroupSession.group).joinedload(StudentGroup.school),
                     selectinload(GroupSession.attendance)))
    if worker_id:
        stmt = stmt.where(GroupSession.author_id == worker_id)
    if school_id:
        stmt = stmt.where(StudentGroup.school_id == school_id)
    return stmt.order_by(GroupSession.submitted_at, GroupSession.id)


def queue_count(user) -> int:
    below = line_below(user)
    if not below:
        return 0
    return db.session.scalar(select(func.count()).select_from(GroupSession).where(
        GroupSession.status == "submitted", GroupSession.author_id.in_(below)))


def returned_to(user):
    return db.session.scalars(select(GroupSession).where(GroupSession.author_id == user.id,
                                                         GroupSession.status == "returned")
                              .options(joinedload(GroupSession.group)).order_by(GroupSession.submitted_at)).all()


def my_groups(user):
    """Active groups the user facilitates, with sessions held so far (My day)."""
    groups = db.session.scalars(select(StudentGroup).where(
        StudentGroup.status == "active", StudentGroup.facilitators.any(GroupFacilitator.user_id == user.id))
        .options(joinedload(StudentGroup.school)).order_by(StudentGroup.name)).all()
    counts = tallies([g.id for g in groups])
    return [(g, counts[g.id]) for g in groups]


def snapshot_of(entry):
    return json.loads(entry.snapshot) if entry.snapshot_ct else None


def students_to_add(group, q, limit=20):
    """Active students of the group's school matching q, not already in the group."""
    from ..students.services import MAX_QUERY
    q = (q or "").strip()[:MAX_QUERY]
    if not q:
        return []
    like = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    current = select(GroupMember.student_id).where(GroupMember.group_id == group.id, GroupMember.left_on.is_(None))
    return db.session.scalars(
        select(Student).where(Student.school_id == group.school_id, Student.active.is_(True),
                              Student.id.not_in(current),
                              or_(func.lower(Student.family_name + Student.given_name).like(like, escape="\\"),
                                  func.lower(Student.given_name + " " + Student.family_name).like(like, escape="\\"),
                                  func.lower(Student.student_number).like(like, escape="\\")))
        .order_by(Student.family_name, Student.given_name, Student.id).limit(limit)).all()


# -- timeline summaries -----------------------------------------------------------------------------------

from flask_babel import lazy_gettext as _l  # noqa: E402

from ..i18n import label  # noqa: E402


@timeline.summary("group_attendance")
def _attendance_summary(p):
    return _l("Group session %(n)s of “%(group)s” (%(topic)s): %(status)s", n=p.get("number", ""),
              group=p.get("group", ""), topic=p.get("topic", ""), status=label("attendance", p.get("status")))


@timeline.summary("group_attendance_revised")
def _attendance_revised(p):
    return _l("Group session %(n)s of “%(group)s” corrected: %(status)s", n=p.get("number", ""),
              group=p.get("group", ""), status=label("attendance", p.get("status")))
