"""Accounts and login sessions: rules, no HTTP."""
import hashlib
import hmac
import secrets
from datetime import timedelta

from flask import current_app, g, request, session
from flask_login import current_user, login_user, logout_user
from sqlalchemy import func, select, update

from .. import audit, clock
from ..extensions import db, login_manager
from ..models import LoginSession, User
from ..models.people import TIERS
from .passwords import hash_password, needs_rehash, password_problems, verify_password

LAST_SEEN_GRANULARITY = timedelta(seconds=60)
PASSIVE_ENDPOINTS = {"alerts.live"}


class AccountError(ValueError):
    """A rule refused the change; `field` names the form field it belongs to."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field = field
        self.message = message


def find_user(username: str):
    return db.session.scalar(select(User).where(User.username == (username or "").strip().lower()))


def authenticate(username: str, password: str):
    user = find_user(username)
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or not user.active:
        # A mistyped username may be a password: only an existing account's id is recorded.
        audit.record("auth.login_failed", object_type="users", object_id=user.id if user else None,
                     details={} if user else {"unknown_account": True})
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def start_session(user, ip=None, user_agent=None):
    """Sign in with a fresh session id: anything set before login (a fixated cookie) is dropped."""
    locale = session.get("locale")  # chosen on the sign-in page: keep it
    session.clear()
    if locale and not user.locale:
        user.locale = locale
    sid = secrets.token_urlsafe(32)
    db.session.add(LoginSession(id=sid, user_id=user.id, ip=ip, user_agent=(user_agent or "")[:200]))
    user.last_login_at = clock.now()
    login_user(user)
    session["sid"] = sid
    session.permanent = True
    audit.record("auth.login", user, actor=user)
    return sid


def end_session(reason="logout"):
    sid = session.get("sid")
    if sid:
        db.session.execute(update(LoginSession).where(LoginSession.id == sid, LoginSession.ended_at.is_(None))
                           .values(ended_at=clock.now(), end_reason=reason))
    locale = current_user.locale if current_user and current_user.is_authenticated else session.get("locale")
    logout_user()
    session.clear()
    if locale:  # the sign-in page after signing out speaks the user's language, nothing else stays
        session["locale"] = locale


def end_other_sessions(user, keep_sid=None, reason="password_changed"):
    stmt = update(LoginSession).where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
    if keep_sid:
        stmt = stmt.where(LoginSession.id != keep_sid)
    db.session.execute(stmt.values(ended_at=clock.now(), end_reason=reason))


def session_handle(sid: str) -> str:
    """What pages and forms name a session by: the id itself is the cookie's secret."""
    return hashlib.sha256(sid.encode()).hexdigest()[:20]


def active_sessions(user):
    """The user's signed-in browsers, this one first, then the most recently used."""
    rows = db.session.scalars(select(LoginSession).where(LoginSession.user_id == user.id,
                                                         LoginSession.ended_at.is_(None))
                              .order_by(LoginSession.last_seen_at.desc())).all()
    current = session.get("sid")
    return sorted(rows, key=lambda r: r.id != current)


def end_session_by_handle(user, handle):
    """End one of the user's own sessions (not this one: that is signing out)."""
    for ls in active_sessions(user):
        if hmac.compare_digest(session_handle(ls.id), handle or ""):
            if ls.id == session.get("sid"):
                raise AccountError(None, "current_session")
            ls.ended_at, ls.end_reason = clock.now(), "ended_by_user"
            audit.record("auth.session_ended", user, details={"by": "user"})
            return
    raise AccountError(None, "no_session")


def end_my_other_sessions(user) -> int:
    n = len(active_sessions(user)) - 1
    end_other_sessions(user, keep_sid=session.get("sid"), reason="ended_by_user")
    audit.record("auth.sessions_ended", user, details={"count": max(n, 0)})
    return max(n, 0)


def inactive_clause(days: int):
    """SQL: active accounts nobody has signed in to for `days` (never, counting from creation)."""
    cutoff = clock.now() - timedelta(days=days)
    return (User.active.is_(True)) & (func.coalesce(User.last_login_at, User.created_at) < cutoff)


def change_password(user, current, new, confirm):
    if not verify_password(user.password_hash, current):
        raise AccountError("current_password", "wrong")
    if new != confirm:
        raise AccountError("confirm", "mismatch")
    problems = password_problems(new, [user.username, user.display_name, user.email])
    if problems:
        raise AccountError("new_password", " ".join(problems))
    user.password_hash = hash_password(new)
    user.password_changed_at = clock.now()
    end_other_sessions(user, keep_sid=session.get("sid"))
    audit.record("auth.password_changed", user)


def validate_supervisor(user_role: str, supervisor) -> str | None:
    """The supervision line runs strictly upward, so it can never loop."""
    if supervisor is None:
        return None
    if user_role not in TIERS:
        return "no_line"
    if supervisor.role not in TIERS or TIERS[supervisor.role] <= TIERS[user_role]:
        return "not_higher"
    if not supervisor.active:
        return "inactive"
    return None


def init_login(app):
    login_manager.login_view = "auth.login"
    login_manager.session_protection = None  # our own login sessions do this job

    @login_manager.user_loader
    def load_user(user_id):
        sid = session.get("sid")
        if not sid:
            return None
        row = db.session.execute(
            select(LoginSession, User).join(User, User.id == LoginSession.user_id)
            .where(LoginSession.id == sid, LoginSession.ended_at.is_(None))).first()
        if row is None or str(row.User.id) != str(user_id) or not row.User.active:
            return None
        ls, user = row
        now = clock.now()
        expired = now - ls.created_at > current_app.config["PERMANENT_SESSION_LIFETIME"]
        if expired or now - ls.last_seen_at > current_app.config["IDLE_TIMEOUT"]:
            ls.ended_at, ls.end_reason = now, "expired" if expired else "idle"
            db.session.commit()
            g.session_expired = True
            session.pop("sid", None)
            return None
        # Background polling (the live region) is not activity: a page left open still times out.
        if now - ls.last_seen_at > LAST_SEEN_GRANULARITY and request.endpoint not in PASSIVE_ENDPOINTS:
            ls.last_seen_at = now
            db.session.commit()
        return user

    # With PORTAL_REQUIRE_MFA, someone who can read case content (or administer those who can)
    # and has no second factor yet reaches only the set-up page until they enrol.
    open_endpoints = {"auth.mfa_setup", "auth.logout", "auth.language", "auth.login", "auth.login_code",
                      "static", "ops.healthz", "alerts.live"}

    @app.before_request
    def require_second_factor():
        if not app.config["REQUIRE_MFA"] or request.endpoint in open_endpoints:
            return None
        from flask_login import current_user

        from ..web import see_other
        if current_user.is_authenticated and not current_user.mfa_enabled \
                and current_user.role in app.config["MFA_REQUIRED_ROLES"]:
            return see_other("auth.mfa_setup")
        return None

    @login_manager.unauthorized_handler
    def unauthorized():
        from flask import flash, request, url_for
        from flask_babel import gettext as _

        from ..web import see_other
        if g.get("session_expired"):
            flash(_("You were signed out after a period of inactivity."), "info")
        else:
            flash(_("Please sign in to continue."), "info")
        # Only the path is carried over: query strings may hold a searched name.
        target = url_for("auth.login", next=request.path if request.method == "GET" else None)
        return see_other(target)
