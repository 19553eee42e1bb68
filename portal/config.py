"""Settings: defaults, then environment, then the mapping passed to create_app.

SQLite in instance/portal.db is the embedded default; DATABASE_URL selects PostgreSQL.
Secrets (SECRET_KEY, the key ring) come from the environment or from owner-only files in
instance/, created on first run.
"""
import os
import secrets
from datetime import timedelta

ROLES = (
    "teacher",
    "social_worker",
    "assistant_supervisor",
    "practice_supervisor",
    "supervisor",
    "supervisor_mentor",
    "admin",
)


def normalise_db_url(url: str) -> str:
    """postgresql:// and postgres:// use psycopg 3, the driver we ship."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def read_or_create_secret(path: str, nbytes: int = 48) -> str:
    """Read a secret file; create it owner-only when absent."""
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            return fh.read().strip()
    value = secrets.token_urlsafe(nbytes)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(value)
    return value


def _pairs(text: str):
    return [tuple(part.split("=", 1)) if "=" in part else (part, "")
            for part in (p.strip() for p in text.split(";")) if part]


def build_config(instance_path: str, overrides=None) -> dict:
    overrides = dict(overrides or {})
    env = os.environ
    production = env.get("PORTAL_ENV", "development") == "production"
    cfg = {
        "PORTAL_ENV": "production" if production else "development",
        "SQLALCHEMY_DATABASE_URI": normalise_db_url(
            env.get("DATABASE_URL") or "sqlite:///" + os.path.join(instance_path, "portal.db")
        ),
        # hide_parameters: an error message never quotes the values of a statement (names, text).
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "hide_parameters": True},
        "KEYRING_PATH": env.get("PORTAL_KEYRING_PATH") or os.path.join(instance_path, "keys"),
        "PORTAL_MASTER_KEYS": env.get("PORTAL_MASTER_KEYS"),
        "REDIS_URL": env.get("REDIS_URL"),
        "MAIL_SERVER": env.get("MAIL_SERVER"),
        "MAIL_PORT": int(env.get("MAIL_PORT", "25")),
        "MAIL_FROM": env.get("MAIL_FROM", "portal@localhost"),
        "MAIL_ASYNC": True,
        "PUBLIC_URL": env.get("PORTAL_PUBLIC_URL"),  # e.g. https://portal.district.edu.cn, for links in mail  # send after commit in a background thread (tests send inline)
        # Session cookies: HttpOnly always, Secure in production (TLS at the proxy).
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _env_bool("SESSION_COOKIE_SECURE", production),
        "SESSION_COOKIE_NAME": "portal_session",
        "REMEMBER_COOKIE_DURATION": timedelta(seconds=0),
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=12),
        "IDLE_TIMEOUT": timedelta(minutes=int(env.get("PORTAL_IDLE_MINUTES", "30"))),
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session does
        "WTF_CSRF_SSL_STRICT": production,
        "RATELIMIT_STORAGE_URI": env.get("REDIS_URL") or "memory://",
        "RATELIMIT_HEADERS_ENABLED": False,
        "LOGIN_LIMIT_PER_ACCOUNT": env.get("PORTAL_LOGIN_LIMIT_ACCOUNT", "10 per 15 minutes"),
        "LOGIN_LIMIT_PER_ADDRESS": env.get("PORTAL_LOGIN_LIMIT_ADDRESS", "30 per 15 minutes"),
        "BABEL_DEFAULT_LOCALE": "en",
        "BABEL_DEFAULT_TIMEZONE": env.get("PORTAL_TIMEZONE", "Asia/Shanghai"),
        "LANGUAGES": {"en": "English", "zh": "简体中文"},
        "PASSWORD_MIN_LENGTH": 12,
        "PAGE_SIZE": 25,
        "IMPORT_MAX_BYTES": 5 * 1024 * 1024,
        "ATTACHMENT_MAX_BYTES": int(env.get("PORTAL_ATTACHMENT_MAX_MB", "10")) * 1024 * 1024,
        "ATTACHMENT_DIR": env.get("PORTAL_ATTACHMENT_DIR"),
        "BREAK_GLASS_HOURS": int(env.get("PORTAL_BREAK_GLASS_HOURS", "8")),
        "NOTES_PAGE_SIZE": 50,
        # Shown to a teacher who reports immediate danger (local numbers; override per district).
        # "number=label;number=label"
        "EMERGENCY_NUMBERS": _pairs(env.get("PORTAL_EMERGENCY_NUMBERS",
                                            "110=警察 police;120=急救 ambulance;12356=心理援助 mental health")),
        # Crisis: minutes an unacknowledged crisis alert waits before the next tier up is alerted;
        # the follow-up cadence; hours after which a follow-up counts as missed; the written
        # report deadline after a mandated report. Local rules, so configuration, not code.
        "CRISIS_ESCALATE_MINUTES": int(env.get("PORTAL_CRISIS_ESCALATE_MINUTES", "10")),
        "CRISIS_FOLLOW_UPS": env.get("PORTAL_CRISIS_FOLLOW_UPS", "24h,72h,7d,30d"),
        "CRISIS_FOLLOW_UP_GRACE_HOURS": int(env.get("PORTAL_CRISIS_FOLLOW_UP_GRACE_HOURS", "12")),
        "MANDATED_REPORT_WRITTEN_HOURS": int(env.get("PORTAL_MANDATED_REPORT_WRITTEN_HOURS", "36")),
        # Columbia screener: which "yes" answers give each level (checked high first). q6 is any
        # suicidal behaviour in the student's life, q6_recent the same within three months.
        "SCREEN_RULES": {
            "high": env.get("PORTAL_SCREEN_HIGH", "q4,q5,q6_recent"),
            "moderate": env.get("PORTAL_SCREEN_MODERATE", "q3,q6"),
            "low": env.get("PORTAL_SCREEN_LOW", "q1,q2"),
        },
        # Minutes after a home visit's expected return before its check-in colleague is alerted.
        "HOME_VISIT_GRACE_MINUTES": int(env.get("PORTAL_HOME_VISIT_GRACE_MINUTES", "30")),
        # Referrals: days without a status change before a referral shows in the worker's My day
        # (and twice that in the supervisor's queue); the age from which a student may consent.
        "REFERRAL_STALE_DAYS": int(env.get("PORTAL_REFERRAL_STALE_DAYS", "14")),
        "STUDENT_CONSENT_MIN_AGE": int(env.get("PORTAL_STUDENT_CONSENT_MIN_AGE", "14")),
        "SWEEP_SECONDS": int(env.get("PORTAL_SWEEP_SECONDS", "30")),
        # Every signed-in page load runs the sweep too (at most every SWEEP_SECONDS per process),
        # so an escalation is on time even where no cron runs (`make run`) and no page stays open.
        "SWEEP_ON_PAGES": _env_bool("PORTAL_SWEEP_ON_PAGES", True),
        # The school year's terms, by the month-day each starts (a term ends the day before the
        # next one starts): the term calendar of prevention activities and its figures, and
        # "this term" on dashboards and reports.
        "TERM_STARTS": env.get("PORTAL_TERM_STARTS", "09-01,02-15"),
        # Two-factor sign-in (TOTP): required for the roles that read case content, and for
        # administrators (who can reset those people's passwords and second factors), whenever
        # PORTAL_REQUIRE_MFA is on: on in production, off for the demo and tests unless set.
        "REQUIRE_MFA": _env_bool("PORTAL_REQUIRE_MFA", production),
        "MFA_REQUIRED_ROLES": ROLES[1:],  # everyone but teachers, for whom it is optional
        "MFA_ISSUER": env.get("PORTAL_MFA_ISSUER", "School Social Work Portal"),
        "MFA_LIMIT_PER_ACCOUNT": env.get("PORTAL_MFA_LIMIT_ACCOUNT", "5 per 15 minutes"),
        "MFA_PENDING_SECONDS": 300,  # between the password and the code
        "MFA_RECOVERY_CODES": 10,
        # Accounts nobody has signed in to for this long are flagged to administrators.
        "INACTIVE_DAYS": int(env.get("PORTAL_INACTIVE_DAYS", "90")),
        # Retention per record kind (local rules, so configuration): closed cases N years after
        # the student left; child-protection cases until the student is N years old (and left);
        # concerns closed without action N years after triage; the student's own record
        # (family, disclosure log, record requests) N years after leaving, once nothing else is kept.
        "RETENTION": {
            "case": int(env.get("PORTAL_RETAIN_CASE_YEARS", "7")),
            "child_protection": int(env.get("PORTAL_RETAIN_CHILD_PROTECTION_AGE", "25")),
            "concern": int(env.get("PORTAL_RETAIN_CONCERN_YEARS", "3")),
            "student": int(env.get("PORTAL_RETAIN_STUDENT_YEARS", "7")),
        },
        "BACKUP_DIR": env.get("PORTAL_BACKUP_DIR") or os.path.join(instance_path, "backups"),
        # text: Flask's usual lines; json: one JSON object per line, with the request id, never
        # personal data (no addresses, no user names, routes without ids or query strings).
        "LOG_FORMAT": env.get("PORTAL_LOG_FORMAT", "text"),
        # Supervision. The line's ratio and caseloads are the organisation's rule (seed 000 says
        # 1:2:4:14 and assistant supervisors at 70% of a worker's load): these are the defaults
        # until an administrator or a top-tier supervisor saves the policy in the portal.
        "LINE_RATIO": env.get("PORTAL_LINE_RATIO",
                              "supervisor=1,practice_supervisor=2,assistant_supervisor=4,social_worker=14"),
        "CASELOAD_LIMIT": int(env.get("PORTAL_CASELOAD_LIMIT", "20")),
        "CASELOAD_SHARES": env.get("PORTAL_CASELOAD_SHARES", "social_worker=100,assistant_supervisor=70"),
        # Who, besides administrators, moves people on the line and keeps the policy; who sees
        # the district view.
        "LINE_MANAGERS": env.get("PORTAL_LINE_MANAGERS", "supervisor,supervisor_mentor"),
        "DISTRICT_ROLES": env.get("PORTAL_DISTRICT_ROLES", "supervisor_mentor"),
        # A service record counts as on time when first submitted within this many days.
        "RECORD_ON_TIME_DAYS": int(env.get("PORTAL_RECORD_ON_TIME_DAYS", "3")),
        # Submissions waiting longer than this for review count as overdue on the line dashboard.
        "REVIEW_OVERDUE_DAYS": int(env.get("PORTAL_REVIEW_OVERDUE_DAYS", "7")),
        # School-level figures below this are shown as "<N" so no child can be singled out.
        "SUPPRESS_BELOW": int(env.get("PORTAL_SUPPRESS_BELOW", "5")),
        "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
        # Trusted proxy hops for X-Forwarded-For (gunicorn behind nginx: 1).
        "PROXY_FIX_HOPS": int(env.get("PORTAL_PROXY_HOPS", "0")),
        "TESTING": False,
    }
    secret = env.get("SECRET_KEY") or overrides.get("SECRET_KEY")
    if not secret:
        secret = read_or_create_secret(os.path.join(instance_path, "secret_key"))
    cfg["SECRET_KEY"] = secret
    cfg.update(overrides)
    cfg["SQLALCHEMY_DATABASE_URI"] = normalise_db_url(cfg["SQLALCHEMY_DATABASE_URI"])
    _create_private_sqlite(cfg["SQLALCHEMY_DATABASE_URI"])
    return cfg


def _create_private_sqlite(url: str):
    """An embedded database holds children's records: create it owner-only."""
    if url.startswith("sqlite:///") and ":memory:" not in url:
        path = url[len("sqlite:///"):]
        if path and not os.path.exists(path) and os.path.isdir(os.path.dirname(path) or "."):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
