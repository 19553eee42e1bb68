"""Staff accounts, schools and the supervision line."""
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Integer, LargeBinary, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .. import clock
from ..crypto import encrypted
from ..extensions import db

# Tier of each role on the supervision line; a supervisor is always of a higher tier.
TIERS = {
    "social_worker": 1,
    "assistant_supervisor": 2,
    "practice_supervisor": 3,
    "supervisor": 4,
    "supervisor_mentor": 5,
}
CASEWORK_ROLES = tuple(TIERS)
SUPERVISOR_ROLES = tuple(r for r, t in TIERS.items() if t > 1)

user_schools = Table(
    "user_schools",
    db.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("school_id", ForeignKey("schools.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class School(db.Model):
    __tablename__ = "schools"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)

    def __str__(self):
        return self.name


class User(UserMixin, db.Model):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(32), index=True)
    supervisor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    locale: Mapped[str | None] = mapped_column(String(8))
    password_hash: Mapped[str] = mapped_column(String(255))
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    on_duty: Mapped[bool] = mapped_column(Boolean, default=False)
    # Two-factor sign-in: the TOTP secret is encrypted under the user's own data key (so key
    # rotation re-wraps it like everything else); it counts only once mfa_enabled_at is set.
    # mfa_last_step is the last time step accepted, so a code cannot be used twice.
    uid: Mapped[str | None] = mapped_column(String(32), unique=True)
    data_key_id: Mapped[int | None] = mapped_column(ForeignKey("data_keys.id"))
    mfa_secret_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    mfa_enabled_at: Mapped[datetime | None] = mapped_column(DateTime)
    mfa_last_step: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    deactivated_at: Mapped[datetime | None] = mapped_column(DateTime)
    version_id: Mapped[int] = mapped_column(Integer, default=1)

    supervisor: Mapped["User | None"] = relationship(remote_side=[id], back_populates="supervisees")
    supervisees: Mapped[list["User"]] = relationship(back_populates="supervisor")
    schools: Mapped[list[School]] = relationship(secondary=user_schools, order_by=School.name)

    __mapper_args__ = {"version_id_col": version_id}

    mfa_secret = encrypted("mfa_secret_ct", key_owner=lambda self: self)

    @property
    def mfa_enabled(self) -> bool:
        return self.mfa_enabled_at is not None

    @property
    def is_active(self):  # Flask-Login: deactivated accounts cannot sign in
        return self.active

    @property
    def tier(self) -> int:
        return TIERS.get(self.role, 0)

    @property
    def is_supervisor(self) -> bool:
        return self.role in SUPERVISOR_ROLES

    def __str__(self):
        return self.display_name


class LoginSession(db.Model):
    """A signed-in browser. The cookie holds only this random id; ending the row ends the session."""
    __tablename__ = "login_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    end_reason: Mapped[str | None] = mapped_column(String(32))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(200))

    user: Mapped[User] = relationship()


class RecoveryCode(db.Model):
    """A one-time code for signing in without the authenticator app; stored as an argon2 hash."""
    __tablename__ = "mfa_recovery_codes"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
