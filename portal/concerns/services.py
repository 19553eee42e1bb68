"""Concern rules: filing (once per form), alerts, triage transitions, the reporter's view.

Flush, never commit. Errors carry the form field and a message code.
"""
from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import joinedload

from .. import audit, clock
from ..alerts import services as alerts
from ..cases import services as case_services, timeline
from ..crypto import new_uid
from ..extensions import db
from ..models import Case, Concern, Student
from ..models.concerns import CONCERN_CATEGORIES, URGENCIES
from ..permissions import school_ids
from ..web import path_for

MAX_DESCRIPTION = 5000
GROUP_WINDOW = timedelta(days=30)


class ConcernError(ValueError):
    def __init__(self, field, code):
        super().__init__(code)
        self.field = field
        self.code = code


def find_by_token(reporter, token):
    return db.session.scalar(select(Concern).where(Concern.submission_token == token,
                                                   Concern.reporter_id == reporter.id))


def file_concern(reporter, *, student_id, categories, urgency, observed_at, description,
                 action_taken=None, token):
    """Create a concern; the same token twice returns the first concern (double submit)."""
    existing = find_by_token(reporter, token)
    if existing is not None:
        return existing, False
    student = db.session.get(Student, student_id) if student_id else None
    if student is None or student.school_id not in school_ids(reporter) or not student.active:
        raise ConcernError("student_id", "unknown_student")
    if not categories or any(c not in CONCERN_CATEGORIES for c in categories):
        raise ConcernError("categories", "category")
    if urgency not in URGENCIES:
        raise ConcernError("urgency", "urgency")
    now = clock.now()
    if observed_at is None or observed_at > now + timedelta(minutes=5):
        raise ConcernError("observed_at", "future")
    if observed_at < now - timedelta(days=365):
        raise ConcernError("observed_at", "too_old")
    description = (description or "").strip()
    if not description:
        raise ConcernError("description", "required")
    if len(description) > MAX_DESCRIPTION:
        raise ConcernError("description", "too_long")
    concern = Concern(uid=new_uid(), reference="pending", submission_token=token, reporter=reporter,
                      student=student, school_id=student.school_id, categories=sorted(set(categories)),
                      urgency=urgency, urgency_rank=URGENCIES.index(urgency), observed_at=observed_at,
                      created_at=now, status="new")
    db.session.add(concern)
    concern.description = description
    if (action_taken or "").strip():
        concern.action_taken = action_taken.strip()[:MAX_DESCRIPTION]
    db.session.flush()
    concern.reference = f"R{now:%y%m}-{concern.id:05d}"
    # The audit log cannot be erased with the student's key: it names the record, not its nature.
    audit.record("concern.filed", concern, actor=reporter, details={"student_id": student.id})
    if concern.needs_alert:
        alerts.raise_alert("concern_urgent", school_id=student.school_id, source=concern,
                           link=path_for("concerns.show", concern_id=concern.id),
                           recipients=alerts.school_responders(student.school_id), raised_by=reporter,
                           params={"by": reporter.display_name, "urgency": urgency})
    return concern, True


# -- triage -----------------------------------------------------------------------------------------

def _check_new(concern, version):
    if concern.status != "new" or (version is not None and str(version) != str(concern.version_id)):
        raise ConcernError(None, "already_triaged")


def _triaged(actor, concern, status):
    concern.status, concern.triaged_by, concern.triaged_at = status, actor, clock.now()


def _tell_reporter(concern):
    alerts.notify(concern.reporter, "concern_status", path_for("concerns.mine"),
                  params={"ref": concern.reference, "status": concern.reporter_status})


def _link(actor, concern, case, how):
    _triaged(actor, concern, "linked")
    concern.case = case
    timeline.add(case, "concern_linked", actor=actor, occurred_at=concern.observed_at, ref=concern,
                 params={"ref": concern.reference, "categories": concern.categories,
                         "urgency": concern.urgency, "reporter": concern.reporter.display_name})
    audit.record("concern.linked", concern, actor=actor, details={"case_id": case.id, "how": how})
    _tell_reporter(concern)


def initial_risk(concern) -> str:
    """The risk a case opened from this concern starts at (the worker can change it)."""
    if concern.needs_alert:
        return "high"
    return "moderate" if concern.urgency == "today" else "low"


def open_case_from(actor, concern, *, worker, risk_level=None, version=None):
    _check_new(concern, version)
    case = case_services.open_case(actor, concern.student, worker=worker,
                                   risk_level=risk_level or initial_risk(concern))
    _link(actor, concern, case, "opened")
    return case


def link_to_open_case(actor, concern, *, version=None):
    _check_new(concern, version)
    case = open_case_for(concern.student_id)
    if case is None:
        raise ConcernError(None, "no_open_case")
    _link(actor, concern, case, "linked")
    return case


def no_further_action(actor, concern, reason, *, version=None):
    _check_new(concern, version)
    reason = (reason or "").strip()
    if not reason:
        raise ConcernError("reason", "required")
    _triaged(actor, concern, "no_action")
    concern.no_action_reason = reason[:2000]
    audit.record("concern.no_action", concern, actor=actor)
    _tell_reporter(concern)


def open_case_for(student_id):
    return db.session.scalar(select(Case).where(Case.student_id == student_id, Case.status != "closed"))


# -- queries ----------------------------------------------------------------------------------------

def queue_statement(user, school_id=None, category=None):
    stmt = (select(Concern).where(Concern.status == "new", Concern.school_id.in_(school_ids(user)))
            .options(joinedload(Concern.student), joinedload(Concern.reporter), joinedload(Concern.school)))
    if school_id:
        stmt = stmt.where(Concern.school_id == school_id)
    if category in CONCERN_CATEGORIES:
        # JSON membership, portable across SQLite and PostgreSQL: the codes are quoted in the text.
        stmt = stmt.where(cast(Concern.categories, String).like(f'%"{category}"%'))
    return stmt.order_by(Concern.urgency_rank, Concern.created_at, Concern.id)


def recent_counts(student_ids):
    """Concerns per student in the last 30 days (one query), to group repeated reports."""
    if not student_ids:
        return {}
    since = clock.now() - GROUP_WINDOW
    return dict(db.session.execute(
        select(Concern.student_id, func.count()).where(Concern.student_id.in_(student_ids),
                                                       Concern.created_at >= since)
        .group_by(Concern.student_id)).all())


def open_cases_by_student(student_ids):
    if not student_ids:
        return {}
    return {c.student_id: c for c in db.session.scalars(
        select(Case).where(Case.student_id.in_(student_ids), Case.status != "closed"))}


def new_concern_count(user) -> int:
    return db.session.scalar(select(func.count()).select_from(Concern).where(
        Concern.status == "new", Concern.school_id.in_(school_ids(user))))


def mine_statement(user):
    return (select(Concern).where(Concern.reporter_id == user.id)
            .options(joinedload(Concern.student), joinedload(Concern.case).joinedload(Case.worker),
                     joinedload(Concern.triaged_by))
            .order_by(Concern.created_at.desc()))


def handler_name(concern):
    """Who the reporter may contact: the case's worker, or whoever triaged it."""
    if concern.case is not None:
        return concern.case.worker.display_name
    return concern.triaged_by.display_name if concern.triaged_by else ""


@timeline.summary("concern_linked")
def _concern_linked(p):
    return _l("Concern %(ref)s from %(reporter)s added to the case", ref=p.get("ref", ""),
              reporter=p.get("reporter", ""))
