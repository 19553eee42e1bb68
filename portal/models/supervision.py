"""Supervision management: the line's policy, supervision sessions and their action items, growth
plans (个人成长方案), performance reviews (绩效考核) and de-identified case studies (案例交流).

What people write about a case (a session's discussion notes, an action on a case) is encrypted
under that case's key, so it is readable under the case's own rules. What is about the staff
member (a session's topics, a growth plan, a review) is encrypted under the record's own key.
"""
from datetime import date, datetime

from sqlalchemy import (JSON, Column, Date, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Table,
                        UniqueConstraint, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .. import clock
from ..crypto import encrypted
from ..extensions import db
from .cases import Case
from .keys import DataKey
from .people import User

SESSION_KINDS = ("individual", "group")
ACTION_STATES = ("open", "done")
GROWTH_STATES = ("active", "reviewed")
GOAL_STATES = ("open", "met", "dropped")
PERFORMANCE_STATES = ("draft", "shared", "acknowledged")
# draft -> submitted -> approved | returned; returned -> (edited) submitted
STUDY_STATES = ("draft", "submitted", "returned", "approved")


class LinePolicy(db.Model):
    """The organisation's rule for the line, kept as data: the ratio between tiers (seed 000:
    1 supervisor : 2 practice supervisors : 4 assistant supervisors : 14 social workers), a social
    worker's full caseload, and the share of it each tier carries (assistant supervisors ~70%).
    One row; until someone saves it the configured defaults apply."""
    __tablename__ = "line_policies"
    id: Mapped[int] = mapped_column(primary_key=True)
    ratio: Mapped[list] = mapped_column(JSON, default=list)  # [[role, n], ...], top tier first
    caseload_limit: Mapped[int] = mapped_column(Integer)
    load_shares: Mapped[dict] = mapped_column(JSON, default=dict)  # role -> percent of caseload_limit
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    version_id: Mapped[int] = mapped_column(Integer, default=1)

    updated_by: Mapped[User | None] = relationship()

    __mapper_args__ = {"version_id_col": version_id}


session_attendees = Table(
    "supervision_attendees",
    db.metadata,
    Column("session_id", ForeignKey("supervision_sessions.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id"), primary_key=True, index=True),
)


class SupervisionSession(db.Model):
    """An individual or group supervision meeting (督导会议) held by a supervisor with people of
    their line: topics, decisions, the cases discussed and action items."""
    __tablename__ = "supervision_sessions"
    __table_args__ = (Index("ix_supervision_sessions_supervisor", "supervisor_id", "held_on"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    held_on: Mapped[date] = mapped_column(Date)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    supervisor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now, onupdate=clock.now)
    data_key_id: Mapped[int | None] = mapped_column(ForeignKey("data_keys.id"))
    topics_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    decisions_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    version_id: Mapped[int] = mapped_column(Integer, default=1)

    supervisor: Mapped[User] = relationship()
    data_key: Mapped[DataKey | None] = relationship()
    attendees: Mapped[list[User]] = relationship(secondary=session_attendees, order_by=User.display_name)
    cases: Mapped[list["SessionCase"]] = relationship(back_populates="session", cascade="all, delete-orphan",
                                                      order_by="SessionCase.id")
    actions: Mapped[list["ActionItem"]] = relationship(back_populates="session", cascade="all, delete-orphan",
                                                       order_by="ActionItem.due_on")

    __mapper_args__ = {"version_id_col": version_id}

    topics = encrypted("topics_ct", key_owner=lambda self: self)
    decisions = encrypted("decisions_ct", key_owner=lambda self: self)


class SessionCase(db.Model):
    """A case discussed in a session. The discussion notes are under the case's key: whoever may
    not read the case reads only that a case was discussed."""
    __tablename__ = "supervision_session_cases"
    __table_args__ = (UniqueConstraint("session_id", "case_id", name="uq_session_cases_case"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("supervision_sessions.id", ondelete="CASCADE"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    added_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    notes_ct: Mapped[bytes | None] = mapped_column(LargeBinary)

    session: Mapped[SupervisionSession] = relationship(back_populates="cases")
    case: Mapped[Case] = relationship()

    notes = encrypted("notes_ct", key_owner=lambda self: self.case)


class ActionItem(db.Model):
    """Something agreed in a session, with an owner and a due date; it shows in the owner's My day.
    An action on a case is written under the case's key."""
    __tablename__ = "supervision_actions"
    __table_args__ = (Index("ix_supervision_actions_owner", "owner_id", "status", "due_on"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("supervision_sessions.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="open")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    done_at: Mapped[datetime | None] = mapped_column(DateTime)
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    text_ct: Mapped[bytes] = mapped_column(LargeBinary)
    version_id: Mapped[int] = mapped_column(Integer, default=1)

    session: Mapped[SupervisionSession] = relationship(back_populates="actions")
    owner: Mapped[User] = relationship(foreign_keys=[owner_id])
    done_by: Mapped[User | None] = relationship(foreign_keys=[done_by_id])
    case: Mapped[Case | None] = relationship()

    __mapper_args__ = {"version_id_col": version_id}

    text = encrypted("text_ct", key_owner=lambda self: self.case if self.case is not None else self.session)


class GrowthPlan(db.Model):
    """A supervisee's development plan, set by someone above them on the line; both record
    progress; it is reviewed on a date. One plan in force per person."""
    __tablename__ = "growth_plans"
    __table_args__ = (
        Index("ix_growth_plans_review", "status", "review_on"),
        Index("uq_growth_plans_one_active", "supervisee_id", unique=True,
              sqlite_where=text("status = 'active'"), postgresql_where=text("status = 'active'")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    supervisee_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    supervisor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(10), default="active")
    starts_on: Mapped[date] = mapped_column(Date)
    review_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    data_key_id: Mapped[int | None] = mapped_column(ForeignKey("data_keys.id"))
    focus_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    review_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    version_id: Mapped[int] = mapped_column(Integer, default=1)

    supervisee: Mapped[User] = relationship(foreign_keys=[supervisee_id])
    supervisor: Mapped[User] = relationship(foreign_keys=[supervisor_id])
    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id])
    goals: Mapped[list["GrowthGoal"]] = relationship(back_populates="plan", cascade="all, delete-orphan",
                                                     order_by="GrowthGoal.position")

    __mapper_args__ = {"version_id_col": version_id}

    focus = encrypted("focus_ct", key_owner=lambda self: self)
    review = encrypted("review_ct", key_owner=lambda self: self)


class GrowthGoal(db.Model):
    __tablename__ = "growth_goals"
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("growth_plans.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="open")
    goal_ct: Mapped[bytes] = mapped_column(LargeBinary)
    measure_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    version_id: Mapped[int] = mapped_column(Integer, default=1)

    plan: Mapped[GrowthPlan] = relationship(back_populates="goals")

    __mapper_args__ = {"version_id_col": version_id}

    goal = encrypted("goal_ct", key_owner=lambda self: self.plan)
    measure = encrypted("measure_ct", key_owner=lambda self: self.plan)


class GrowthProgress(db.Model):
    """A progress note on a growth plan, by the supervisee or someone above them."""
    __tablename__ = "growth_progress"
    __table_args__ = (Index("ix_growth_progress_plan", "plan_id", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("growth_plans.id", ondelete="CASCADE"))
    goal_id: Mapped[int | None] = mapped_column(ForeignKey("growth_goals.id", ondelete="SET NULL"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    text_ct: Mapped[bytes] = mapped_column(LargeBinary)

    plan: Mapped[GrowthPlan] = relationship()
    goal: Mapped[GrowthGoal | None] = relationship()
    author: Mapped[User] = relationship()

    text = encrypted("text_ct", key_owner=lambda self: self.plan)


class PerformanceReview(db.Model):
    """A periodic review (绩效考核): the figures the portal knows for the period (kept as they were
    when the review was shared), the reviewer's assessment and the supervisee's comments."""
    __tablename__ = "performance_reviews"
    __table_args__ = (Index("ix_performance_reviews_supervisee", "supervisee_id", "period_end"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    supervisee_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    figures: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    shared_at: Mapped[datetime | None] = mapped_column(DateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime)
    data_key_id: Mapped[int | None] = mapped_column(ForeignKey("data_keys.id"))
    assessment_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    comments_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    version_id: Mapped[int] = mapped_column(Integer, default=1)

    supervisee: Mapped[User] = relationship(foreign_keys=[supervisee_id])
    reviewer: Mapped[User] = relationship(foreign_keys=[reviewer_id])

    __mapper_args__ = {"version_id_col": version_id}

    assessment = encrypted("assessment_ct", key_owner=lambda self: self)
    comments = encrypted("comments_ct", key_owner=lambda self: self)


class CaseStudy(db.Model):
    """A de-identified copy of a case for learning with peers (案例交流). Built from the case and
    never written back to it; downloadable and shared only once a supervisor approved it. The
    review thread (ReviewEntry) is kept under the source case's key."""
    __tablename__ = "case_studies"
    __table_args__ = (Index("ix_case_studies_state", "status", "author_id", "submitted_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(20), default="draft")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime)
    approved_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    data_key_id: Mapped[int | None] = mapped_column(ForeignKey("data_keys.id"))
    title_ct: Mapped[bytes] = mapped_column(LargeBinary)
    body_ct: Mapped[bytes] = mapped_column(LargeBinary)
    version_id: Mapped[int] = mapped_column(Integer, default=1)

    case: Mapped[Case] = relationship()
    author: Mapped[User] = relationship(foreign_keys=[author_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])

    __mapper_args__ = {"version_id_col": version_id}

    title = encrypted("title_ct", key_owner=lambda self: self)
    body = encrypted("body_ct", key_owner=lambda self: self)
