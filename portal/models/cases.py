"""Case files, their team, and the one timeline every feature writes to."""
from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .. import clock
from ..crypto import encrypted
from ..extensions import db
from .keys import DataKey
from .people import User
from .students import Student

CASE_STATUSES = ("intake", "assessment", "planning", "active", "review", "closed")
RISK_LEVELS = ("low", "moderate", "high")


class Case(db.Model):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_status_opened", "status", "opened_at"),
        # One open case per student, even when two workers open one at the same moment.
        Index("uq_cases_one_open_per_student", "student_id", unique=True,
              sqlite_where=text("status != 'closed'"), postgresql_where=text("status != 'closed'")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="intake")
    risk_level: Mapped[str] = mapped_column(String(20), default="low", index=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    opened_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    data_key_id: Mapped[int | None] = mapped_column(ForeignKey("data_keys.id"))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now, onupdate=clock.now)
    version_id: Mapped[int] = mapped_column(Integer, default=1)

    student: Mapped[Student] = relationship()
    worker: Mapped[User] = relationship(foreign_keys=[worker_id])
    opened_by: Mapped[User] = relationship(foreign_keys=[opened_by_id])
    data_key: Mapped[DataKey | None] = relationship()
    members: Mapped[list["CaseMember"]] = relationship(
        back_populates="case", cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version_id}

    @property
    def is_open(self) -> bool:
        return self.status != "closed"


class CaseMember(db.Model):
    """A team member besides the assigned worker."""
    __tablename__ = "case_members"
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    added_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    added_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)

    case: Mapped[Case] = relationship(back_populates="members")
    user: Mapped[User] = relationship(foreign_keys=[user_id])


class TimelineEntry(db.Model):
    """One thing that happened on a case. Features add entries through cases.timeline.add().

    `kind` and `params` (never confidential) render a translated one-line summary; `detail` holds
    case content (a reason, a summary) and is encrypted under the case's key. Entries sort by
    `occurred_at` (when it happened), so a backdated entry falls into place.
    """
    __tablename__ = "timeline_entries"
    __table_args__ = (Index("ix_timeline_case_occurred", "case_id", "occurred_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(DateTime)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    ref_type: Mapped[str | None] = mapped_column(String(40))
    ref_id: Mapped[int | None] = mapped_column(Integer)
    detail_ct: Mapped[bytes | None] = mapped_column(LargeBinary)

    case: Mapped[Case] = relationship()
    actor: Mapped[User | None] = relationship()

    detail = encrypted("detail_ct", key_owner=lambda self: self.case)
