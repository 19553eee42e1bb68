"""The one alert mechanism (urgent concerns, crises, emergency access; home visits later).

raise_alert() picks nobody by itself: callers pass recipients, usually school_responders(), the
school's on-duty workers and everyone above them on the supervision line.
"""
from datetime import timedelta

from flask_babel import force_locale, gettext as _, ngettext
from sqlalchemy import func, select, update
from sqlalchemy.orm import selectinload

from .. import audit, clock, mail
from ..extensions import db
from ..models import Alert, AlertRecipient, Notification, User
from ..web import public_url
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


def line_chain(user) -> list:
    """The active people above `user`, nearest first (a loop in a corrupted line ends it)."""
    chain, seen, person = [], {user.id}, user.supervisor
    while person is not None and person.id not in seen:
        seen.add(person.id)
        if person.active:
            chain.append(person)
        person = person.supervisor
    return chain


def raise_alert(kind, *, school_id, source, link, recipients, raised_by=None, params=None,
                line_of=None, escalate_minutes=None):
    """Alert `recipients` now. With line_of and escalate_minutes, the alert climbs line_of's
    supervision line one person every escalate_minutes until someone on that line acknowledges."""
    alert = Alert(kind=kind, school_id=school_id, source_type=source.__tablename__, source_id=source.id,
                  link=link, params=params or {}, raised_by=raised_by, created_at=clock.now())
    alert.recipients = [AlertRecipient(user_id=uid, notified_at=alert.created_at) for uid in sorted(recipients)]
    if line_of is not None and escalate_minutes:
        alert.line_of_id, alert.escalate_minutes = line_of.id, escalate_minutes
        chain = line_chain(line_of)
        if raised_by is not None and raised_by.id in {p.id for p in chain}:
            alert.settled_at, alert.settled_by = alert.created_at, raised_by  # raised by the line itself
        elif any(p.id not in recipients for p in chain):
            alert.next_escalation_at = alert.created_at + timedelta(minutes=escalate_minutes)
    db.session.add(alert)
    db.session.flush()
    audit.record("alert.raised", alert, actor=raised_by,
                 details={"kind": kind, "recipients": sorted(recipients), "source": [alert.source_type, source.id]})
    _mail(alert, recipients)
    return alert


def resolve(alert, by, event="alert.resolved"):
    """The event behind an alert is over (a crisis signed off, a visitor back): it stops climbing
    and leaves every banner, for those who never acknowledged it too."""
    now = clock.now()
    if alert.settled_at is None:
        alert.settled_at, alert.settled_by = now, by
    alert.next_escalation_at = None
    open_ = [r for r in alert.recipients if r.acknowledged_at is None]
    for r in open_:
        r.acknowledged_at = now
    if open_:
        audit.record(event, alert, actor=by, details={"users": [r.user_id for r in open_]})


def supersede(source, by):
    """An urgent report that became a crisis: its alert is answered by the crisis's own alert
    (which escalates), so nobody keeps two banners for one incident."""
    for alert in db.session.scalars(select(Alert).where(Alert.source_type == source.__tablename__,
                                                        Alert.source_id == source.id)):
        open_ = [r for r in alert.recipients if r.acknowledged_at is None]
        now = clock.now()
        for r in open_:
            r.acknowledged_at = now
        if open_:
            audit.record("alert.superseded", alert, actor=by, details={"users": [r.user_id for r in open_]})


def _mail(alert, user_ids):
    for user in db.session.scalars(select(User).where(User.id.in_(user_ids))):
        with force_locale(user.locale or "en"):
            mail.queue(user.email, _("Portal alert: %(what)s", what=describe(alert)),
                      _("%(what)s. Open the portal to see it: %(link)s",
                        what=describe(alert), link=public_url("alerts.open_alert", alert_id=alert.id)))


def escalate_due_alerts() -> int:
    """Add the next person up the line to every alert whose acknowledgement is overdue.

    Safe to run from several processes at once: each alert is claimed by a conditional UPDATE
    before it is escalated, so a tier is never skipped or alerted twice."""
    now = clock.now()
    done = 0
    for alert_id, due in db.session.execute(select(Alert.id, Alert.next_escalation_at).where(
            Alert.next_escalation_at <= now, Alert.settled_at.is_(None))).all():
        claimed = db.session.execute(update(Alert).where(Alert.id == alert_id, Alert.next_escalation_at == due)
                                     .values(next_escalation_at=None)).rowcount
        if not claimed:
            continue
        alert = db.session.get(Alert, alert_id)
        db.session.refresh(alert)
        alerted = {r.user_id for r in alert.recipients}
        waiting = [p for p in line_chain(db.session.get(User, alert.line_of_id)) if p.id not in alerted]
        if not waiting:
            continue
        person = waiting[0]
        alert.recipients.append(AlertRecipient(user_id=person.id, notified_at=now))
        alert.tier = (alert.tier or 0) + 1
        if len(waiting) > 1:
            alert.next_escalation_at = now + timedelta(minutes=alert.escalate_minutes)
        db.session.flush()
        audit.record("alert.escalated", alert, actor=audit.SYSTEM, details={"to": person.id, "tier": alert.tier})
        _mail(alert, {person.id})
        done += 1
    return done


# Periodic work (escalations, missed follow-ups): run by `flask sweep` from cron and, at most every
# SWEEP_SECONDS per process, by the live poll every open page makes, so nothing waits for cron.
_SWEEPS = [escalate_due_alerts]


def sweep_task(fn):
    _SWEEPS.append(fn)
    return fn


def sweep() -> int:
    return sum(fn() or 0 for fn in _SWEEPS)


def describe(alert) -> str:
    """What an alert says: the kind of event and who raised it, never the student or content."""
    if alert.kind == "break_glass":
        return _("Emergency access to a case of your line by %(who)s", who=alert.params.get("by", ""))
    if alert.kind == "crisis":  # the reference tells two crises apart; it names no student
        ref = alert.params.get("ref", "")
        if alert.tier and alert.settled_at is None:
            return _("Crisis at %(school)s started by %(who)s (%(ref)s): nobody on the supervision line has "
                     "acknowledged it yet", school=alert.params.get("school", ""), who=alert.params.get("by", ""),
                     ref=ref)
        return _("Crisis at %(school)s started by %(who)s (%(ref)s)", school=alert.params.get("school", ""),
                 who=alert.params.get("by", ""), ref=ref)
    if alert.kind == "visit_overdue":
        return _("%(who)s has not checked in after a home visit", who=alert.params.get("by") or alert.params.get("visitor", ""))
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


def open_alert_count(user) -> int:
    return db.session.scalar(select(func.count()).select_from(AlertRecipient).where(
        AlertRecipient.user_id == user.id, AlertRecipient.acknowledged_at.is_(None)))


def acknowledge(user, alert):
    rec = db.session.get(AlertRecipient, (alert.id, user.id))
    if rec is None:
        return False
    if rec.acknowledged_at is None:
        rec.acknowledged_at = clock.now()
        audit.record("alert.acknowledged", alert, actor=user)
        if alert.line_of_id and alert.settled_at is None and \
                user.id in {p.id for p in line_chain(db.session.get(User, alert.line_of_id))}:
            # Someone on the line has it: stop climbing.
            alert.settled_at, alert.settled_by, alert.next_escalation_at = rec.acknowledged_at, user, None
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
    if n.kind == "group_session_reviewed":
        from ..i18n import label
        return _("Your record of session %(number)s of the group “%(group)s” was %(status)s by %(by)s",
                 number=n.params.get("number", ""), group=n.params.get("group", ""), by=n.params.get("by", ""),
                 status=str(label("review_action", n.params.get("status"))).lower())
    if n.kind == "group_observation":
        return _("%(by)s wrote an observation from the group “%(group)s” on case %(case)s",
                 by=n.params.get("by", ""), group=n.params.get("group", ""), case=n.params.get("case", ""))
    if n.kind == "case_escalated":
        return _("Case %(case)s was escalated to you by %(by)s", case=n.params.get("case", ""),
                 by=n.params.get("by", ""))
    if n.kind == "escalation_answered":
        return _("%(by)s answered your escalation of case %(case)s", case=n.params.get("case", ""),
                 by=n.params.get("by", ""))
    if n.kind == "restricted_contact":
        return _("A person under a contact restriction contacted the school (case %(case)s, logged by %(by)s)",
                 case=n.params.get("case", ""), by=n.params.get("by", ""))
    if n.kind == "restriction_lifted":
        return _("%(by)s lifted a contact restriction on the family of case %(case)s", case=n.params.get("case", ""),
                 by=n.params.get("by", ""))
    if n.kind == "visit_checkin_contact":
        return _("You are the check-in colleague for a home visit by %(who)s", who=n.params.get("visitor", ""))
    if n.kind == "crisis_high":
        return _("High suicide risk found by %(by)s's screen in crisis %(ref)s", by=n.params.get("by", ""),
                 ref=n.params.get("ref", ""))
    if n.kind == "crisis_signoff":
        return _("%(by)s asks you to sign off crisis %(ref)s", by=n.params.get("by", ""), ref=n.params.get("ref", ""))
    if n.kind == "crisis_decided":
        if n.params.get("status") == "approved":
            return _("Crisis %(ref)s was signed off by %(by)s", ref=n.params.get("ref", ""), by=n.params.get("by", ""))
        return _("Crisis %(ref)s was returned for more work by %(by)s", ref=n.params.get("ref", ""),
                 by=n.params.get("by", ""))
    if n.kind == "follow_up_missed":
        return _("A follow-up of crisis %(ref)s (case %(case)s) was missed", ref=n.params.get("ref", ""),
                 case=n.params.get("case", ""))
    if n.kind == "referral_exemption":
        from ..i18n import label
        return _("%(by)s sent referral %(ref)s without consent (%(basis)s)", by=n.params.get("by", ""),
                 ref=n.params.get("ref", ""), basis=label("exemption", n.params.get("basis")))
    if n.kind == "session_recorded":
        from ..i18n import label
        return _("%(by)s recorded a supervision session with you (%(kind)s)", by=n.params.get("by", ""),
                 kind=str(label("session_kind", n.params.get("kind"))).lower())
    if n.kind == "action_assigned":
        return _("%(by)s gave you an action from supervision, due %(due)s", by=n.params.get("by", ""),
                 due=n.params.get("due", ""))
    if n.kind == "handover_received":
        return ngettext("%(num)d case of %(from)s was handed over to you by %(by)s",
                        "%(num)d cases of %(from)s were handed over to you by %(by)s", int(n.params.get("n") or 0),
                        **{"from": n.params.get("from", ""), "by": n.params.get("by", "")})
    if n.kind == "handover_line":
        return _("The work of %(from)s was handed over by %(by)s", by=n.params.get("by", ""),
                 **{"from": n.params.get("from", "")})
    if n.kind == "growth_plan_set":
        return _("%(by)s set a growth plan with you", by=n.params.get("by", ""))
    if n.kind == "growth_progress":
        return _("%(by)s recorded progress on a growth plan", by=n.params.get("by", ""))
    if n.kind == "growth_plan_reviewed":
        return _("%(by)s reviewed your growth plan", by=n.params.get("by", ""))
    if n.kind == "performance_shared":
        return _("%(by)s shared a performance review with you", by=n.params.get("by", ""))
    if n.kind == "performance_commented":
        return _("%(by)s added comments to their performance review", by=n.params.get("by", ""))
    if n.kind == "case_study_submitted":
        return _("%(by)s asks you to approve a de-identified case study", by=n.params.get("by", ""))
    if n.kind == "case_study_decided":
        if n.params.get("status") == "approved":
            return _("Your de-identified case study was approved by %(by)s", by=n.params.get("by", ""))
        return _("Your de-identified case study was returned with comments by %(by)s", by=n.params.get("by", ""))
    if n.kind == "line_changed":
        return _("The supervision line changed: %(name)s (changed by %(by)s)",
                 name=n.params.get("name", ""), by=n.params.get("by", ""))
    if n.kind == "mfa_reset":
        return _("Your two-factor sign-in was reset by %(by)s; set it up again", by=n.params.get("by", ""))
    if n.kind == "record_request":
        return _("%(by)s produced record request %(ref)s for a student of your line",
                 by=n.params.get("by", ""), ref=n.params.get("ref", ""))
    return n.kind


def unread_count(user) -> int:
    return db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None)))
