"""Crisis intervention: the crisis, its protocol steps, risk screens, safety plans and follow-ups.

Everything a person wrote (what happened, step notes, screen answers, the safety plan) is encrypted
under the case's data key. Plain columns hold only what queues and rules need: type, states, times,
the screen's level.
"""
from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .. import clock
from ..crypto import encrypted
from ..extensions import db
from .alerts import Alert
from .cases import Case
from .concerns import Concern
from .people import User

CRISIS_TYPES = ("suicide_self_harm", "harm_to_others", "abuse_neglect", "bullying_violence",
                "family_crisis", "missing_student", "other")
# open -> submitted (sign-off requested) -> closed; a returned sign-off goes back to open.
CRISIS_STATES = ("open", "submitted", "closed")
STEP_STATES = ("pending", "done", "waived")
SCREEN_LEVELS = ("none", "low", "moderate", "high")


class Crisis(db.Model):
    __tablename__ = "crises"
    __table_args__ = (Index("ix_crises_case_status", "case_id", "status"),
                      Index("ix_crises_status_started", "status", "started_at"),
                      # One open crisis of a kind per case, even when two workers start it at once.
                      Index("uq_crises_one_open_per_type", "case_id", "type", unique=True,
                            sqlite_where=text("status != 'closed'"), postgresql_where=text("status != 'closed'")))
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    concern_id: Mapped[int | None] = mapped_column(ForeignKey("concerns.id"))
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))
    type: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(20), default="open")
    level: Mapped[str | None] = mapped_column(String(20))  # the highest level any screen reached
    hospitalised: Mapped[bool] = mapped_column(Boolean, default=False)
    started_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    occurred_at: Mapped[datetime] = mapped_column(DateTime)
    started_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    signed_off_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    account_ct: Mapped[bytes] = mapped_column(LargeBinary)  # what happened
    summary_ct: Mapped[bytes | None] = mapped_column(LargeBinary)  # the closing summary
    version_id: Mapped[int] = mapped_column(Integer, default=1)

    case: Mapped[Case] = relationship()
    concern: Mapped[Concern | None] = relationship()
    alert: Mapped[Alert | None] = relationship()
    started_by: Mapped[User] = relationship(foreign_keys=[started_by_id])
    submitted_by: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id])
    signed_off_by: Mapped[User | None] = relationship(foreign_keys=[signed_off_by_id])
    steps: Mapped[list["CrisisStep"]] = relationship(back_populates="crisis", cascade="all, delete-orphan",
                                                     order_by="CrisisStep.position")
    follow_ups: Mapped[list["FollowUp"]] = relationship(back_populates="crisis", cascade="all, delete-orphan",
                                                        order_by="FollowUp.due_at")

    __mapper_args__ = {"version_id_col": version_id}

    account = encrypted("account_ct", key_owner=lambda self: self.case)
    summary = encrypted("summary_ct", key_owner=lambda self: self.case)

    @property
    def is_open(self) -> bool:
        return self.status != "closed"


class CrisisStep(db.Model):
    """One protocol step: who did it and when, or who waived it and why. `details` holds the step's
    structured answers (agency and reference of a mandated report, the guardian reached…)."""
    __tablename__ = "crisis_steps"
    __table_args__ = (UniqueConstraint("crisis_id", "code", name="uq_crisis_steps_code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    crisis_id: Mapped[int] = mapped_column(ForeignKey("crises.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(30))
    position: Mapped[int] = mapped_column(Integer)
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    occurred_at: Mapped[datetime | None] = mapped_column(DateTime)
    recorded_at: Mapped[datetime | None] = mapped_column(DateTime)
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    due_at: Mapped[datetime | None] = mapped_column(DateTime)  # e.g. a mandated report's written follow-up
    note_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    details_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    version_id: Mapped[int] = mapped_column(Integer, default=1)

    crisis: Mapped[Crisis] = relationship(back_populates="steps")
    done_by: Mapped[User | None] = relationship()

    __mapper_args__ = {"version_id_col": version_id}

    note = encrypted("note_ct", key_owner=lambda self: self.crisis.case)
    details = encrypted("details_ct", key_owner=lambda self: self.crisis.case)

    @property
    def settled(self) -> bool:
        return self.status in ("done", "waived")


class RiskScreen(db.Model):
    """A suicide-risk screen (the Columbia protocol's screener). Answers encrypted; level plain."""
    __tablename__ = "risk_screens"
    __table_args__ = (Index("ix_risk_screens_crisis", "crisis_id", "screened_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    crisis_id: Mapped[int] = mapped_column(ForeignKey("crises.id", ondelete="CASCADE"))
    follow_up_id: Mapped[int | None] = mapped_column(ForeignKey("crisis_follow_ups.id"))
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    wording: Mapped[str] = mapped_column(String(20))  # past_month | since_last
    level: Mapped[str] = mapped_column(String(20))
    screened_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    answers_ct: Mapped[bytes] = mapped_column(LargeBinary)

    crisis: Mapped[Crisis] = relationship()
    by: Mapped[User] = relationship()

    answers = encrypted("answers_ct", key_owner=lambda self: self.crisis.case)


class SafetyPlan(db.Model):
    """One version of the student's safety plan (Stanley–Brown), written with the student."""
    __tablename__ = "safety_plans"
    __table_args__ = (UniqueConstraint("crisis_id", "version", name="uq_safety_plans_version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    crisis_id: Mapped[int] = mapped_column(ForeignKey("crises.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    content_ct: Mapped[bytes] = mapped_column(LargeBinary)  # JSON section -> text

    crisis: Mapped[Crisis] = relationship()
    author: Mapped[User] = relationship()

    content = encrypted("content_ct", key_owner=lambda self: self.crisis.case)


class FollowUp(db.Model):
    """A scheduled check-in with the student after the crisis; missed ones go up the line."""
    __tablename__ = "crisis_follow_ups"
    __table_args__ = (Index("ix_crisis_follow_ups_due", "status", "due_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    crisis_id: Mapped[int] = mapped_column(ForeignKey("crises.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(10))  # the cadence entry, e.g. "24h", "7d"
    due_at: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | done | waived
    done_at: Mapped[datetime | None] = mapped_column(DateTime)
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    missed_notified_at: Mapped[datetime | None] = mapped_column(DateTime)
    note_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    version_id: Mapped[int] = mapped_column(Integer, default=1)

    crisis: Mapped[Crisis] = relationship(back_populates="follow_ups")
    done_by: Mapped[User | None] = relationship()

    __mapper_args__ = {"version_id_col": version_id}

    note = encrypted("note_ct", key_owner=lambda self: self.crisis.case)
