"""Concern reports: any staff member tells the social workers that a student may need help."""
from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .. import clock
from ..crypto import encrypted
from ..extensions import db
from .cases import Case
from .people import School, User
from .students import Student

CONCERN_CATEGORIES = ("emotional", "self_harm", "bullying", "family", "attendance", "behaviour",
                      "abuse", "health", "other")
URGENCIES = ("immediate", "today", "week", "routine")  # most urgent first
# Categories that always raise an alert, whatever urgency the reporter chose.
ALERT_CATEGORIES = ("self_harm", "abuse")
CONCERN_STATUSES = ("new", "linked", "no_action")


class Concern(db.Model):
    __tablename__ = "concerns"
    __table_args__ = (
        Index("ix_concerns_queue", "status", "school_id", "urgency_rank", "created_at"),
        Index("ix_concerns_student_created", "student_id", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    # One form, one concern: a resent or double-clicked form carries the same token.
    submission_token: Mapped[str] = mapped_column(String(64), unique=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    categories: Mapped[list] = mapped_column(JSON, default=list)
    urgency: Mapped[str] = mapped_column(String(20))
    urgency_rank: Mapped[int] = mapped_column(default=3)
    observed_at: Mapped[datetime] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    status: Mapped[str] = mapped_column(String(20), default="new")
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    triaged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    triaged_at: Mapped[datetime | None] = mapped_column(DateTime)
    description_ct: Mapped[bytes] = mapped_column(LargeBinary)
    action_taken_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    no_action_reason_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    version_id: Mapped[int] = mapped_column(default=1)

    reporter: Mapped[User] = relationship(foreign_keys=[reporter_id])
    student: Mapped[Student] = relationship()
    school: Mapped[School] = relationship()
    case: Mapped[Case | None] = relationship()
    triaged_by: Mapped[User | None] = relationship(foreign_keys=[triaged_by_id])

    __mapper_args__ = {"version_id_col": version_id}

    # Encrypted under the student's key: a concern may never become a case.
    description = encrypted("description_ct", key_owner=lambda self: self.student)
    action_taken = encrypted("action_taken_ct", key_owner=lambda self: self.student)
    no_action_reason = encrypted("no_action_reason_ct", key_owner=lambda self: self.student)

    @property
    def needs_alert(self) -> bool:
        return self.urgency == "immediate" or any(c in ALERT_CATEGORIES for c in self.categories or ())

    @property
    def reporter_status(self) -> str:
        """What the reporter is told: received, being handled, or closed. Nothing more."""
        if self.status == "new":
            return "received"
        if self.status == "linked" and self.case is not None and self.case.status != "closed":
            return "handling"
        return "closed"
