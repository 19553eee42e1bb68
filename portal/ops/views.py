from flask import current_app, jsonify
from sqlalchemy import text

from ..extensions import csrf, db, limiter
from . import bp


@bp.route("/healthz")
@csrf.exempt
@limiter.exempt
def healthz():
    """For load balancers: 200 when the database answers and the key ring is loaded, else 503.
    Says nothing else (no versions, no counts): it needs no sign-in."""
    checks = {"database": False, "keys": "portal_keyring" in current_app.extensions}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = True
    except Exception:  # any failure is "not ready"; the reason goes to the log, not the answer
        current_app.logger.exception("health check: the database does not answer")
    finally:
        db.session.rollback()
    ok = all(checks.values())
    resp = jsonify(status="ok" if ok else "unavailable", checks=checks)
    resp.status_code = 200 if ok else 503
    resp.headers["Cache-Control"] = "no-store"
    return resp
