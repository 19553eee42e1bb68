"""Confidential notes (versioned, never overwritten), encrypted attachments, emergency access."""
from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .. import clock
from ..crypto import encrypted
from ..extensions import db
from .cases import Case
from .people import User


class Note(db.Model):
    """A confidential note on a case. Its text lives in versions: amendments add, never replace."""
    __tablename__ = "notes"
    __table_args__ = (Index("ix_notes_case_created", "case_id", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    # Restricted: the author and the author's supervision line only, not the rest of the team.
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)

    case: Mapped[Case] = relationship()
    author: Mapped[User] = relationship()
    versions: Mapped[list["NoteVersion"]] = relationship(
        back_populates="note", order_by="NoteVersion.number", cascade="all, delete-orphan")

    @property
    def current(self) -> "NoteVersion":
        return self.versions[-1]


class NoteVersion(db.Model):
    __tablename__ = "note_versions"
    __table_args__ = (UniqueConstraint("note_id", "number", name="uq_note_versions_note_number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("notes.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    body_ct: Mapped[bytes] = mapped_column(LargeBinary)
    reason_ct: Mapped[bytes | None] = mapped_column(LargeBinary)  # why it was amended

    note: Mapped[Note] = relationship(back_populates="versions")
    author: Mapped[User] = relationship()

    body = encrypted("body_ct", key_owner=lambda self: self.note.case)
    reason = encrypted("reason_ct", key_owner=lambda self: self.note.case)


class Attachment(db.Model):
    """A file kept encrypted in the attachment store; name and content are encrypted."""
    __tablename__ = "attachments"
    __table_args__ = (Index("ix_attachments_case_created", "case_id", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    note_id: Mapped[int | None] = mapped_column(ForeignKey("notes.id"), index=True)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    content_type: Mapped[str] = mapped_column(String(40))  # detected from the bytes
    size: Mapped[int] = mapped_column(Integer)
    filename_ct: Mapped[bytes] = mapped_column(LargeBinary)

    case: Mapped[Case] = relationship()
    note: Mapped[Note | None] = relationship()
    uploaded_by: Mapped[User] = relationship()

    filename = encrypted("filename_ct", key_owner=lambda self: self.case)


class AccessGrant(db.Model):
    """Break the glass: a supervisor outside the line reads a case in an emergency, with a reason."""
    __tablename__ = "access_grants"
    __table_args__ = (Index("ix_access_grants_user_case", "user_id", "case_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime)
    reason_ct: Mapped[bytes] = mapped_column(LargeBinary)

    case: Mapped[Case] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id])

    reason = encrypted("reason_ct", key_owner=lambda self: self.case)
