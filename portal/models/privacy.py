"""Records about the records: legal holds, a student's record requests, and the erasure log."""
from datetime import date, datetime

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .. import clock
from ..crypto import encrypted
from ..extensions import db
from .cases import Case
from .people import User
from .students import Student

REQUESTERS = ("guardian", "student", "legal_representative")


class LegalHold(db.Model):
    """Stops retention from erasing a case (litigation, an investigation, a court's request) until
    it is lifted. The reason is encrypted under the student's key: it may name proceedings."""
    __tablename__ = "legal_holds"
    __table_args__ = (Index("ix_legal_holds_case_lifted", "case_id", "lifted_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    placed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: from the command line
    placed_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    lifted_at: Mapped[datetime | None] = mapped_column(DateTime)
    reason_ct: Mapped[bytes] = mapped_column(LargeBinary)

    case: Mapped[Case] = relationship()
    placed_by: Mapped[User | None] = relationship(foreign_keys=[placed_by_id])
    lifted_by: Mapped[User | None] = relationship(foreign_keys=[lifted_by_id])

    reason = encrypted("reason_ct", key_owner=lambda self: self.case.student)


class RecordRequest(db.Model):
    """A guardian's or student's request for the student's record, and the export produced for it.
    The export itself (a JSON document) is kept encrypted under the student's key, so the readable
    document and the machine-readable file are the same snapshot, and erasing the student erases it."""
    __tablename__ = "record_requests"
    __table_args__ = (Index("ix_record_requests_student", "student_id", "produced_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    requester_kind: Mapped[str] = mapped_column(String(30))
    received_on: Mapped[date] = mapped_column(Date)
    produced_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    produced_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    counts: Mapped[dict] = mapped_column(JSON, default=dict)  # items included / for review / withheld
    requester_ct: Mapped[bytes] = mapped_column(LargeBinary)
    content_ct: Mapped[bytes] = mapped_column(LargeBinary)

    student: Mapped[Student] = relationship()
    produced_by: Mapped[User] = relationship()

    requester = encrypted("requester_ct", key_owner=lambda self: self.student)
    content = encrypted("content_ct", key_owner=lambda self: self.student)


class Erasure(db.Model):
    """What retention erased, when, under which rule: no names, no content, only the reference."""
    __tablename__ = "erasures"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))  # the retention rule: case, child_protection, concern, student
    reference: Mapped[str] = mapped_column(String(40))
    due_on: Mapped[date] = mapped_column(Date)
    erased_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now, index=True)
    rows: Mapped[int] = mapped_column(Integer, default=0)
