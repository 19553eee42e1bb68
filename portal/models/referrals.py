"""Referrals to outside agencies: the agency directory, consent (release of information), the
referral and its dated status history, and the student's disclosure log."""
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .. import clock
from ..crypto import encrypted
from ..extensions import db
from .cases import Case
from .people import User
from .students import Guardian

AGENCY_TYPES = ("mental_health", "child_protection", "medical", "family_services", "youth_services", "legal_aid",
                "housing_income", "disability", "substance_use", "other")
# What may go out with a referral: the minimum necessary is ticked, item by item.
INFO_ITEMS = ("identity", "guardian_contact", "reason", "assessment_summary", "risk_information", "school_report",
              "health_information")
CONSENT_METHODS = ("signed_form", "verbal_witnessed")
URGENCIES = ("routine", "soon", "urgent")
EXEMPTIONS = ("mandated_report", "emergency")
# draft -> sent -> acknowledged -> accepted | waitlisted | declined -> first_appointment -> in_service -> closed
REFERRAL_STATES = ("draft", "sent", "acknowledged", "accepted", "waitlisted", "declined", "first_appointment",
                   "in_service", "closed", "withdrawn")
ENDED = ("closed", "withdrawn")  # a draft never sent is withdrawn, not closed
OUTCOMES = ("engaged_helped", "did_not_engage", "declined_by_family", "transferred", "other")


class Agency(db.Model):
    """An outside service in the district's directory. Deactivated, never deleted, once used."""
    __tablename__ = "agencies"
    __table_args__ = (Index("ix_agencies_active_type", "active", "type"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    type: Mapped[str] = mapped_column(String(30))
    services: Mapped[str | None] = mapped_column(Text)
    ages: Mapped[str | None] = mapped_column(String(40))
    languages: Mapped[str | None] = mapped_column(String(200))
    area: Mapped[str | None] = mapped_column(String(200))
    contact_person: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    address: Mapped[str | None] = mapped_column(String(500))
    referral_notes: Mapped[str | None] = mapped_column(Text)
    waiting_weeks: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now, onupdate=clock.now)
    version_id: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version_id}

    def __str__(self):
        return self.name


class Consent(db.Model):
    """A release of information: who agreed, how, to which agency, what, for what, until when."""
    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_case_agency", "case_id", "agency_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    guardian_id: Mapped[int | None] = mapped_column(ForeignKey("guardians.id"))  # None: the student
    method: Mapped[str] = mapped_column(String(20))
    given_on: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date] = mapped_column(Date)
    scope: Mapped[list] = mapped_column(JSON, default=list)  # INFO_ITEMS agreed to
    attachment_id: Mapped[int | None] = mapped_column(ForeignKey("attachments.id"))
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    revoked_on: Mapped[date | None] = mapped_column(Date)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    purpose_ct: Mapped[bytes] = mapped_column(LargeBinary)
    witness_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    revoke_reason_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    version_id: Mapped[int] = mapped_column(Integer, default=1)

    case: Mapped[Case] = relationship()
    agency: Mapped[Agency] = relationship()
    guardian: Mapped[Guardian | None] = relationship()
    recorded_by: Mapped[User] = relationship(foreign_keys=[recorded_by_id])
    revoked_by: Mapped[User | None] = relationship(foreign_keys=[revoked_by_id])
    attachment = relationship("Attachment")

    __mapper_args__ = {"version_id_col": version_id}

    purpose = encrypted("purpose_ct", key_owner=lambda self: self.case)
    witness = encrypted("witness_ct", key_owner=lambda self: self.case)
    revoke_reason = encrypted("revoke_reason_ct", key_owner=lambda self: self.case)

    def valid_on(self, day: date) -> bool:
        return self.given_on <= day <= self.expires_on and (self.revoked_on is None or self.revoked_on > day)


class Referral(db.Model):
    __tablename__ = "referrals"
    __table_args__ = (Index("ix_referrals_case", "case_id", "created_at"),
                      Index("ix_referrals_status_changed", "status", "status_changed_at"),
                      Index("ix_referrals_agency_status", "agency_id", "status"))
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    urgency: Mapped[str] = mapped_column(String(10))
    info_items: Mapped[list] = mapped_column(JSON, default=list)
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("consents.id"))
    exemption: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="draft")
    status_changed_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    first_appointment_on: Mapped[date | None] = mapped_column(Date)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    outcome: Mapped[str | None] = mapped_column(String(20))
    stale_notified_at: Mapped[datetime | None] = mapped_column(DateTime)
    reason_ct: Mapped[bytes] = mapped_column(LargeBinary)
    exemption_reason_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    outcome_note_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    version_id: Mapped[int] = mapped_column(Integer, default=1)

    case: Mapped[Case] = relationship()
    agency: Mapped[Agency] = relationship()
    author: Mapped[User] = relationship()
    consent: Mapped[Consent | None] = relationship()
    events: Mapped[list["ReferralEvent"]] = relationship(back_populates="referral", cascade="all, delete-orphan",
                                                         order_by="ReferralEvent.at")

    __mapper_args__ = {"version_id_col": version_id}

    reason = encrypted("reason_ct", key_owner=lambda self: self.case)
    exemption_reason = encrypted("exemption_reason_ct", key_owner=lambda self: self.case)
    outcome_note = encrypted("outcome_note_ct", key_owner=lambda self: self.case)


class ReferralEvent(db.Model):
    """One dated status change of a referral."""
    __tablename__ = "referral_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    on: Mapped[date] = mapped_column(Date)  # when it happened (the agency's answer may come later)
    at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)  # when it was recorded
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    referral: Mapped[Referral] = relationship(back_populates="events")
    by: Mapped[User] = relationship()


class Disclosure(db.Model):
    """The student's disclosure log: every share of their information outside the school, to whom,
    what, when and on what basis (consent or an exemption)."""
    __tablename__ = "disclosures"
    __table_args__ = (Index("ix_disclosures_student", "student_id", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    recipient: Mapped[str] = mapped_column(String(200))
    items: Mapped[list] = mapped_column(JSON, default=list)
    basis: Mapped[str] = mapped_column(String(40))  # consent | mandated_report | emergency
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("consents.id"))
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id"))
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)

    by: Mapped[User] = relationship()
