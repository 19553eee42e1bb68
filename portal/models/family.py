"""Family liaison: contact restrictions on family members, the contact log, and home visits.

Restrictions are about the student's family, so they are encrypted under the student's key and
live as long as the student's record; contacts and visits belong to a case.
"""
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .. import clock
from ..crypto import encrypted
from ..extensions import db
from .cases import Case
from .people import User
from .students import Guardian, Student

RESTRICTION_KINDS = ("no_contact", "no_information", "no_pickup")
BLOCKING_KINDS = ("no_contact", "no_information")  # these refuse a contact or a notification
RESTRICTION_BASES = ("court_order", "safeguarding", "other")
CONTACT_METHODS = ("phone", "message", "letter", "school_meeting", "home_visit", "video",
                   "parent_interview", "parent_training")
PARENT_SESSIONS = ("parent_interview", "parent_training")
# Ways a family member can reach the school unasked. A home visit or a parent session is always
# the school's doing, so "the family initiated it" never opens a restriction for those.
INBOUND_METHODS = ("phone", "message", "letter", "school_meeting", "video")
CONTACT_PURPOSES = ("update", "concern", "plan", "crisis", "attendance", "consent", "other")
INITIATORS = ("school", "family", "other")


class ContactRestriction(db.Model):
    """Who must not be contacted, told or hand the student over, and on what basis."""
    __tablename__ = "contact_restrictions"
    __table_args__ = (Index("ix_contact_restrictions_guardian", "guardian_id", "ended_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    guardian_id: Mapped[int] = mapped_column(ForeignKey("guardians.id", ondelete="CASCADE"))
    kinds: Mapped[list] = mapped_column(JSON, default=list)
    basis: Mapped[str] = mapped_column(String(20))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: kept before 0010
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    ends_on: Mapped[date | None] = mapped_column(Date)  # an order's own end date, when it has one
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    ended_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    attachment_id: Mapped[int | None] = mapped_column(ForeignKey("attachments.id"))
    details_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    end_reason_ct: Mapped[bytes | None] = mapped_column(LargeBinary)

    guardian: Mapped[Guardian] = relationship(back_populates="restrictions")
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    ended_by: Mapped[User | None] = relationship(foreign_keys=[ended_by_id])
    attachment = relationship("Attachment")

    details = encrypted("details_ct", key_owner=lambda self: self.guardian.student)
    end_reason = encrypted("end_reason_ct", key_owner=lambda self: self.guardian.student)

    @property
    def active(self) -> bool:
        from ..i18n import local_today
        return self.ended_at is None and (self.ends_on is None or self.ends_on >= local_today())

    @property
    def blocks_contact(self) -> bool:
        return self.active and any(k in BLOCKING_KINDS for k in self.kinds or ())


class FamilyContact(db.Model):
    """One contact with the family, reached or only attempted: facts said and done."""
    __tablename__ = "family_contacts"
    __table_args__ = (Index("ix_family_contacts_student", "student_id", "occurred_at"),
                      Index("ix_family_contacts_case", "case_id", "occurred_at"),
                      Index("ix_family_contacts_follow_up", "follow_up_on", "follow_up_done_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    method: Mapped[str] = mapped_column(String(20))
    initiated_by: Mapped[str] = mapped_column(String(10))
    purpose: Mapped[str] = mapped_column(String(20))
    reached: Mapped[bool] = mapped_column(Boolean, default=True)
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    interpreter_used: Mapped[bool] = mapped_column(Boolean, default=False)
    follow_up_on: Mapped[date | None] = mapped_column(Date)
    follow_up_done_at: Mapped[datetime | None] = mapped_column(DateTime)
    override_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The restricted person contacted the school: recorded (the child's safety needs it), shown
    # on the contact and reported to the line.
    restricted_incoming: Mapped[bool] = mapped_column(Boolean, default=False)
    home_visit_id: Mapped[int | None] = mapped_column(ForeignKey("home_visits.id"))
    service_record_id: Mapped[int | None] = mapped_column(ForeignKey("service_records.id"))
    summary_ct: Mapped[bytes] = mapped_column(LargeBinary)
    outcome_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    next_steps_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    override_reason_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    version_id: Mapped[int] = mapped_column(Integer, default=1)

    case: Mapped[Case] = relationship()
    student: Mapped[Student] = relationship()
    author: Mapped[User] = relationship(foreign_keys=[author_id])
    override_by: Mapped[User | None] = relationship(foreign_keys=[override_by_id])
    people: Mapped[list["ContactPerson"]] = relationship(back_populates="contact", cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version_id}

    summary = encrypted("summary_ct", key_owner=lambda self: self.case)
    outcome = encrypted("outcome_ct", key_owner=lambda self: self.case)
    next_steps = encrypted("next_steps_ct", key_owner=lambda self: self.case)
    override_reason = encrypted("override_reason_ct", key_owner=lambda self: self.case)


class ContactPerson(db.Model):
    """A family member in a contact; `attended` for parent sessions."""
    __tablename__ = "family_contact_people"
    contact_id: Mapped[int] = mapped_column(ForeignKey("family_contacts.id", ondelete="CASCADE"),
                                            primary_key=True)
    guardian_id: Mapped[int] = mapped_column(ForeignKey("guardians.id", ondelete="CASCADE"), primary_key=True,
                                             index=True)
    attended: Mapped[bool] = mapped_column(Boolean, default=True)

    contact: Mapped[FamilyContact] = relationship(back_populates="people")
    guardian: Mapped[Guardian] = relationship()


class HomeVisit(db.Model):
    """A planned home visit. Never alone without a check-in colleague; a visitor not back by the
    expected time (plus a grace period) alerts the check-in colleague and the visitor's supervisor."""
    __tablename__ = "home_visits"
    __table_args__ = (Index("ix_home_visits_status_return", "status", "expected_return_at"),
                      Index("ix_home_visits_case", "case_id", "planned_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    planned_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    visitor_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    companion_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    checkin_contact_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    planned_at: Mapped[datetime] = mapped_column(DateTime)
    expected_return_at: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(20), default="planned")  # planned, returned, cancelled
    returned_at: Mapped[datetime | None] = mapped_column(DateTime)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    address_ct: Mapped[bytes] = mapped_column(LargeBinary)
    purpose_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    version_id: Mapped[int] = mapped_column(Integer, default=1)

    case: Mapped[Case] = relationship()
    planned_by: Mapped[User] = relationship(foreign_keys=[planned_by_id])
    visitor: Mapped[User] = relationship(foreign_keys=[visitor_id])
    companion: Mapped[User | None] = relationship(foreign_keys=[companion_id])
    checkin_contact: Mapped[User | None] = relationship(foreign_keys=[checkin_contact_id])

    __mapper_args__ = {"version_id_col": version_id}

    address = encrypted("address_ct", key_owner=lambda self: self.case)
    purpose = encrypted("purpose_ct", key_owner=lambda self: self.case)
