"""The one access policy. Every view asks can()/require() before it reads or writes a record.

Deny by default: an action without a rule is refused. Rules are small functions of
(user, obj); they read the supervision line and the case team, never request data.

Who sees what:
- the case team is the assigned worker, added members, and everyone above any of them on the
  supervision line;
- teachers search students of their schools (to report a concern) and see nothing of cases;
- administrators manage accounts, schools and student lists and read no case content.
"""
from flask import abort, g
from flask_login import current_user
from sqlalchemy import and_, or_, select

from .extensions import db
from .models import Case, CaseMember, User
from .models.people import CASEWORK_ROLES, SUPERVISOR_ROLES


class Denied(Exception):
    pass


# -- facts about a user, computed once per request -------------------------------------------

def _memo(key, user, compute):
    store = g.setdefault("perm_memo", {})
    k = (key, user.id)
    if k not in store:
        store[k] = compute()
    return store[k]


def school_ids(user) -> frozenset:
    return _memo("schools", user, lambda: frozenset(s.id for s in user.schools))


def line_below(user) -> frozenset:
    """Ids of everyone below `user` on the supervision line (one recursive query)."""
    def compute():
        below = select(User.id).where(User.supervisor_id == user.id).cte("below", recursive=True)
        # UNION (not UNION ALL): even a corrupted line with a loop ends the recursion.
        below = below.union(select(User.id).where(User.supervisor_id == below.c.id))
        return frozenset(db.session.scalars(select(below.c.id)))
    if user.role not in SUPERVISOR_ROLES:
        return frozenset()
    return _memo("below", user, compute)


def team_scope(user) -> frozenset:
    """The user and everyone under them: a case whose team includes any of these is theirs."""
    return frozenset({user.id}) | line_below(user)


def visible_cases_clause(user):
    """SQL filter for the cases `user` may read, for list queries (same rule as case.view)."""
    ids = team_scope(user)
    return or_(Case.worker_id.in_(ids),
               Case.members.any(CaseMember.user_id.in_(ids)))


def visible_concerns_clause(user):
    """SQL filter for the concerns `user` may read (the rule of concern.read, for figures): new ones
    at the user's schools, linked ones through their case, closed ones by whoever triaged them
    and their line."""
    from .models import Concern
    return and_(Concern.school_id.in_(school_ids(user)), or_(
        Concern.status == "new",
        and_(Concern.status == "linked", Concern.case.has(visible_cases_clause(user))),
        and_(Concern.status == "no_action", Concern.triaged_by_id.in_(team_scope(user)))))


def in_team(user, case) -> bool:
    ids = team_scope(user)
    return case.worker_id in ids or any(m.user_id in ids for m in case.members)


def has_grant(user, case) -> bool:
    """An unexpired break-the-glass grant for this case (team-level reading, never restricted notes)."""
    from . import clock
    from .models import AccessGrant

    def compute():
        return db.session.scalar(select(AccessGrant.id).where(
            AccessGrant.user_id == user.id, AccessGrant.case_id == case.id,
            AccessGrant.expires_at > clock.now()).limit(1)) is not None
    return _memo(("grant", case.id), user, compute)


def readable_notes_clause(user):
    """SQL filter: restricted notes only for their author and the author's supervision line."""
    from .models import Note
    return or_(Note.restricted.is_(False), Note.author_id.in_(team_scope(user)))


def _can_read_note(u, note):
    """Restricted: the author and the author's line, and only while they are on the case's team
    (someone taken off the case, or their supervisor, loses it). Emergency access never opens them."""
    if note.restricted:
        return _casework(u) and note.author_id in team_scope(u) and in_team(u, note.case)
    return _casework(u) and (in_team(u, note.case) or has_grant(u, note.case))


def _crisis_responder(u, crisis):
    """Whoever started a crisis, and everyone its alert reached, work on that crisis while it is
    open and they work at its school, without becoming members of the case (whose notes and
    records stay with its team)."""
    if not crisis.is_open or crisis.school_id not in school_ids(u):  # moved school: no longer theirs
        return False
    return crisis.started_by_id == u.id or (
        crisis.alert is not None and any(r.user_id == u.id for r in crisis.alert.recipients))


def _open_cases_of(student):
    def compute():
        return tuple(db.session.scalars(select(Case).where(Case.student_id == student.id, Case.status != "closed")))
    return _memo(("open_cases", student.id), _Anyone, compute)


class _Anyone:  # memo key for facts that do not depend on the user
    id = 0


def _family_keeper(u, student):
    """A student's family members and their details: the team of the student's open case (who
    work with the family), or, with no open case, the school's case workers."""
    if not _casework(u) or student.school_id not in school_ids(u):
        return False
    cases = _open_cases_of(student)
    return not cases or any(in_team(u, c) for c in cases)


def _can_read_concern(u, c):
    """New: the school's case workers (to triage). Linked: the case team. Closed without action:
    whoever triaged it and their line."""
    if not _casework(u) or c.school_id not in school_ids(u):
        return False
    if c.status == "new":
        return True
    if c.status == "linked" and c.case is not None:
        return in_team(u, c.case) or has_grant(u, c.case)
    return c.triaged_by_id in team_scope(u)


def _group_team(u, group):
    """A group's facilitators and everyone above them on the supervision line. Nobody else sees
    the group (its members' names, the session summaries): not even the members' case teams, who
    see their own student's attendance and observations on the case."""
    ids = team_scope(u)
    return _casework(u) and any(f.user_id in ids for f in group.facilitators)


# -- rules -----------------------------------------------------------------------------------

def _casework(user):
    return user.role in CASEWORK_ROLES


def _admin(user):
    return user.role == "admin"


def _configured(user, key):
    from flask import current_app
    return user.role in {r.strip() for r in current_app.config[key].split(",")}


def line_manager(user) -> bool:
    """The top tiers (configuration) who move people on their line and keep its policy."""
    return user.role in SUPERVISOR_ROLES and _configured(user, "LINE_MANAGERS")


def district_viewer(user) -> bool:
    return user.role in SUPERVISOR_ROLES and _configured(user, "DISTRICT_ROLES")


def _above(u, person_id) -> bool:
    """u is higher up the supervision line than the person."""
    return u.role in SUPERVISOR_ROLES and person_id in line_below(u)


def _session_reader(u, s):
    """A supervision session: who held it, who attended, and the line above who held it."""
    return _casework(u) and (u.id == s.supervisor_id or any(a.id == u.id for a in s.attendees)
                             or _above(u, s.supervisor_id))


def _study_reader(u, st):
    """A case study: approved ones are for every case worker (shared, de-identified); a draft for
    its author and the author's line above."""
    return _casework(u) and (st.status == "approved" or st.author_id == u.id or _above(u, st.author_id))


RULES = {
    "home.view": lambda u, o: True,
    "account.self": lambda u, o: True,
    # Students: teachers find a student to report a concern; case workers see the student record.
    "student.search": lambda u, o: u.role == "teacher" or _casework(u),
    "student.view": lambda u, o: _casework(u) and o.school_id in school_ids(u),
    # Cases
    "case.list": lambda u, o: _casework(u),
    "case.open": lambda u, o: _casework(u) and o.school_id in school_ids(u),
    "case.view": lambda u, o: _casework(u) and (in_team(u, o) or has_grant(u, o)),
    # Status, risk and team: the assigned worker or their line above, not every member.
    "case.edit": lambda u, o: _casework(u) and o.worker_id in team_scope(u),
    "case.assign": lambda u, o: u.role in SUPERVISOR_ROLES and o.worker_id in team_scope(u),
    # Break the glass: a supervisor outside the case's line, with a written reason (audited).
    "case.break_glass": lambda u, o: u.role in SUPERVISOR_ROLES and not in_team(u, o),
    # Who read what, and reviewing emergency access: supervisors above the assigned worker.
    "case.access_log": lambda u, o: u.role in SUPERVISOR_ROLES and o.worker_id in line_below(u),
    # Confidential notes and attachments: the team writes; reading follows the note's restriction.
    "note.create": lambda u, o: _casework(u) and in_team(u, o),
    "note.read": lambda u, o: _can_read_note(u, o),
    "note.amend": lambda u, o: o.author_id == u.id and in_team(u, o.case) and _can_read_note(u, o),
    "attachment.upload": lambda u, o: _casework(u) and in_team(u, o),
    "attachment.read": lambda u, o: (_can_read_note(u, o.note) if o.note_id
                                     else _casework(u) and (in_team(u, o.case) or has_grant(u, o.case))),
    # Concerns: any school staff member reports; case workers of the school triage.
    "concern.create": lambda u, o: u.role == "teacher" or _casework(u),
    "concern.mine": lambda u, o: u.role == "teacher" or _casework(u),
    "concern.receipt": lambda u, o: o.reporter_id == u.id,
    "concern.queue": lambda u, o: _casework(u),
    "concern.triage": lambda u, o: _casework(u) and o.school_id in school_ids(u) and o.status == "new",
    "concern.read": lambda u, o: _can_read_concern(u, o),
    # The work cycle: the team writes records; the author's line above reviews them.
    "record.create": lambda u, o: _casework(u) and in_team(u, o),
    "assessment.create": lambda u, o: _casework(u) and in_team(u, o) and o.is_open,
    "record.read": lambda u, o: _casework(u) and (in_team(u, o.case) or has_grant(u, o.case)),
    "record.review": lambda u, o: u.role in SUPERVISOR_ROLES and o.author_id in line_below(u),
    "record.revise": lambda u, o: o.author_id == u.id and in_team(u, o.case),
    "plan.submit": lambda u, o: _casework(u) and o.worker_id in team_scope(u),
    "plan.decide": lambda u, o: u.role in SUPERVISOR_ROLES and o.author_id in line_below(u),
    "review.queue": lambda u, o: u.role in SUPERVISOR_ROLES,
    "case.request_closure": lambda u, o: _casework(u) and o.worker_id in team_scope(u) and o.is_open,
    "closure.decide": lambda u, o: u.role in SUPERVISOR_ROLES and o.author_id in line_below(u),
    "case.reopen": lambda u, o: _casework(u) and o.worker_id in team_scope(u) and not o.is_open,
    # Escalation: the worker or their line sends a case up; the receiver (or anyone above them) answers.
    "case.escalate": lambda u, o: _casework(u) and o.worker_id in team_scope(u) and o.is_open,
    "escalation.respond": lambda u, o: u.role in SUPERVISOR_ROLES and (
        o.to_user_id == u.id or o.to_user_id in line_below(u)),
    # Crisis: any case worker of the school may start one (a crisis cannot wait for the case's own
    # worker); the team acts on it; the assigned worker or their line asks for sign-off; someone
    # above the assigned worker signs off.
    "crisis.start": lambda u, o: _casework(u) and o.school_id in school_ids(u) and o.active,
    "crisis.view": lambda u, o: _casework(u) and (in_team(u, o.case) or has_grant(u, o.case)
                                                  or _crisis_responder(u, o)),
    "crisis.act": lambda u, o: _casework(u) and (in_team(u, o.case) or _crisis_responder(u, o)),
    "crisis.request_signoff": lambda u, o: _casework(u) and o.case.worker_id in team_scope(u),
    "crisis.signoff": lambda u, o: u.role in SUPERVISOR_ROLES and o.case.worker_id in line_below(u),
    # Family: the school's case workers keep a student's family members and record restrictions
    # (safety first); lifting one takes a supervisor. Contacts and visits belong to the case team;
    # a supervisor above the case's worker may override a restriction, with a reason.
    "guardian.edit": lambda u, o: _family_keeper(u, o),
    "restriction.add": lambda u, o: _family_keeper(u, o),
    "restriction.lift": lambda u, o: u.role in SUPERVISOR_ROLES and _family_keeper(u, o.guardian.student) and (
        not _open_cases_of(o.guardian.student) or any(c.worker_id in line_below(u)
                                                        for c in _open_cases_of(o.guardian.student))),
    "contact.create": lambda u, o: _casework(u) and in_team(u, o) and o.is_open,
    "contact.follow_up": lambda u, o: _casework(u) and in_team(u, o.case),
    "family.override": lambda u, o: u.role in SUPERVISOR_ROLES and o.worker_id in line_below(u),
    "visit.plan": lambda u, o: _casework(u) and in_team(u, o) and o.is_open,
    # The people on the visit, the case team, and the line above the visitor (who is alerted).
    "visit.view": lambda u, o: _casework(u) and (in_team(u, o.case) or u.id in (
        o.visitor_id, o.companion_id, o.checkin_contact_id) or o.visitor_id in line_below(u)),
    "visit.cancel": lambda u, o: _casework(u) and in_team(u, o.case),
    # Referrals: the directory is read by case workers and kept by supervisors and administrators;
    # consent and referrals belong to the case team.
    "agency.view": lambda u, o: _casework(u) or _admin(u),
    "agency.manage": lambda u, o: _admin(u) or u.role in SUPERVISOR_ROLES,
    "consent.record": lambda u, o: _casework(u) and in_team(u, o) and o.is_open,
    "consent.revoke": lambda u, o: _casework(u) and in_team(u, o.case),
    "referral.create": lambda u, o: _casework(u) and in_team(u, o) and o.is_open,
    "referral.view": lambda u, o: _casework(u) and (in_team(u, o.case) or has_grant(u, o.case)),
    "referral.update": lambda u, o: _casework(u) and in_team(u, o.case),
    # The student's disclosure log (what went to whom): those who keep the family's details.
    "disclosure.read": lambda u, o: _family_keeper(u, o),
    # Group work: case workers run groups in their schools; a group is its facilitators' and their
    # line's. A session is a service record: its author's line above reviews it.
    "group.list": lambda u, o: _casework(u),
    "group.create": lambda u, o: _casework(u) and bool(school_ids(u)),
    "group.view": lambda u, o: _group_team(u, o),
    "group.edit": lambda u, o: _group_team(u, o),
    "group.session": lambda u, o: _group_team(u, o) and o.is_active,
    "group_session.view": lambda u, o: _group_team(u, o.group),
    "group_session.review": lambda u, o: u.role in SUPERVISOR_ROLES and o.author_id in line_below(u),
    "group_session.revise": lambda u, o: o.author_id == u.id and _group_team(u, o.group),
    # Prevention and education: school-level work, read by the school's case workers and kept by
    # the organiser and their line. Teachers and administrators see neither groups nor activities.
    "activity.list": lambda u, o: _casework(u),
    "activity.create": lambda u, o: _casework(u) and bool(school_ids(u)),
    "activity.view": lambda u, o: _casework(u) and o.school_id in school_ids(u),
    "activity.edit": lambda u, o: _casework(u) and o.school_id in school_ids(u) and o.organiser_id in team_scope(u),
    # Retention and record requests: a legal hold is placed or lifted by a supervisor above the case's
    # worker; a student's record is exported for a guardian's or the student's request by a
    # supervisor of the student's school (with the cases of their own line only).
    "case.legal_hold": lambda u, o: u.role in SUPERVISOR_ROLES and o.worker_id in line_below(u),
    "student.export": lambda u, o: u.role in SUPERVISOR_ROLES and o.school_id in school_ids(u),
    # An export holds the cases of its producer's line: it is read by the producer and those above.
    "record_request.view": lambda u, o: u.role in SUPERVISOR_ROLES and o.student.school_id in school_ids(u)
    and (o.produced_by_id == u.id or o.produced_by_id in line_below(u)),
    # Supervision. The line: supervisors see theirs; the top tiers (and administrators) move people
    # and keep the policy; a supervisor above someone hands their open cases over in one step.
    "line.view": lambda u, o: u.role in SUPERVISOR_ROLES,
    "line.manage": lambda u, o: line_manager(u) and o.id in line_below(u),
    "line.policy": lambda u, o: _admin(u) or line_manager(u),
    "line.handover": lambda u, o: _above(u, o.id),
    "supervision.view": lambda u, o: _casework(u),
    # Sessions: a supervisor holds them with people of their line; attendees and the line above read.
    "session.create": lambda u, o: u.role in SUPERVISOR_ROLES,
    "session.view": lambda u, o: _session_reader(u, o),
    "session.edit": lambda u, o: u.id == o.supervisor_id,
    "action.complete": lambda u, o: _casework(u) and o.status == "open" and (
        u.id in (o.owner_id, o.session.supervisor_id) or _above(u, o.session.supervisor_id)),
    # Growth plans and performance reviews: set by someone above the supervisee; the supervisee
    # sees their own (a review once it is shared) and answers it.
    "growth.create": lambda u, o: u.role in SUPERVISOR_ROLES,
    "growth.view": lambda u, o: _casework(u) and (u.id == o.supervisee_id or _above(u, o.supervisee_id)),
    "growth.progress": lambda u, o: o.status == "active" and _casework(u) and (
        u.id == o.supervisee_id or _above(u, o.supervisee_id)),
    "growth.review": lambda u, o: o.status == "active" and _above(u, o.supervisee_id),
    "performance.create": lambda u, o: u.role in SUPERVISOR_ROLES,
    "performance.view": lambda u, o: _above(u, o.supervisee_id) or (
        u.id == o.supervisee_id and o.status != "draft"),
    "performance.write": lambda u, o: o.status == "draft" and u.id == o.reviewer_id and _above(u, o.supervisee_id),
    "performance.comment": lambda u, o: o.status == "shared" and u.id == o.supervisee_id,
    # De-identified case studies: the case team drafts one; a supervisor above the author approves
    # it before anyone can download it; approved studies are shared with every case worker.
    "casestudy.create": lambda u, o: _casework(u) and in_team(u, o),
    "casestudy.list": lambda u, o: _casework(u),
    "casestudy.view": lambda u, o: _study_reader(u, o),
    "casestudy.edit": lambda u, o: o.author_id == u.id and o.status in ("draft", "returned"),
    "casestudy.decide": lambda u, o: o.status == "submitted" and _above(u, o.author_id),
    "casestudy.download": lambda u, o: o.status == "approved" and _casework(u),
    # Figures: every case worker, scoped to what they may see; the district view for the top tier.
    "report.view": lambda u, o: _casework(u),
    "dashboard.district": lambda u, o: district_viewer(u),
    # Administration: accounts, schools, student lists; never case content.
    "admin.users": lambda u, o: _admin(u),
    "admin.schools": lambda u, o: _admin(u),
    "admin.students": lambda u, o: _admin(u),
}


def can(user, action: str, obj=None) -> bool:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    rule = RULES.get(action)
    if rule is None:
        return False
    return bool(rule(user, obj))


def require(action: str, obj=None):
    """Abort with 403 (audited by the error handler) unless current_user may do `action`."""
    if not can(current_user, action, obj):
        g.denied = {"action": action,
                    "object_type": getattr(obj, "__tablename__", None),
                    "object_id": getattr(obj, "id", None)}
        abort(403)
    return obj
