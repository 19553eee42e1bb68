import time

from flask import abort, current_app, redirect, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select, update

from .. import clock
from ..extensions import db
from ..models import Alert, Notification
from ..permissions import require
from ..web import is_htmx, render, safe_next, see_other, toast
from ..admin.forms import ConfirmForm
from . import bp, services


def live_state(user):
    """What the live region shows: open alerts, the triage count, unread notifications."""
    from ..concerns.services import new_concern_count
    from ..permissions import can
    return {
        "alerts": services.open_alerts(user),
        "triage_count": new_concern_count(user) if can(user, "concern.queue") else None,
        "unread": services.unread_count(user),
        "alert_count": services.open_alert_count(user),
        "describe_alert": services.describe,
    }


def _maybe_sweep():
    """Escalations must not wait for cron: the live poll runs the sweep, at most every
    SWEEP_SECONDS per process. A failure is logged and never breaks the page."""
    state = current_app.extensions.setdefault("portal_sweep", {"at": None})
    now = time.monotonic()
    if state["at"] is not None and now - state["at"] < current_app.config["SWEEP_SECONDS"]:
        return
    state["at"] = now
    try:
        if services.sweep():
            db.session.commit()
    except Exception:  # noqa: BLE001  (the poll must keep working)
        db.session.rollback()
        current_app.logger.exception("sweep failed")


@bp.before_app_request
def _sweep_on_page_load():
    if current_app.config["SWEEP_ON_PAGES"] and request.method == "GET" and current_user.is_authenticated \
            and not request.path.startswith("/static/"):
        _maybe_sweep()


@bp.route("/live")
@login_required
def live():
    """Polled every 30 seconds by every page: alert banners and badge counts."""
    require("home.view")
    _maybe_sweep()
    return render("alerts/live_page.html", "alerts/_live.html", oob=is_htmx(), **live_state(current_user))


def _load_alert(alert_id):
    alert = db.session.get(Alert, alert_id)
    if alert is None:
        abort(404)
    if not any(r.user_id == current_user.id for r in alert.recipients):
        require("alert.read", alert)  # not a recipient: refused and audited
    return alert


@bp.route("/alerts/<int:alert_id>")
@login_required
def open_alert(alert_id):
    alert = _load_alert(alert_id)
    return redirect(alert.link)


@bp.route("/alerts/<int:alert_id>/acknowledge", methods=["POST"])
@login_required
def acknowledge(alert_id):
    alert = _load_alert(alert_id)
    services.acknowledge(current_user, alert)
    db.session.commit()
    if is_htmx():
        return toast(render("alerts/live_page.html", "alerts/_live.html", oob=True, **live_state(current_user)),
                     _("Alert acknowledged."))
    return see_other(safe_next(request.form.get("next"), "/home"))


@bp.route("/notifications")
@login_required
def notifications():
    require("home.view")
    items = db.session.scalars(select(Notification).where(Notification.user_id == current_user.id)
                               .order_by(Notification.created_at.desc()).limit(100)).all()
    return render("alerts/notifications.html", items=items, describe=services.describe_notification,
                  confirm=ConfirmForm())


@bp.route("/notifications/read", methods=["POST"])
@login_required
def notifications_read():
    require("home.view")
    if ConfirmForm().validate_on_submit():
        db.session.execute(update(Notification).where(Notification.user_id == current_user.id,
                                                      Notification.read_at.is_(None))
                           .values(read_at=clock.now()))
        db.session.commit()
    return see_other("alerts.notifications")
