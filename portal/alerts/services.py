"""The one alert mechanism (urgent concerns now; crises and home visits later).

raise_alert() picks nobody by itself: callers pass recipients, usually school_responders(), the
school's on-duty workers and everyone above them on the supervision line.
"""
from ..web import public_url
from flask_babel import force_locale, gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from .. import audit, clock, mail
from ..extensions import db
from ..models import Alert, AlertRecipient, Notification, User
from ..models.people import CASEWORK_ROLES


def line_above(user_ids) -> set[int]:
    """Everyone above these people on the supervision line (one recursive query)."""
    ids = set(user_ids)
    if not ids:
        return set()
    up = select(User.supervisor_id.label("id")).where(User.id.in_(ids), User.supervisor_id.is_not(None)) \
        .cte("up", recursive=True)
    up = up.union(select(User.supervisor_id).where(User.id == up.c.id, User.supervisor_id.is_not(None)))
    return set(db.session.scalars(select(up.c.id)))


def on_duty_statement(school_id):
    """Active case workers of a school who are on duty for urgent concerns and crises."""
    return select(User).where(User.active.is_(True), User.role.in_(CASEWORK_ROLES), User.on_duty.is_(True),
                              User.schools.any(id=school_id))


def school_responders(school_id) -> set[int]:
    """On-duty case workers of the school and their supervision line. With nobody on duty, every
    active case worker of the school is alerted: an alert must never go nowhere."""
    on_duty = {u.id for u in db.session.scalars(on_duty_statement(school_id))}
    first = on_duty or set(db.session.scalars(select(User.id).where(
        User.active.is_(True), User.role.in_(CASEWORK_ROLES), User.schools.any(id=school_id))))
    active_above = line_above(first)
    if active_above:
        active_above = set(db.session.scalars(select(User.id).where(User.id.in_(active_above),
                                                                    User.active.is_(True))))
    return first | active_above


def raise_alert(kind, *, school_id, source, link, recipients, raised_by=None, params=None):
    alert = Alert(kind=kind, school_id=school_id, source_type=source.__tablename__, source_id=source.id,
                  link=link, params=params or {}, raised_by=raised_by, created_at=clock.now())
    alert.recipients = [AlertRecipient(user_id=uid, notified_at=alert.created_at) for uid in sorted(recipients)]
    db.session.add(alert)
    db.session.flush()
    audit.record("alert.raised", alert, actor=raised_by,
                 details={"kind": kind, "recipients": sorted(recipients), "source": [alert.source_type, source.id]})
    for user in db.session.scalars(select(User).where(User.id.in_(recipients))):
        with force_locale(user.locale or "en"):
            mail.queue(user.email, _("Portal alert: %(what)s", what=describe(alert)),
                      _("%(what)s. Open the portal to see it: %(link)s",
                        what=describe(alert), link=public_url("alerts.open_alert", alert_id=alert.id)))
    return alert


def describe(alert) -> str:
    """What an alert says: the kind of event and who raised it, never the student or content."""
    if alert.kind == "break_glass":
        return _("Emergency access to a case of your line by %(who)s", who=alert.params.get("by", ""))
    if alert.kind == "concern_urgent":
        from ..i18n import label
        return _("Urgent concern (%(urgency)s) reported by %(who)s",
                 urgency=label("urgency", alert.params.get("urgency")), who=alert.params.get("by", ""))
    return alert.kind


def open_alerts(user, limit=5):
    stmt = (select(Alert).join(AlertRecipient).where(AlertRecipient.user_id == user.id,
                                                     AlertRecipient.acknowledged_at.is_(None))
            .options(selectinload(Alert.recipients).joinedload(AlertRecipient.user))
            .order_by(Alert.created_at.desc()).limit(limit))
    return db.session.scalars(stmt).all()


def acknowledge(user, alert):
    rec = db.session.get(AlertRecipient, (alert.id, user.id))
    if rec is None:
        return False
    if rec.acknowledged_at is None:
        rec.acknowledged_at = clock.now()
        audit.record("alert.acknowledged", alert, actor=user)
    return True


def notify(user, kind, link, params=None):
    n = Notification(user_id=user.id, kind=kind, link=link, params=params or {}, created_at=clock.now())
    db.session.add(n)
    with force_locale(user.locale or "en"):
        mail.queue(user.email, _("Portal: %(what)s", what=describe_notification(n)),
                  _("%(what)s. Open the portal to see it: %(link)s", what=describe_notification(n),
                    link=public_url("alerts.notifications")))
    return n


def describe_notification(n) -> str:
    if n.kind == "concern_status":
        status = {"received": _("received"), "handling": _("being handled"), "closed": _("closed")}
        return _("Your concern report %(ref)s is now %(status)s",
                 ref=n.params.get("ref", ""), status=status.get(n.params.get("status"), ""))
    if n.kind in ("record_reviewed", "plan_decided", "closure_decided"):
        from ..i18n import label
        what = {"record_reviewed": _("Your service record on %(case)s was %(status)s by %(by)s"),
                "plan_decided": _("Your case plan for %(case)s was %(status)s by %(by)s"),
                "closure_decided": _("Your request to close %(case)s was %(status)s by %(by)s")}[n.kind]
        return what % {"case": n.params.get("case", ""), "by": n.params.get("by", ""),
                       "status": str(label("review_action", n.params.get("status"))).lower()}
    if n.kind == "case_escalated":
        return _("Case %(case)s was escalated to you by %(by)s", case=n.params.get("case", ""),
                 by=n.params.get("by", ""))
    if n.kind == "escalation_answered":
        return _("%(by)s answered your escalation of case %(case)s", case=n.params.get("case", ""),
                 by=n.params.get("by", ""))
    if n.kind == "line_changed":
        return _("The supervision line changed: %(name)s (changed by %(by)s)",
                 name=n.params.get("name", ""), by=n.params.get("by", ""))
    return n.kind


def unread_count(user) -> int:
    return db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None)))
