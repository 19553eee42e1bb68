"""Two-factor sign-in: TOTP (RFC 6238, pyotp) with one-time recovery codes. Rules, no HTTP.

The secret is encrypted under the user's data key; recovery codes are argon2 hashes. A code is
accepted once: the last accepted time step is kept and moved forward by a conditional UPDATE, so
two requests carrying the same code cannot both sign in (the same for a recovery code's used_at).
Time comes from portal.clock, so tests move it.
"""
import calendar
import hashlib
import hmac
import secrets

import pyotp
import segno
from flask import current_app
from sqlalchemy import delete, func, or_, select, update

from .. import audit, clock
from ..extensions import db
from ..models import RecoveryCode, User
from .passwords import hash_password, verify_password
from .services import AccountError, end_other_sessions

STEP_SECONDS = 30
DRIFT_STEPS = 1  # accept the previous and the next code too (phones' clocks drift)
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud, typed from paper


def required_for(user) -> bool:
    return bool(current_app.config["REQUIRE_MFA"]) and user.role in current_app.config["MFA_REQUIRED_ROLES"]


def _step(moment) -> int:
    return calendar.timegm(moment.utctimetuple()) // STEP_SECONDS


# -- enrolment -------------------------------------------------------------------------------------

def _mark(secret) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:24]


def pending_secret(user, store) -> str:
    """The secret being enrolled, kept until confirmed so a reload shows the same QR code, but
    only in the browser session that made it (`store`: the Flask session holds its mark). Any
    other session opening the set-up gets a new secret: a key someone read earlier with a stolen
    password is worthless once the real user enrols."""
    if user.mfa_enabled:
        raise AccountError(None, "already_enabled")
    secret = user.mfa_secret
    if not secret or store.get("mfa_enrolling") != _mark(secret):
        secret = pyotp.random_base32()
        user.mfa_secret = secret
        user.mfa_last_step = None
        store["mfa_enrolling"] = _mark(secret)
    return secret


def provisioning_uri(user, secret) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=current_app.config["MFA_ISSUER"])


def qr_data_uri(uri: str) -> str:
    """The QR code as an SVG data URI, drawn here (no outside service sees the secret)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2, dark="#111", light="#fff")


def confirm_enrolment(user, code, store) -> list[str]:
    """Turn two-factor sign-in on once the app shows a right code; returns the recovery codes
    (shown once). Only the session that was shown the secret confirms it. Other sessions of the
    user, signed in without the factor, end."""
    if user.mfa_enabled or not user.mfa_secret or store.get("mfa_enrolling") != _mark(user.mfa_secret):
        raise AccountError("code", "not_pending")
    if not _accept_totp(user, code):
        audit.record("auth.mfa_code_failed", user, actor=user, details={"during": "enrolment"})
        raise AccountError("code", "wrong_code")
    user.mfa_enabled_at = clock.now()
    store.pop("mfa_enrolling", None)
    codes = _new_recovery_codes(user)
    from flask import session
    end_other_sessions(user, keep_sid=session.get("sid"), reason="mfa_enabled")
    audit.record("auth.mfa_enabled", user, actor=user)
    return codes


def regenerate_recovery_codes(user, code) -> list[str]:
    if not user.mfa_enabled:
        raise AccountError(None, "not_enabled")
    if not _accept_totp(user, code):
        audit.record("auth.mfa_code_failed", user, actor=user, details={"during": "recovery_codes"})
        raise AccountError("code", "wrong_code")
    codes = _new_recovery_codes(user)
    audit.record("auth.mfa_recovery_codes_renewed", user, actor=user)
    return codes


def disable(user, password):
    """A user for whom the factor is optional (a teacher) may turn it off, with their password."""
    if required_for(user):
        raise AccountError(None, "required")
    if not verify_password(user.password_hash, password):
        raise AccountError("password", "wrong")
    _clear(user)
    audit.record("auth.mfa_disabled", user, actor=user)


def reset(actor, user):
    """An administrator clears a user's second factor (a lost phone). The user's sessions end and
    they enrol again at their next sign-in (if it is required for them)."""
    if actor is not None and actor.id == user.id:
        raise AccountError(None, "self_reset")
    was_enabled = user.mfa_enabled
    _clear(user)
    end_other_sessions(user, reason="mfa_reset")
    audit.record("auth.mfa_reset", user, actor=actor, details={"was_enabled": was_enabled})
    from ..alerts.services import notify
    from ..web import path_for
    notify(user, "mfa_reset", path_for("auth.security"), params={"by": actor.display_name if actor else ""})


def _clear(user):
    user.mfa_secret = None
    user.mfa_enabled_at = None
    user.mfa_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


# -- verification ------------------------------------------------------------------------------------

def verify(user, code) -> str | None:
    """'totp' or 'recovery' when the code signs the user in (consuming it), else None."""
    code = (code or "").strip().replace(" ", "")
    if code.isdigit():
        return "totp" if _accept_totp(user, code) else None
    return "recovery" if _accept_recovery(user, code) else None


def _accept_totp(user, code) -> bool:
    code = (code or "").strip().replace(" ", "")
    secret = user.mfa_secret
    if not secret or len(code) != 6 or not code.isdigit():
        return False
    totp, now = pyotp.TOTP(secret), _step(clock.now())
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        if user.mfa_last_step is not None and step <= user.mfa_last_step:
            continue  # this code (or an older one) was already used
        if hmac.compare_digest(totp.generate_otp(step), code):
            moved = db.session.execute(
                update(User).where(User.id == user.id,
                                   or_(User.mfa_last_step.is_(None), User.mfa_last_step < step))
                .values(mfa_last_step=step).execution_options(synchronize_session=False)).rowcount
            if moved:
                db.session.expire(user, ["mfa_last_step"])
            return bool(moved)
    return False


def _normalise_recovery(code: str) -> str:
    return "".join(ch for ch in (code or "").lower() if ch.isalnum())


def _accept_recovery(user, code) -> bool:
    code = _normalise_recovery(code)
    if len(code) != 10:
        return False
    unused = db.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id,
                                                           RecoveryCode.used_at.is_(None))).all()
    for row in unused:
        if verify_password(row.code_hash, code):
            used = db.session.execute(
                update(RecoveryCode).where(RecoveryCode.id == row.id, RecoveryCode.used_at.is_(None))
                .values(used_at=clock.now()).execution_options(synchronize_session=False)).rowcount
            if used:
                audit.record("auth.mfa_recovery_code_used", user, actor=user,
                             details={"left": len(unused) - 1})
            return bool(used)
    return False


def recovery_codes_left(user) -> int:
    return db.session.scalar(select(func.count()).select_from(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)))


def _new_recovery_codes(user) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(current_app.config["MFA_RECOVERY_CODES"]):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))  # about 50 bits
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(RecoveryCode(user_id=user.id, code_hash=hash_password(raw), created_at=clock.now()))
    db.session.flush()
    return codes
