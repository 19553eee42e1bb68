"""Referral rules: the agency directory, consent, sending (only with valid consent or a written
exemption), the status path to an outcome, follow-up of stale referrals, agency figures.
Flush, never commit; audit every change.
"""
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo
from statistics import median

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from .. import audit, clock
from ..alerts import services as alerts
from ..cases import timeline
from ..crypto import new_uid
from ..extensions import db
from ..i18n import label, local_date, local_today
from ..models import Case, Guardian, Student
from ..models.referrals import (AGENCY_TYPES, CONSENT_METHODS, ENDED, EXEMPTIONS, INFO_ITEMS, OUTCOMES, URGENCIES,
                                Agency, Consent, Disclosure, Referral, ReferralEvent)
from ..permissions import line_below, visible_cases_clause
from ..rules import RuleError, clean_text
from ..web import path_for

# Where a referral may go next. Closing needs an outcome; a draft is never "closed": it is sent,
# or withdrawn (so an abandoned draft does not wait in My day for ever).
NEXT = {
    "draft": ("sent", "withdrawn"),
    "sent": ("acknowledged", "accepted", "waitlisted", "declined", "closed"),
    "acknowledged": ("accepted", "waitlisted", "declined", "closed"),
    "waitlisted": ("accepted", "declined", "closed"),
    "accepted": ("first_appointment", "closed"),
    "declined": ("closed",),
    "first_appointment": ("in_service", "closed"),
    "in_service": ("closed",),
    "closed": (),
    "withdrawn": (),
}


class ReferralError(RuleError):
    pass


def _text(value, field, required=True, limit=4000):
    return clean_text(value, field, required=required, limit=limit, error=ReferralError)


def _check(obj, version):
    if version not in (None, "") and str(version) != str(obj.version_id):
        raise ReferralError(None, "stale")


# -- the directory ------------------------------------------------------------------------------------------

AGENCY_FIELDS = ("name", "type", "services", "ages", "languages", "area", "contact_person", "phone", "email",
                 "address", "referral_notes", "waiting_weeks")


def save_agency(actor, agency=None, *, version=None, **fields):
    if agency is not None:
        _check(agency, version)
    name = _text(fields.get("name"), "name", limit=200)
    if fields.get("type") not in AGENCY_TYPES:
        raise ReferralError("type", "invalid")
    email = _text(fields.get("email"), "email", required=False, limit=254)
    if email and "@" not in email:
        raise ReferralError("email", "email")
    weeks = fields.get("waiting_weeks")
    if weeks not in (None, "") and not 0 <= int(weeks) <= 104:
        raise ReferralError("waiting_weeks", "weeks")
    created = agency is None
    if created:
        agency = Agency(name=name, type=fields["type"], active=True)
        db.session.add(agency)
    for key in AGENCY_FIELDS:
        value = fields.get(key)
        if isinstance(value, str):
            value = value.strip() or None
        setattr(agency, key, value if key != "waiting_weeks" else (int(weeks) if weeks not in (None, "") else None))
    agency.name = name
    db.session.flush()
    audit.record("agency.created" if created else "agency.changed", agency, actor=actor)
    return agency


def set_agency_active(actor, agency, active, *, version=None):
    _check(agency, version)
    if agency.active == bool(active):
        return False  # already so: nothing to change or audit
    agency.active = bool(active)
    audit.record("agency.activated" if active else "agency.deactivated", agency, actor=actor)


def directory_statement(q=None, agency_type=None, language=None, area=None, include_inactive=False):
    stmt = select(Agency)
    if not include_inactive:
        stmt = stmt.where(Agency.active.is_(True))
    if q:
        like = f"%{q.strip()}%"
        stmt = stmt.where(or_(Agency.name.ilike(like), Agency.services.ilike(like)))
    if agency_type in AGENCY_TYPES:
        stmt = stmt.where(Agency.type == agency_type)
    if language:
        stmt = stmt.where(Agency.languages.ilike(f"%{language.strip()}%"))
    if area:
        stmt = stmt.where(Agency.area.ilike(f"%{area.strip()}%"))
    return stmt.order_by(Agency.active.desc(), Agency.name)


def agency_figures(agency_ids) -> dict:
    """Per agency: referrals sent, accepted, median days from sending to the first appointment,
    and the share of sent referrals closed with a known outcome. Two queries for any number."""
    if not agency_ids:
        return {}
    rows = db.session.execute(select(Referral.agency_id, Referral.status, Referral.sent_at,
                                     Referral.first_appointment_on, Referral.outcome, Referral.id)
                              .where(Referral.agency_id.in_(agency_ids), Referral.sent_at.is_not(None))).all()
    accepted = {rid for (rid,) in db.session.execute(
        select(ReferralEvent.referral_id).join(Referral).where(Referral.agency_id.in_(agency_ids),
                                                              ReferralEvent.status == "accepted")).all()}
    out = {}
    for agency_id, status, sent_at, first, outcome, rid in rows:
        f = out.setdefault(agency_id, {"sent": 0, "accepted": 0, "days": [], "known": 0})
        f["sent"] += 1
        f["accepted"] += rid in accepted or first is not None
        if first is not None:
            f["days"].append((first - local_date(sent_at)).days)
        f["known"] += status == "closed" and outcome not in (None, "other")
    for f in out.values():
        f["median_days"] = median(f["days"]) if f["days"] else None
        f["known_share"] = round(100 * f["known"] / f["sent"]) if f["sent"] else None
    return out


# -- consent -------------------------------------------------------------------------------------------------

def student_may_consent(student) -> bool:
    """Where the law allows a student to consent on their own (PIPL: from 14)."""
    today = local_today()
    dob = student.date_of_birth
    age = today.year - dob.year - ((today.month, today.day) < (dob.month, dob.day))
    return age >= current_app.config["STUDENT_CONSENT_MIN_AGE"]


def record_consent(actor, case, *, agency, given_by, method, given_on, expires_on, scope, purpose, witness=None,
                   document=None):
    """given_by: a guardian of the student, or None for the student (where the law allows)."""
    if agency is None or not agency.active:
        raise ReferralError("agency_id", "agency")
    if given_by is not None:
        if given_by.student_id != case.student_id:
            raise ReferralError("given_by", "invalid")
        if given_by.no_contact:
            raise ReferralError("given_by", "restricted")
        if not given_by.legal_responsibility:
            raise ReferralError("given_by", "no_authority")
    elif not student_may_consent(case.student):
        raise ReferralError("given_by", "too_young")
    if method not in CONSENT_METHODS:
        raise ReferralError("method", "invalid")
    today = local_today()
    if given_on is None or given_on > today:
        raise ReferralError("given_on", "future")
    if expires_on is None or expires_on < today or expires_on <= given_on:
        raise ReferralError("expires_on", "expiry")
    scope = [i for i in INFO_ITEMS if i in set(scope or ())]
    if not scope:
        raise ReferralError("scope", "scope")
    witness = _text(witness, "witness", required=method == "verbal_witnessed", limit=200)
    consent = Consent(uid=new_uid(), case=case, agency=agency, guardian=given_by, method=method, given_on=given_on,
                      expires_on=expires_on, scope=scope, recorded_by=actor, recorded_at=clock.now())
    db.session.add(consent)
    consent.purpose = _text(purpose, "purpose", limit=2000)
    consent.witness = witness or None
    if document is not None:
        from ..notes import services as notes
        try:
            consent.attachment_id = notes.add_attachment(actor, case, document[0], document[1]).id
        except notes.NoteError as exc:
            raise ReferralError("document", exc.code) from None
    db.session.flush()
    timeline.add(case, "consent_recorded", actor=actor, ref=consent,
                 params={"agency": agency.name, "by": given_by.name if given_by else "", "until": expires_on.isoformat()})
    audit.record("consent.recorded", consent, actor=actor, details={"case_id": case.id, "agency_id": agency.id})
    return consent


def revoke_consent(actor, consent, reason, *, revoked_on=None, version=None):
    """Revocation stops future sharing; it does not undo what was already shared. It is dated the
    day the family withdrew it, which may be before the day it is recorded."""
    _check(consent, version)
    if consent.revoked_on is not None:
        raise ReferralError(None, "already_handled")
    consent.revoke_reason = _text(reason, "reason", limit=2000)
    revoked_on = revoked_on or local_today()
    if revoked_on > local_today():
        raise ReferralError("revoked_on", "future")
    if revoked_on < consent.given_on:
        raise ReferralError("revoked_on", "before_given")
    consent.revoked_on, consent.revoked_by = revoked_on, actor
    timeline.add(consent.case, "consent_revoked", actor=actor, ref=consent, params={"agency": consent.agency.name})
    audit.record("consent.revoked", consent, actor=actor)


def covering_consent(case, agency, items):
    """A consent in force today for this agency whose scope covers every item, or None."""
    today = local_today()
    for c in db.session.scalars(select(Consent).where(Consent.case_id == case.id, Consent.agency_id == agency.id)
                                .options(joinedload(Consent.guardian).selectinload(Guardian.restrictions))
                                .order_by(Consent.expires_on.desc())):
        if c.valid_on(today) and set(items) <= set(c.scope) and not (c.guardian and c.guardian.no_contact):
            return c
    return None


def consents_for(case):
    return db.session.scalars(select(Consent).where(Consent.case_id == case.id)
                              .options(joinedload(Consent.agency), joinedload(Consent.guardian),
                                       joinedload(Consent.attachment))
                              .order_by(Consent.recorded_at.desc())).all()


# -- referrals --------------------------------------------------------------------------------------------------

def create_referral(actor, case, *, agency, urgency, items, reason):
    if agency is None or not agency.active:
        raise ReferralError("agency_id", "agency")
    if urgency not in URGENCIES:
        raise ReferralError("urgency", "invalid")
    items = [i for i in INFO_ITEMS if i in set(items or ())]
    if "identity" not in items:
        raise ReferralError("items", "identity")
    now = clock.now()
    ref = Referral(uid=new_uid(), reference="pending", case=case, agency=agency, author=actor, urgency=urgency,
                   info_items=items, status="draft", status_changed_at=now, created_at=now)
    db.session.add(ref)
    ref.reason = _text(reason, "reason", limit=4000)
    db.session.flush()
    ref.reference = f"F{now:%y%m}-{ref.id:05d}"
    ref.events.append(ReferralEvent(status="draft", on=local_today(), at=now, by=actor))
    timeline.add(case, "referral_drafted", actor=actor, ref=ref, params={"agency": agency.name, "ref": ref.reference})
    audit.record("referral.drafted", ref, actor=actor, details={"case_id": case.id, "agency_id": agency.id})
    return ref


def send(actor, ref, *, exemption=None, exemption_reason=None, version=None):
    """Only with a consent in force covering the agency and every item shared, or an exemption
    (mandated report, emergency) with a written reason, which the worker's supervisor is shown."""
    _check(ref, version)
    if ref.status != "draft":
        raise ReferralError(None, "already_handled")
    if not ref.case.is_open:  # nothing new leaves the school about a closed case
        raise ReferralError(None, "case_closed")
    if not ref.agency.active:
        raise ReferralError(None, "agency")
    consent = covering_consent(ref.case, ref.agency, ref.info_items)
    if consent is None:
        if not exemption:
            raise ReferralError("exemption", "no_consent")
        if exemption not in EXEMPTIONS:
            raise ReferralError("exemption", "invalid")
        ref.exemption_reason = _text(exemption_reason, "exemption_reason", limit=2000)
        ref.exemption = exemption
        for person in alerts.line_chain(ref.case.worker)[:1] or alerts.line_chain(actor)[:1]:
            alerts.notify(person, "referral_exemption", path_for("referrals.show", referral_id=ref.id),
                          params={"ref": ref.reference, "by": actor.display_name, "basis": exemption})
    ref.consent = consent
    _move(actor, ref, "sent", local_today())
    ref.sent_at = clock.now()
    db.session.add(Disclosure(student_id=ref.case.student_id, case_id=ref.case_id, recipient=ref.agency.name,
                              items=list(ref.info_items), basis="consent" if consent else ref.exemption,
                              consent_id=consent.id if consent else None, referral_id=ref.id, by=actor,
                              at=clock.now()))
    audit.record("referral.sent", ref, actor=actor,
                 details={"basis": "consent" if consent else ref.exemption, "consent_id": consent.id if consent else None,
                          "items": list(ref.info_items)})


def _moment(on):
    """When a change dated `on` happened, for the timeline: now if today, else that day's noon on
    the school's clock (the timeline sorts by when things happened, not when they were typed)."""
    if on >= local_today():
        return clock.now()
    zone = ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE", "UTC"))
    return datetime.combine(on, time(12), tzinfo=zone).astimezone(timezone.utc).replace(tzinfo=None)


def _move(actor, ref, status, on):
    ref.status, ref.status_changed_at, ref.stale_notified_at = status, clock.now(), None
    ref.events.append(ReferralEvent(status=status, on=on, at=clock.now(), by=actor))
    params = {"agency": ref.agency.name, "status": status, "ref": ref.reference}
    if status == "first_appointment" and ref.first_appointment_on:
        params["date"] = ref.first_appointment_on.isoformat()
    timeline.add(ref.case, "referral_status", actor=actor, ref=ref, occurred_at=_moment(on), params=params)


def change_status(actor, ref, status, *, on=None, first_appointment_on=None, outcome=None, note=None, version=None):
    _check(ref, version)
    if status == "sent":
        raise ReferralError("status", "use_send")
    if status not in NEXT.get(ref.status, ()):
        raise ReferralError("status", "transition")
    today = local_today()
    on = on or today
    if on > today:
        raise ReferralError("on", "future")
    if ref.sent_at is not None and on < local_date(ref.sent_at):
        raise ReferralError("on", "before_sent")
    if ref.events and on < max(e.on for e in ref.events):  # the path runs forward in time
        raise ReferralError("on", "before_previous")
    if status == "first_appointment":
        if first_appointment_on is None:
            raise ReferralError("first_appointment_on", "required")
        # Booked ahead is fine; before the referral was sent, or years away, is a typing error.
        if (ref.sent_at is not None and first_appointment_on < local_date(ref.sent_at)) \
                or first_appointment_on > today + timedelta(days=366):
            raise ReferralError("first_appointment_on", "appointment_date")
        ref.first_appointment_on = first_appointment_on
    if status == "withdrawn":
        note = _text(note, "note", required=False, limit=2000)
        ref.outcome_note = note or None
    if status == "closed":
        if outcome not in OUTCOMES:
            raise ReferralError("outcome", "outcome")
        note = _text(note, "note", required=outcome != "engaged_helped", limit=2000)
        ref.outcome, ref.closed_at = outcome, clock.now()
        ref.outcome_note = note or None
    _move(actor, ref, status, on)
    audit.record(f"referral.{status}", ref, actor=actor, details={"outcome": outcome} if outcome else None)


def load(referral_id):
    return db.session.scalar(select(Referral).where(Referral.id == referral_id).options(
        joinedload(Referral.case).joinedload(Case.student).selectinload(Student.guardians),
        joinedload(Referral.agency), joinedload(Referral.author), joinedload(Referral.consent).joinedload(Consent.guardian),
        selectinload(Referral.events).joinedload(ReferralEvent.by)))


def referrals_for(case):
    return db.session.scalars(select(Referral).where(Referral.case_id == case.id)
                              .options(joinedload(Referral.agency)).order_by(Referral.created_at.desc())).all()


def stale_days():
    return current_app.config["REFERRAL_STALE_DAYS"]


def my_stale(user):
    """Open referrals of the user's cases with no status change for REFERRAL_STALE_DAYS."""
    cutoff = clock.now() - timedelta(days=stale_days())
    return db.session.scalars(select(Referral).join(Case, Case.id == Referral.case_id).where(
        Referral.status.not_in(ENDED), Referral.status_changed_at < cutoff,
        or_(Case.worker_id == user.id, Referral.author_id == user.id), Case.status != "closed",
        visible_cases_clause(user))
        .options(joinedload(Referral.agency), joinedload(Referral.case).joinedload(Case.student))
        .order_by(Referral.status_changed_at)).all()


def _line_overdue(user):
    """Sent referrals of the line's open cases without news (a draft is the worker's own business:
    it shows in their My day, not in the supervisor's queue)."""
    cutoff = clock.now() - timedelta(days=2 * stale_days())
    return (Referral.status.not_in(ENDED + ("draft",)), Referral.status_changed_at < cutoff,
            Case.status != "closed", Case.worker_id.in_(line_below(user)))


def queue_statement(user, worker_id=None, school_id=None):
    """The line's referrals left without news for twice the follow-up time."""
    stmt = (select(Referral).join(Case, Case.id == Referral.case_id).where(*_line_overdue(user))
            .options(joinedload(Referral.agency), joinedload(Referral.author),
                     joinedload(Referral.case).joinedload(Case.student).joinedload(Student.school),
                     joinedload(Referral.case).joinedload(Case.worker)))
    if worker_id:
        stmt = stmt.where(Case.worker_id == worker_id)
    if school_id:
        stmt = stmt.where(Case.school_id == school_id)
    return stmt.order_by(Referral.status_changed_at, Referral.id)


def queue_count(user) -> int:
    if not line_below(user):
        return 0
    return db.session.scalar(select(func.count()).select_from(Referral).join(Case, Case.id == Referral.case_id)
                             .where(*_line_overdue(user)))


def disclosures_for(student):
    return db.session.scalars(select(Disclosure).where(Disclosure.student_id == student.id)
                              .options(joinedload(Disclosure.by)).order_by(Disclosure.at.desc()).limit(100)).all()


# -- timeline ----------------------------------------------------------------------------------------------------

@timeline.summary("consent_recorded")
def _consent(p):
    from datetime import date

    from flask_babel import format_date
    until = p.get("until", "")
    return _l("Consent to share with %(agency)s recorded, until %(until)s", agency=p.get("agency", ""),
              until=format_date(date.fromisoformat(until), "medium") if until else "")


@timeline.summary("consent_revoked")
def _revoked(p):
    return _l("Consent to share with %(agency)s revoked", agency=p.get("agency", ""))


@timeline.summary("referral_drafted")
def _drafted(p):
    return _l("Referral %(ref)s to %(agency)s drafted", ref=p.get("ref", ""), agency=p.get("agency", ""))


@timeline.summary("referral_status")
def _status(p):
    if p.get("status") == "first_appointment" and p.get("date"):
        from datetime import date

        from flask_babel import format_date
        return _l("Referral %(ref)s to %(agency)s: first appointment on %(date)s", ref=p.get("ref", ""),
                  agency=p.get("agency", ""), date=format_date(date.fromisoformat(p["date"]), "medium"))
    return _l("Referral %(ref)s to %(agency)s: %(status)s", ref=p.get("ref", ""), agency=p.get("agency", ""),
              status=label("referral_state", p.get("status")))
