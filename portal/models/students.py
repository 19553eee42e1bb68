"""Students and their guardians. Contact details are encrypted under the student's data key."""
import re
from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .. import clock
from ..crypto import encrypted
from ..extensions import db
from .keys import DataKey
from .people import School

_CJK = re.compile(r"[\u3400-\u9fff]")


def full_name(family: str, given: str) -> str:
    """Chinese names read family-then-given without a space; others given-then-family."""
    if _CJK.search(family or "") or _CJK.search(given or ""):
        return f"{family}{given}"
    return f"{given} {family}".strip()


class Student(db.Model):
    __tablename__ = "students"
    __table_args__ = (
        UniqueConstraint("school_id", "student_number", name="uq_students_school_number"),
        Index("ix_students_school_family", "school_id", "family_name"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    student_number: Mapped[str] = mapped_column(String(32))
    family_name: Mapped[str] = mapped_column(String(100))
    given_name: Mapped[str] = mapped_column(String(100))
    grade: Mapped[str] = mapped_column(String(20))
    class_name: Mapped[str | None] = mapped_column(String(20))
    date_of_birth: Mapped[date] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The day the student left the school (from the school's register); retention counts from it.
    left_on: Mapped[date | None] = mapped_column(Date, index=True)
    data_key_id: Mapped[int | None] = mapped_column(ForeignKey("data_keys.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now, onupdate=clock.now)

    school: Mapped[School] = relationship()
    data_key: Mapped[DataKey | None] = relationship()
    guardians: Mapped[list["Guardian"]] = relationship(
        back_populates="student", cascade="all, delete-orphan", order_by="Guardian.id")

    @property
    def name(self) -> str:
        return full_name(self.family_name, self.given_name)

    @property
    def grade_class(self) -> str:
        return f"{self.grade} · {self.class_name}" if self.class_name else self.grade

    def __str__(self):
        return self.name


class Guardian(db.Model):
    __tablename__ = "guardians"
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    relationship_to_student: Mapped[str] = mapped_column(String(40))
    language: Mapped[str | None] = mapped_column(String(40))
    interpreter_needed: Mapped[bool] = mapped_column(Boolean, default=False)
    lives_with_student: Mapped[bool] = mapped_column(Boolean, default=True)
    legal_responsibility: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    contact_times: Mapped[str | None] = mapped_column(String(200))
    # Someone who must not be contacted or told (court order, safeguarding decision): kept in step
    # with the active ContactRestriction rows by the family services, so every list can show it
    # without loading them.
    contact_restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    phone_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    email_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    address_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    version_id: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    student: Mapped[Student] = relationship(back_populates="guardians")
    restrictions: Mapped[list["ContactRestriction"]] = relationship(  # noqa: F821
        back_populates="guardian", cascade="all, delete-orphan", order_by="ContactRestriction.created_at")

    __mapper_args__ = {"version_id_col": version_id}

    phone = encrypted("phone_ct", key_owner=lambda self: self.student)
    email = encrypted("email_ct", key_owner=lambda self: self.student)
    address = encrypted("address_ct", key_owner=lambda self: self.student)

    @property
    def active_restrictions(self):
        return [r for r in self.restrictions if r.active]

    @property
    def no_contact(self) -> bool:
        """Under a restriction in force that forbids contact or sharing information. The rows
        decide (an order ends by its date); the flag stands in only where no row was ever kept."""
        if self.restrictions:
            return any(r.blocks_contact for r in self.restrictions)
        return self.contact_restricted

    @property
    def has_restriction(self) -> bool:
        return self.no_contact or bool(self.active_restrictions)
