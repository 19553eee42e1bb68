"""The case work cycle's records: service records and case plans, and the review thread (批阅/批复)
that every reviewable record shares."""
from datetime import date, datetime

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .. import clock
from ..crypto import encrypted
from ..extensions import db
from .cases import Case
from .people import User

SERVICE_KINDS = ("individual", "group", "family", "classroom", "consultation", "phone")
# submitted -> accepted | returned; returned -> (revised) submitted
RECORD_STATES = ("submitted", "returned", "accepted")
PLAN_STATES = ("submitted", "returned", "approved", "superseded")  # closures use the same states


class ServiceRecord(db.Model):
    """One session or action with or for the student, reviewed by the author's supervision line."""
    __tablename__ = "service_records"
    __table_args__ = (Index("ix_service_records_state", "status", "author_id", "submitted_at"),
                      Index("ix_service_records_case", "case_id", "occurred_on"))
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    occurred_on: Mapped[date] = mapped_column(Date)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="submitted")
    submitted_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    participants_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    summary_ct: Mapped[bytes] = mapped_column(LargeBinary)
    progress_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    version_id: Mapped[int] = mapped_column(Integer, default=1)

    case: Mapped[Case] = relationship()
    author: Mapped[User] = relationship()

    __mapper_args__ = {"version_id_col": version_id}

    participants = encrypted("participants_ct", key_owner=lambda self: self.case)
    summary = encrypted("summary_ct", key_owner=lambda self: self.case)
    progress = encrypted("progress_ct", key_owner=lambda self: self.case)


class CasePlan(db.Model):
    """Goals, interventions and a review date. Each change is a new version needing approval;
    the latest approved version is the plan in force."""
    __tablename__ = "case_plans"
    __table_args__ = (UniqueConstraint("case_id", "number", name="uq_case_plans_case_number"),
                      Index("ix_case_plans_state", "status", "author_id", "submitted_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(20), default="submitted")
    submitted_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    review_on: Mapped[date] = mapped_column(Date)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime)
    goals_ct: Mapped[bytes] = mapped_column(LargeBinary)
    interventions_ct: Mapped[bytes] = mapped_column(LargeBinary)
    version_id: Mapped[int] = mapped_column(Integer, default=1)

    case: Mapped[Case] = relationship()
    author: Mapped[User] = relationship(foreign_keys=[author_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])

    __mapper_args__ = {"version_id_col": version_id}

    goals = encrypted("goals_ct", key_owner=lambda self: self.case)
    interventions = encrypted("interventions_ct", key_owner=lambda self: self.case)


class ReviewEntry(db.Model):
    """One step in a record's review thread: submitted, returned with comments, revised, accepted.
    A submission or revision keeps a snapshot of what was submitted, so nothing is overwritten.

    The thread belongs to the record's key owner: its case, or, for a group session, its group."""
    __tablename__ = "review_entries"
    __table_args__ = (Index("ix_review_entries_subject", "subject_type", "subject_id", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("student_groups.id", ondelete="CASCADE"), index=True)
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[int] = mapped_column(Integer)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    comment_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    snapshot_ct: Mapped[bytes | None] = mapped_column(LargeBinary)

    case: Mapped[Case | None] = relationship()
    group: Mapped["StudentGroup | None"] = relationship()  # noqa: F821
    author: Mapped[User] = relationship()

    comment = encrypted("comment_ct", key_owner=lambda self: self.case or self.group)
    snapshot = encrypted("snapshot_ct", key_owner=lambda self: self.case or self.group)


class Escalation(db.Model):
    """A difficult case sent up the supervision line (上转). The receiver advises, takes the case
    over, or sends it further up (a new escalation one tier higher)."""
    __tablename__ = "escalations"
    __table_args__ = (Index("ix_escalations_open", "status", "to_user_id", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    from_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    to_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    level: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open, advised, taken_over, forwarded
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    responded_at: Mapped[datetime | None] = mapped_column(DateTime)
    reason_ct: Mapped[bytes] = mapped_column(LargeBinary)
    response_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    version_id: Mapped[int] = mapped_column(Integer, default=1)

    case: Mapped[Case] = relationship()
    from_user: Mapped[User] = relationship(foreign_keys=[from_user_id])
    to_user: Mapped[User] = relationship(foreign_keys=[to_user_id])

    __mapper_args__ = {"version_id_col": version_id}

    reason = encrypted("reason_ct", key_owner=lambda self: self.case)
    response = encrypted("response_ct", key_owner=lambda self: self.case)


CLOSURE_REASONS = ("goals_met", "no_longer_needed", "referred_on", "moved_school", "family_declined", "other")
GOALS_MET = ("all", "partly", "none")


class Closure(db.Model):
    """A request to close a case: evaluation of the goals and a closing summary, approved up the line."""
    __tablename__ = "closures"
    __table_args__ = (Index("ix_closures_state", "status", "author_id", "submitted_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(String(30))
    goals_met: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), default="submitted")
    submitted_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    summary_ct: Mapped[bytes] = mapped_column(LargeBinary)
    version_id: Mapped[int] = mapped_column(Integer, default=1)

    case: Mapped[Case] = relationship()
    author: Mapped[User] = relationship()

    __mapper_args__ = {"version_id_col": version_id}

    summary = encrypted("summary_ct", key_owner=lambda self: self.case)


ASSESSMENT_AREAS = ("family", "school", "peers", "emotional", "behaviour", "health", "safety", "strengths")
RATINGS = (1, 2, 3, 4)  # 1 a strength, 2 no concern, 3 some concern, 4 serious concern


class Assessment(db.Model):
    """A structured needs assessment; a case may be reassessed, the latest one leads."""
    __tablename__ = "assessments"
    __table_args__ = (Index("ix_assessments_case", "case_id", "assessed_on"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    assessed_on: Mapped[date] = mapped_column(Date)
    overall_risk: Mapped[str] = mapped_column(String(20))
    ratings: Mapped[dict] = mapped_column(JSON, default=dict)  # area -> 1..4 (not confidential alone)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    narratives_ct: Mapped[bytes] = mapped_column(LargeBinary)  # JSON area -> text, encrypted

    case: Mapped[Case] = relationship()
    author: Mapped[User] = relationship()

    narratives = encrypted("narratives_ct", key_owner=lambda self: self.case)
