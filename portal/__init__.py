"""School social work case-management portal: the application factory."""
import os

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import build_config
from .extensions import babel, csrf, db, limiter, login_manager, migrate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_conn, _record):
    """SQLite: foreign keys on, WAL for concurrent readers, wait rather than fail on a lock."""
    if dbapi_conn.__class__.__module__.startswith("sqlite3"):
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=5000")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()


def select_locale():
    from .i18n import select_locale as _select
    return _select()


def create_app(config=None):
    app = Flask(__name__, instance_relative_config=True,
                template_folder=os.path.join(ROOT, "templates"),
                static_folder=os.path.join(ROOT, "static"))
    if config and config.get("INSTANCE_PATH"):
        app.instance_path = config["INSTANCE_PATH"]
    os.makedirs(app.instance_path, mode=0o700, exist_ok=True)
    app.config.update(build_config(app.instance_path, config))

    if app.config["PROXY_FIX_HOPS"]:
        hops = app.config["PROXY_FIX_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(ROOT, "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=select_locale,
                   default_translation_directories=os.path.join(ROOT, "portal", "translations"))
    login_manager.init_app(app)

    from . import models  # noqa: F401  (registers the tables)
    from .crypto import load_keyring
    try:
        app.extensions["portal_keyring"] = load_keyring(app)
    except Exception:
        with app.app_context():
            db.engine.dispose()  # a refused start leaves no open connection behind
        raise

    from . import auth, errors, i18n, web
    from .admin import bp as admin_bp
    from .auth import bp as auth_bp
    from .cases import bp as cases_bp
    from .home import bp as home_bp
    from .notes import bp as notes_bp
    from .alerts import bp as alerts_bp
    from .concerns import bp as concerns_bp
    from .casework import bp as casework_bp
    from .students import bp as students_bp
    from .crisis import bp as crisis_bp
    from .family import bp as family_bp
    from .referrals import bp as referrals_bp
    from .groups import bp as groups_bp
    from .prevention import bp as prevention_bp
    from .ops import bp as ops_bp, init_logging
    from .retention import bp as retention_bp
    from .records import bp as records_bp
    from .supervision import bp as supervision_bp
    from .casestudies import bp as casestudies_bp
    from .reports import bp as reports_bp

    init_logging(app)  # first: every later hook and log line has the request id
    auth.init_login(app)
    for bp in (ops_bp, auth_bp, home_bp, students_bp, cases_bp, notes_bp, casework_bp, concerns_bp, alerts_bp,
               crisis_bp, family_bp, referrals_bp, groups_bp, prevention_bp, retention_bp, records_bp,
               supervision_bp, casestudies_bp, reports_bp, admin_bp):
        app.register_blueprint(bp)
    errors.register(app)
    i18n.register(app)
    app.after_request(web.security_headers)
    from .alerts.views import live_state
    app.jinja_env.globals["live_state"] = live_state

    from .cli import register as register_cli
    register_cli(app)

    return app
