"""Group work with students (social skills, grief, anger, friendship groups): the group, its
facilitators and members, each session with its attendance.

Two kinds of key, on purpose. What belongs to the group as a whole (its purpose, a session's
summary, the review thread of its sessions) is encrypted under the group's own data key. What is
written about one student (their observation in a session) is encrypted under that student's
case key, or the student's own key when they have no case: it lives, is read and is erased with
that student's record, and never sits in a text the readers of another member's case could open.
"""
from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .. import clock
from ..crypto import encrypted
from ..extensions import db
from .cases import Case
from .keys import DataKey
from .people import School, User
from .students import Student

GROUP_KINDS = ("social_skills", "friendship", "anger", "grief", "self_esteem", "other")
GROUP_STATES = ("active", "ended")
ATTENDANCE = ("present", "absent", "excused")


class StudentGroup(db.Model):
    __tablename__ = "student_groups"
    __table_args__ = (Index("ix_student_groups_school_status", "school_id", "status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    name: Mapped[str] = mapped_column(String(200))  # shown on members' cases: no student names
    kind: Mapped[str] = mapped_column(String(20))
    planned_sessions: Mapped[int] = mapped_column(Integer)
    starts_on: Mapped[date | None] = mapped_column(Date)
    meets: Mapped[str | None] = mapped_column(String(200))  # when and where, e.g. "Tuesdays 15:30, room 104"
    status: Mapped[str] = mapped_column(String(10), default="active")
    ended_on: Mapped[date | None] = mapped_column(Date)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    data_key_id: Mapped[int | None] = mapped_column(ForeignKey("data_keys.id"))
    purpose_ct: Mapped[bytes] = mapped_column(LargeBinary)
    version_id: Mapped[int] = mapped_column(Integer, default=1)

    school: Mapped[School] = relationship()
    created_by: Mapped[User] = relationship()
    data_key: Mapped[DataKey | None] = relationship()
    facilitators: Mapped[list["GroupFacilitator"]] = relationship(
        back_populates="group", cascade="all, delete-orphan")
    members: Mapped[list["GroupMember"]] = relationship(
        back_populates="group", cascade="all, delete-orphan", order_by="GroupMember.id")

    __mapper_args__ = {"version_id_col": version_id}

    purpose = encrypted("purpose_ct", key_owner=lambda self: self)

    @property
    def is_active(self) -> bool:
        return self.status == "active"

    @property
    def current_members(self):
        return [m for m in self.members if m.left_on is None]


class GroupFacilitator(db.Model):
    __tablename__ = "group_facilitators"
    group_id: Mapped[int] = mapped_column(ForeignKey("student_groups.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)

    group: Mapped[StudentGroup] = relationship(back_populates="facilitators")
    user: Mapped[User] = relationship()


class GroupMember(db.Model):
    """A student in a group, linked to their open case when they have one. Leaving keeps the row:
    the sessions they attended still name them."""
    __tablename__ = "group_members"
    __table_args__ = (UniqueConstraint("group_id", "student_id", name="uq_group_members_group_student"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("student_groups.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"), index=True)
    joined_on: Mapped[date] = mapped_column(Date)
    left_on: Mapped[date | None] = mapped_column(Date)
    added_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    group: Mapped[StudentGroup] = relationship(back_populates="members")
    student: Mapped[Student] = relationship()
    case: Mapped[Case | None] = relationship()


class GroupSession(db.Model):
    """One meeting of a group: a service record reviewed up the author's supervision line, with the
    same states and review thread as a case's service records."""
    __tablename__ = "group_sessions"
    __table_args__ = (UniqueConstraint("group_id", "number", name="uq_group_sessions_group_number"),
                      Index("ix_group_sessions_state", "status", "author_id", "submitted_at"),
                      Index("ix_group_sessions_occurred", "occurred_on"))
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("student_groups.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    occurred_on: Mapped[date] = mapped_column(Date)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    topic: Mapped[str] = mapped_column(String(200))  # shown on members' cases: no student names
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(20), default="submitted")
    submitted_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    submission_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    summary_ct: Mapped[bytes] = mapped_column(LargeBinary)
    version_id: Mapped[int] = mapped_column(Integer, default=1)

    group: Mapped[StudentGroup] = relationship()
    author: Mapped[User] = relationship()
    attendance: Mapped[list["GroupAttendance"]] = relationship(
        back_populates="session", cascade="all, delete-orphan", order_by="GroupAttendance.id")

    __mapper_args__ = {"version_id_col": version_id}

    summary = encrypted("summary_ct", key_owner=lambda self: self.group)


class GroupAttendance(db.Model):
    """One member at one session: whether they came, and what the facilitator observed about them.
    The observation belongs to the student's case (its timeline shows it), not to the group."""
    __tablename__ = "group_attendance"
    __table_args__ = (UniqueConstraint("session_id", "member_id", name="uq_group_attendance_session_member"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("group_sessions.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("group_members.id", ondelete="CASCADE"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(10))
    observation_ct: Mapped[bytes | None] = mapped_column(LargeBinary)

    session: Mapped[GroupSession] = relationship(back_populates="attendance")
    member: Mapped[GroupMember] = relationship()
    student: Mapped[Student] = relationship()
    case: Mapped[Case | None] = relationship()

    observation = encrypted("observation_ct", key_owner=lambda self: self.case or self.student)
