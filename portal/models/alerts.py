"""Alerts (must be seen and acknowledged at once) and notifications (in-app messages).

Shared by urgent concerns, crises and overdue home visits. Neither ever holds a student's name or
any case content: a lost phone or a forwarded email leaks nothing.
"""
from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .. import clock
from ..extensions import db
from .people import School, User


class Alert(db.Model):
    """Something people must see at once (an urgent concern; a crisis). Never holds names or content."""
    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    raised_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    source_type: Mapped[str] = mapped_column(String(40))
    source_id: Mapped[int] = mapped_column()
    link: Mapped[str] = mapped_column(String(200))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    # Escalation up a supervision line (crises): while nobody on `line_of`'s line has acknowledged,
    # the next person up is added every `escalate_minutes`. settled_at ends it.
    line_of_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    escalate_minutes: Mapped[int | None] = mapped_column(Integer)
    next_escalation_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    tier: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    settled_at: Mapped[datetime | None] = mapped_column(DateTime)
    settled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    school: Mapped[School] = relationship()
    raised_by: Mapped[User | None] = relationship(foreign_keys=[raised_by_id])
    settled_by: Mapped[User | None] = relationship(foreign_keys=[settled_by_id])
    recipients: Mapped[list["AlertRecipient"]] = relationship(back_populates="alert",
                                                              cascade="all, delete-orphan")


class AlertRecipient(db.Model):
    __tablename__ = "alert_recipients"
    __table_args__ = (Index("ix_alert_recipients_open", "user_id", "acknowledged_at"),)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    notified_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime)

    alert: Mapped[Alert] = relationship(back_populates="recipients")
    user: Mapped[User] = relationship()


class Notification(db.Model):
    """An in-app message to one person: what kind of thing happened and a link. No content."""
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_unread", "user_id", "read_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(40))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    link: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    read_at: Mapped[datetime | None] = mapped_column(DateTime)
