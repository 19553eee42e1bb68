"""Retention: what is due for erasure under the local rules, legal holds, and the erasure itself.

Rules (configuration, RETENTION): a closed case N years after the student left (or after it
closed, if later); a child-protection case (an abuse or neglect crisis or concern) also not before
the student's birthday at the configured age; a concern closed without action N years after its
triage; the student's own record (family, restrictions, disclosure log, record requests) N years
after leaving, once nothing else of theirs is kept. A legal hold on a case keeps it, and keeps
its student. Nothing is due for a student still at school.

Erasing a case destroys its data key first (crypto-erasure: every encrypted value of the case, and
any copy of it left in the database's free pages or its logs, becomes unreadable), then removes its rows, its attachment
files (after commit) and the alerts and notifications that point at it. The audit trail is left
as it is (it holds no content), so `flask audit verify` stays intact; an `Erasure` row and a
`retention.erased` event record what went, by reference only. A backup made before the erasure
still holds the case (and its wrapped key) until the backup expires; the rules depend only on the
data, so running retention again after a restore erases it again.
"""
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import selectinload

from .. import audit, clock
from ..crypto import destroy_data_key
from ..extensions import db
from ..i18n import local_today
from ..models import (AccessGrant, Alert, Assessment, Attachment, Case, CaseMember, CasePlan, Closure, Concern,
                      Consent, ContactRestriction, Crisis, CrisisStep, Disclosure, Erasure, Escalation,
                      FamilyContact, FollowUp, Guardian, HomeVisit, LegalHold, Note, NoteVersion, Notification,
                      RecordRequest, Referral, ReferralEvent, ReviewEntry, RiskScreen, SafetyPlan, ServiceRecord,
                      Student, TimelineEntry)
from ..models.family import ContactPerson
from ..rules import RuleError, clean_text

KINDS = ("case", "child_protection", "concern", "student")


class RetentionError(RuleError):
    pass


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year + years, day=28)


@dataclass
class Due:
    kind: str
    reference: str
    due_on: date
    held: bool
    case: Case | None = None
    concern: Concern | None = None
    student: Student | None = None

    @property
    def object_type(self):
        return "cases" if self.case else "concerns" if self.concern else "students"

    @property
    def object_id(self):
        return (self.case or self.concern or self.student).id


# -- legal holds -------------------------------------------------------------------------------------------

def active_hold(case):
    return db.session.scalar(select(LegalHold).where(LegalHold.case_id == case.id, LegalHold.lifted_at.is_(None)))


def place_hold(actor, case, reason):
    if active_hold(case) is not None:
        raise RetentionError(None, "already_held")
    from ..cases import timeline
    from ..crypto import new_uid
    hold = LegalHold(uid=new_uid(), case=case, placed_by=actor, placed_at=clock.now())
    hold.reason = clean_text(reason, "reason", limit=2000, error=RetentionError)
    db.session.add(hold)
    db.session.flush()
    timeline.add(case, "legal_hold_placed", actor=actor, ref=hold)
    audit.record("case.legal_hold_placed", case, actor=actor, details={"hold": hold.id})
    return hold


def lift_hold(actor, case, reason):
    hold = active_hold(case)
    if hold is None:
        raise RetentionError(None, "not_held")
    from ..cases import timeline
    clean_text(reason, "reason", limit=2000, error=RetentionError)  # said, audited by id; the hold keeps its own
    hold.lifted_at, hold.lifted_by = clock.now(), actor
    timeline.add(case, "legal_hold_lifted", actor=actor, ref=hold, detail=reason.strip())
    audit.record("case.legal_hold_lifted", case, actor=actor, details={"hold": hold.id})
    return hold


# -- what is due ---------------------------------------------------------------------------------------------

def _child_protection_case_ids():
    crises = select(Crisis.case_id).where(Crisis.type == "abuse_neglect")
    concerns = select(Concern.case_id, Concern.categories).where(Concern.case_id.is_not(None))
    ids = set(db.session.scalars(crises))
    ids |= {cid for cid, cats in db.session.execute(concerns) if "abuse" in (cats or ())}
    return ids


def due_items(config, today=None) -> list[Due]:
    """Everything the rules make due on `today` (held items included, marked held), oldest first.
    A few queries for the whole district: students who left, their closed cases, the holds."""
    today = today or local_today()
    years = config["RETENTION"]
    out = []
    left = {s.id: s for s in db.session.scalars(select(Student).where(Student.left_on.is_not(None),
                                                                       Student.left_on <= today))}
    held_ids = set(db.session.scalars(select(LegalHold.case_id).where(LegalHold.lifted_at.is_(None))))
    protection = _child_protection_case_ids()
    cases_by_student = {}
    for case in db.session.scalars(select(Case).where(Case.student_id.in_(left))) if left else ():
        cases_by_student.setdefault(case.student_id, []).append(case)
    due_case_ids = set()
    for student_id, cases in cases_by_student.items():
        student = left[student_id]
        for case in cases:
            if case.is_open:
                continue
            start = max(student.left_on, (case.closed_at or case.opened_at).date())
            due_on, kind = add_years(start, years["case"]), "case"
            if case.id in protection:
                kind = "child_protection"
                due_on = max(due_on, add_years(student.date_of_birth, years["child_protection"]))
            if due_on <= today:
                out.append(Due(kind, case.reference, due_on, case.id in held_ids, case=case))
                if case.id not in held_ids:
                    due_case_ids.add(case.id)
    # Triaged before this day N years ago (a day's margin for the zone; the exact date is checked below).
    cutoff = datetime.combine(add_years(today, -years["concern"]) + timedelta(days=1), datetime.min.time())
    closed_concerns = db.session.scalars(select(Concern).where(Concern.status == "no_action",
                                                               Concern.triaged_at < cutoff))
    due_concern_ids = set()
    for c in closed_concerns:
        due_on = add_years(c.triaged_at.date(), years["concern"])
        if due_on <= today:
            out.append(Due("concern", c.reference, due_on, False, concern=c))
            due_concern_ids.add(c.id)
    # The student's own record goes last, when none of their cases or concerns stays.
    if left:
        concerns_by_student = {}
        for cid, sid, case_id in db.session.execute(select(Concern.id, Concern.student_id, Concern.case_id)
                                                    .where(Concern.student_id.in_(left))):
            concerns_by_student.setdefault(sid, []).append((cid, case_id))
        for sid, student in left.items():
            due_on = add_years(student.left_on, years["student"])
            if due_on > today:
                continue
            cases = cases_by_student.get(sid, [])
            kept = [c for c in cases if c.id not in due_case_ids]
            kept_concerns = [cid for cid, case_id in concerns_by_student.get(sid, [])
                             if cid not in due_concern_ids and case_id not in due_case_ids]
            if not kept and not kept_concerns:
                out.append(Due("student", student.student_number, due_on, False, student=student))
            elif any(c.id in held_ids for c in kept):
                out.append(Due("student", student.student_number, due_on, True, student=student))
    return sorted(out, key=lambda d: (KINDS.index(d.kind) if d.kind != "child_protection" else 0, d.due_on))


# -- erasure ---------------------------------------------------------------------------------------------------

def _count(stmt):
    return db.session.execute(stmt).rowcount or 0


def _forget_links(prefixes):
    """Notifications and alerts that point at erased pages (they hold no content, but the link and
    the reference would outlive the record)."""
    n = 0
    for p in prefixes:
        for model in (Notification, Alert):
            n += _count(delete(model).where(or_(model.link == p, model.link.like(p + "/%"), model.link.like(p + "#%"),
                                                model.link.like(p + "?%"))))
    return n


def _delete_alerts(source_type, ids):
    if not ids:
        return 0
    return _count(delete(Alert).where(Alert.source_type == source_type, Alert.source_id.in_(ids)))


def erase_case(case, due: Due) -> tuple[int, list[str]]:
    """Crypto-erase the case, then remove its rows. Returns (rows removed, attachment uids whose
    files the caller removes once the transaction has committed)."""
    cid = case.id
    if active_hold(case) is not None:
        raise RetentionError(None, "held")
    if case.data_key is not None:
        destroy_data_key(case.data_key)
    db.session.flush()
    rows = 0
    crisis_ids = list(db.session.scalars(select(Crisis.id).where(Crisis.case_id == cid)))
    visit_ids = list(db.session.scalars(select(HomeVisit.id).where(HomeVisit.case_id == cid)))
    concern_ids = list(db.session.scalars(select(Concern.id).where(Concern.case_id == cid)))
    referral_ids = list(db.session.scalars(select(Referral.id).where(Referral.case_id == cid)))
    consent_ids = list(db.session.scalars(select(Consent.id).where(Consent.case_id == cid)))
    attachment_uids = list(db.session.scalars(select(Attachment.uid).where(Attachment.case_id == cid)))
    attachment_ids = list(db.session.scalars(select(Attachment.id).where(Attachment.case_id == cid)))
    if crisis_ids:
        for model in (RiskScreen, SafetyPlan, FollowUp, CrisisStep):
            rows += _count(delete(model).where(model.crisis_id.in_(crisis_ids)))
        rows += _count(delete(Crisis).where(Crisis.id.in_(crisis_ids)))
    contact_ids = list(db.session.scalars(select(FamilyContact.id).where(FamilyContact.case_id == cid)))
    if contact_ids:
        rows += _count(delete(ContactPerson).where(ContactPerson.contact_id.in_(contact_ids)))
        rows += _count(delete(FamilyContact).where(FamilyContact.id.in_(contact_ids)))
    rows += _count(delete(HomeVisit).where(HomeVisit.case_id == cid))
    rows += _delete_alerts("crises", crisis_ids) + _delete_alerts("home_visits", visit_ids)
    rows += _delete_alerts("concerns", concern_ids) + _delete_alerts("cases", [cid])
    for model in (ReviewEntry, ServiceRecord, CasePlan, Closure, Escalation, Assessment):
        rows += _count(delete(model).where(model.case_id == cid))
    # The disclosure log is the student's and stays with the student's record; it no longer
    # points at the erased referral or consent.
    db.session.execute(update(Disclosure).where(Disclosure.case_id == cid)
                       .values(case_id=None, referral_id=None, consent_id=None))
    if referral_ids:
        rows += _count(delete(ReferralEvent).where(ReferralEvent.referral_id.in_(referral_ids)))
        rows += _count(delete(Referral).where(Referral.id.in_(referral_ids)))
    rows += _count(delete(Consent).where(Consent.case_id == cid))
    if attachment_ids:  # a court order filed with a family restriction may be one of the case's files
        db.session.execute(update(ContactRestriction).where(ContactRestriction.attachment_id.in_(attachment_ids))
                           .values(attachment_id=None))
    rows += _count(delete(Attachment).where(Attachment.case_id == cid))
    note_ids = select(Note.id).where(Note.case_id == cid)
    rows += _count(delete(NoteVersion).where(NoteVersion.note_id.in_(note_ids)))
    rows += _count(delete(Note).where(Note.case_id == cid))
    for model in (AccessGrant, CaseMember, TimelineEntry, LegalHold):
        rows += _count(delete(model).where(model.case_id == cid))
    rows += _count(delete(Concern).where(Concern.case_id == cid))
    # A group keeps its attendance (the group's own record); the observation about this student,
    # written under the case's key, goes with the case. (Supervision discussions, actions and case
    # studies of the case go by the database's ON DELETE CASCADE.)
    from ..models import GroupAttendance
    db.session.execute(update(GroupAttendance).where(GroupAttendance.case_id == cid)
                       .values(case_id=None, observation_ct=None))
    rows += _forget_links([f"/cases/{cid}"] + [f"/crisis/{i}" for i in crisis_ids]
                          + [f"/referrals/{i}" for i in referral_ids] + [f"/visits/{i}" for i in visit_ids]
                          + [f"/concerns/{i}" for i in concern_ids] + [f"/consents/{i}" for i in consent_ids])
    db.session.expunge(case)
    rows += _count(delete(Case).where(Case.id == cid))
    _log(due, rows + 1)
    return rows + 1, attachment_uids


def erase_concern(concern, due: Due) -> int:
    cid = concern.id
    rows = _delete_alerts("concerns", [cid]) + _forget_links([f"/concerns/{cid}"])
    db.session.expunge(concern)
    rows += _count(delete(Concern).where(Concern.id == cid))
    _log(due, rows)
    return rows


def erase_student(student, due: Due) -> int:
    """The student's own record, once nothing else of theirs is kept (checked again here)."""
    sid = student.id
    if db.session.scalar(select(Case.id).where(Case.student_id == sid).limit(1)) or \
            db.session.scalar(select(Concern.id).where(Concern.student_id == sid).limit(1)):
        raise RetentionError(None, "still_has_records")
    if student.data_key is not None:
        destroy_data_key(student.data_key)
    db.session.flush()
    guardian_ids = select(Guardian.id).where(Guardian.student_id == sid)
    rows = _count(delete(ContactPerson).where(ContactPerson.guardian_id.in_(guardian_ids)))
    rows += _count(delete(ContactRestriction).where(ContactRestriction.guardian_id.in_(guardian_ids)))
    rows += _count(delete(Guardian).where(Guardian.student_id == sid))
    rows += _count(delete(Disclosure).where(Disclosure.student_id == sid))
    rows += _count(delete(RecordRequest).where(RecordRequest.student_id == sid))
    rows += _count(delete(FamilyContact).where(FamilyContact.student_id == sid))
    from ..models import GroupAttendance, GroupMember  # the student's place in groups, observations too
    rows += _count(delete(GroupAttendance).where(GroupAttendance.student_id == sid))
    rows += _count(delete(GroupMember).where(GroupMember.student_id == sid))
    rows += _forget_links([f"/students/{sid}"])
    db.session.expunge(student)
    rows += _count(delete(Student).where(Student.id == sid))
    _log(due, rows)
    return rows


def _log(due, rows):
    # A student is logged by the internal id only: the student number would still identify them.
    reference = f"student:{due.object_id}" if due.kind == "student" else due.reference
    db.session.add(Erasure(kind=due.kind, reference=reference, due_on=due.due_on, erased_at=clock.now(),
                           rows=rows))
    audit.record("retention.erased", object_type=due.object_type, object_id=due.object_id, actor=audit.SYSTEM,
                 details={"kind": due.kind, "reference": reference, "due_on": due.due_on.isoformat(),
                          "rows": rows})


def apply(items) -> tuple[int, list[str]]:
    """Erase every item not held, cases and concerns before students. Flushes; the caller commits
    and then removes the returned attachment files."""
    if db.engine.dialect.name == "sqlite":
        # Deleted pages are overwritten with zeros, so names do not linger in the file's free pages.
        db.session.execute(select(1))
        db.session.connection().exec_driver_sql("PRAGMA secure_delete = ON")
    erased, files = 0, []
    for item in items:
        if item.held:
            continue
        if item.case is not None:
            case = db.session.scalar(select(Case).where(Case.id == item.case.id)
                                     .options(selectinload(Case.members)))
            _, uids = erase_case(case, item)
            files += uids
        elif item.concern is not None:
            erase_concern(item.concern, item)
        else:
            erase_student(item.student, item)
        erased += 1
    return erased, files


def remove_files(uids):
    """After commit: the attachment files of erased cases (already unreadable without their key)."""
    from ..notes import store
    for uid in uids:
        store.remove(uid)


def after_commit():
    """SQLite: move the WAL's copies of deleted pages back into the (zeroed) file and empty it."""
    if db.engine.dialect.name == "sqlite":
        with db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

