"""Prevention and mental-health education: school-wide or classroom activities (talks,
assemblies, campaigns, parent workshops, staff training, mental-health week events).

An activity names no student: its facts (type, topic, audience, people reached, the evaluation
counts) are plain data for the term calendar and the figures. Only the organiser's notes and the
materials' file names and contents are encrypted, under the activity's own data key.
"""
from datetime import date, datetime

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .. import clock
from ..crypto import encrypted
from ..extensions import db
from .keys import DataKey
from .people import School, User

ACTIVITY_TYPES = ("class_talk", "assembly", "campaign", "parent_workshop", "staff_training", "mh_week_event")
ACTIVITY_TOPICS = ("anti_bullying", "emotional_wellbeing", "safety", "substance_use", "law", "online_safety",
                   "other")
AUDIENCES = ("students", "parents", "staff")
ACTIVITY_STATES = ("planned", "held", "cancelled")
GRADES = tuple(str(n) for n in range(1, 13))
# The evaluation: one question, answered before and after on a five-point scale (1 not at all ...
# 5 very much), entered as the number of people who gave each answer.
SCALE = (1, 2, 3, 4, 5)


class PreventionActivity(db.Model):
    __tablename__ = "prevention_activities"
    __table_args__ = (Index("ix_prevention_activities_school_date", "school_id", "occurs_on"),
                      Index("ix_prevention_activities_date", "occurs_on", "status"))
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    type: Mapped[str] = mapped_column(String(20))
    topic: Mapped[str] = mapped_column(String(30))
    topic_other: Mapped[str | None] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    occurs_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="planned")
    audience: Mapped[list] = mapped_column(JSON, default=list)
    grades: Mapped[list] = mapped_column(JSON, default=list)
    classes: Mapped[str | None] = mapped_column(String(200))
    reached: Mapped[int | None] = mapped_column(Integer)
    materials: Mapped[str | None] = mapped_column(String(500))  # what was used, in words
    eval_question: Mapped[str | None] = mapped_column(String(300))
    eval_before: Mapped[list | None] = mapped_column(JSON)  # five counts, answers 1..5
    eval_after: Mapped[list | None] = mapped_column(JSON)
    organiser_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now, onupdate=clock.now)
    data_key_id: Mapped[int | None] = mapped_column(ForeignKey("data_keys.id"))
    notes_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    version_id: Mapped[int] = mapped_column(Integer, default=1)

    school: Mapped[School] = relationship()
    organiser: Mapped[User] = relationship()
    data_key: Mapped[DataKey | None] = relationship()
    files: Mapped[list["ActivityMaterial"]] = relationship(
        back_populates="activity", cascade="all, delete-orphan", order_by="ActivityMaterial.id")

    __mapper_args__ = {"version_id_col": version_id}

    notes = encrypted("notes_ct", key_owner=lambda self: self)


class ActivityMaterial(db.Model):
    """A file used in an activity (slides as PDF, a poster), kept encrypted in the attachment store."""
    __tablename__ = "activity_materials"
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("prevention_activities.id", ondelete="CASCADE"),
                                             index=True)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    filename_ct: Mapped[bytes] = mapped_column(LargeBinary)

    activity: Mapped[PreventionActivity] = relationship(back_populates="files")
    uploaded_by: Mapped[User] = relationship()

    filename = encrypted("filename_ct", key_owner=lambda self: self.activity)
