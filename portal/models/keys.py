"""Data keys: one random key per case (or student), stored wrapped by a master key."""
from datetime import datetime

from sqlalchemy import DateTime, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from .. import clock
from ..extensions import db


class DataKey(db.Model):
    __tablename__ = "data_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    master_key_id: Mapped[str] = mapped_column(String(32), index=True)
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)  # None once destroyed
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    destroyed_at: Mapped[datetime | None] = mapped_column(DateTime)
