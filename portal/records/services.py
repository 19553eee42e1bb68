"""A student's record for a guardian's or the student's own request (right of access).

`produce()` gathers what the portal holds about one student that the requester may see, from the
cases the producing supervisor may read, into one JSON document. It is kept encrypted under the
student's key on the RecordRequest, so the readable document and the machine-readable file are
the same snapshot. What the law lets a school hold back is withheld and counted, never named:
restricted notes, family members under a contact restriction, other people's contact details,
what third parties said (a reporter's account of a concern, the summary of a talk with a parent),
and the protective steps of a crisis (a mandated report could put the child at risk). What may
hold third-party information is included but marked for review, so the supervisor reads it
before anything is handed over. Producing it is audited and written to the disclosure log.
"""
import json
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from .. import audit, clock
from ..crypto import new_uid, preload_data_keys
from ..extensions import db
from ..models import (Assessment, Case, CasePlan, Closure, Concern, Consent, Crisis, Disclosure, FamilyContact,
                      Note, RecordRequest, Referral, ServiceRecord, Student)
from ..models.privacy import REQUESTERS
from ..permissions import can
from ..rules import RuleError, clean_text

FORMAT = "portal-student-record/1"


class RecordError(RuleError):
    pass


def _iso(value):
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _json(text):
    """Structured encrypted fields (plans, narratives, safety plans) hold JSON."""
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


class _Withheld:
    def __init__(self):
        self.counts = {}

    def add(self, what, n=1):
        if n:
            self.counts[what] = self.counts.get(what, 0) + n

    def as_list(self):
        return [{"what": k, "count": v} for k, v in sorted(self.counts.items())]


def build(actor, student) -> dict:
    withheld = _Withheld()
    review = [0]

    def for_review(item):
        review[0] += 1
        return dict(item, review=True)

    all_cases = db.session.scalars(select(Case).where(Case.student_id == student.id)
                                   .options(joinedload(Case.worker), selectinload(Case.members))
                                   .order_by(Case.opened_at)).all()
    cases = [c for c in all_cases if can(actor, "case.view", c)]
    withheld.add("cases_outside_line", len(all_cases) - len(cases))
    preload_data_keys({student.data_key_id} | {c.data_key_id for c in cases})
    ids = [c.id for c in cases]

    def rows(model, *order, options=()):
        if not ids:
            return {}
        out = {}
        for r in db.session.scalars(select(model).where(model.case_id.in_(ids)).options(*options).order_by(*order)):
            out.setdefault(r.case_id, []).append(r)
        return out

    notes = {}
    if ids:
        # Restricted notes never go out, whoever produces the record (and can read them).
        for n in db.session.scalars(select(Note).where(Note.case_id.in_(ids), Note.restricted.is_(False))
                                    .options(selectinload(Note.versions), joinedload(Note.author))
                                    .order_by(Note.created_at)):
            notes.setdefault(n.case_id, []).append(n)
        withheld.add("restricted_notes", db.session.scalar(
            select(func.count()).select_from(Note).where(Note.case_id.in_(ids), Note.restricted.is_(True))))
    assessments = rows(Assessment, Assessment.assessed_on)
    plans = rows(CasePlan, CasePlan.number)
    records = rows(ServiceRecord, ServiceRecord.occurred_on)
    closures = rows(Closure, Closure.submitted_at)
    crises = rows(Crisis, Crisis.started_at, options=(selectinload(Crisis.steps),))
    contacts = rows(FamilyContact, FamilyContact.occurred_at)
    referrals = rows(Referral, Referral.created_at, options=(joinedload(Referral.agency),))
    consents = rows(Consent, Consent.given_on, options=(joinedload(Consent.agency), joinedload(Consent.guardian)))

    out_cases = []
    for c in cases:
        entry = {"reference": c.reference, "status": c.status, "opened_at": _iso(c.opened_at),
                 "closed_at": _iso(c.closed_at), "risk_level": c.risk_level, "worker": c.worker.display_name}
        entry["assessments"] = [for_review({"assessed_on": _iso(a.assessed_on), "overall_risk": a.overall_risk,
                                            "ratings": a.ratings, "narratives": _json(a.narratives) or {}})
                                for a in assessments.get(c.id, [])]
        entry["plans"] = [{"number": p.number, "status": p.status, "review_on": _iso(p.review_on),
                           "goals": _json(p.goals), "interventions": _json(p.interventions)}
                          for p in plans.get(c.id, []) if p.status in ("approved", "superseded")]
        entry["service_records"] = [for_review({"occurred_on": _iso(r.occurred_on), "kind": r.kind,
                                                "duration_minutes": r.duration_minutes, "summary": r.summary,
                                                "progress": r.progress})
                                    for r in records.get(c.id, []) if r.status == "accepted"]
        entry["notes"] = [for_review({"created_at": _iso(n.created_at), "author": n.author.display_name,
                                      "text": n.current.body, "amended": len(n.versions) > 1})
                          for n in notes.get(c.id, [])]
        entry["crises"] = []
        for k in crises.get(c.id, []):
            plan = _latest_safety_plan(k)
            entry["crises"].append({"reference": k.reference, "type": k.type, "status": k.status,
                                    "occurred_at": _iso(k.occurred_at), "closed_at": _iso(k.closed_at),
                                    "screen_level": k.level, "safety_plan": _json(plan.content) if plan else None})
            withheld.add("crisis_protective_steps", sum(1 for s in k.steps if s.settled))
        entry["family_contacts"] = [{"occurred_at": _iso(f.occurred_at), "method": f.method, "reached": f.reached,
                                     "purpose": f.purpose} for f in contacts.get(c.id, [])]
        withheld.add("family_contact_summaries", len(entry["family_contacts"]))
        entry["referrals"] = [for_review({"reference": r.reference, "agency": r.agency.name, "status": r.status,
                                          "sent_at": _iso(r.sent_at), "outcome": r.outcome, "reason": r.reason})
                              for r in referrals.get(c.id, []) if r.status != "draft"]
        entry["consents"] = [{"agency": k.agency.name, "given_on": _iso(k.given_on), "expires_on": _iso(k.expires_on),
                              "revoked_on": _iso(k.revoked_on), "scope": k.scope,
                              "given_by": k.guardian.relationship_to_student if k.guardian else "student"}
                             for k in consents.get(c.id, [])]
        approved = [x for x in closures.get(c.id, []) if x.status == "approved"]
        entry["closure"] = for_review({"reason": approved[-1].reason, "goals_met": approved[-1].goals_met,
                                       "summary": approved[-1].summary}) if approved else None
        out_cases.append(entry)

    family = []
    for g in student.guardians:
        if g.has_restriction:
            withheld.add("restricted_family_members")
            continue
        family.append({"name": g.name, "relationship": g.relationship_to_student, "language": g.language,
                       "lives_with_student": g.lives_with_student, "legal_responsibility": g.legal_responsibility})
    withheld.add("family_contact_details", sum(1 for g in student.guardians if not g.has_restriction
                                               and (g.phone_ct or g.email_ct or g.address_ct)))
    concerns = db.session.scalars(select(Concern).where(Concern.student_id == student.id)
                                  .order_by(Concern.created_at)).all()
    visible_concerns = [c for c in concerns if c.case_id is None or c.case_id in ids]
    withheld.add("concern_accounts", len(visible_concerns))
    # The disclosure log goes out for the cases that do, never a mandated report or an emergency
    # share: telling a family that the school reported them could put the child at risk.
    from ..models.referrals import EXEMPTIONS
    disclosures = []
    for d in db.session.scalars(select(Disclosure).where(Disclosure.student_id == student.id)
                                .order_by(Disclosure.at)):
        if d.basis in EXEMPTIONS or (d.case_id is not None and d.case_id not in ids):
            withheld.add("protective_disclosures", 1)
        else:
            disclosures.append(d)
    return {
        "format": FORMAT,
        "student": {"name": student.name, "family_name": student.family_name, "given_name": student.given_name,
                    "student_number": student.student_number, "school": student.school.name,
                    "grade": student.grade, "class": student.class_name,
                    "date_of_birth": _iso(student.date_of_birth), "left_on": _iso(student.left_on)},
        "family": family,
        "cases": out_cases,
        "concerns": [{"reference": c.reference, "reported_on": _iso(c.created_at.date()), "categories": c.categories,
                      "status": c.status} for c in visible_concerns],
        "disclosures": [{"at": _iso(d.at), "recipient": d.recipient, "items": d.items, "basis": d.basis}
                        for d in disclosures],
        "withheld": withheld.as_list(),
        "review_required": review[0],
    }


def _latest_safety_plan(crisis):
    from ..models import SafetyPlan
    return db.session.scalar(select(SafetyPlan).where(SafetyPlan.crisis_id == crisis.id)
                             .order_by(SafetyPlan.version.desc()).limit(1))


def produce(actor, student, *, requester_kind, requester, received_on, guardian=None):
    """A guardian asking is one of the student's family members, never one under a no-contact or
    no-information restriction (a court order may forbid telling them anything)."""
    if requester_kind not in REQUESTERS:
        raise RecordError("requester_kind", "required")
    if requester_kind == "guardian":
        if guardian is None or guardian.student_id != student.id:
            raise RecordError("guardian_id", "required")
        if guardian.no_contact:
            raise RecordError("guardian_id", "restricted")
        requester = guardian.name
    requester = clean_text(requester, "requester", limit=200, error=RecordError)
    if received_on is None:
        raise RecordError("received_on", "required")
    from ..i18n import local_today
    if received_on > local_today():
        raise RecordError("received_on", "future")
    content = build(actor, student)
    req = RecordRequest(uid=new_uid(), reference="pending", student=student, requester_kind=requester_kind,
                        received_on=received_on, produced_by=actor, produced_at=clock.now())
    content["request"] = {"requester_kind": requester_kind, "requester": requester,
                          "received_on": _iso(received_on), "produced_at": _iso(req.produced_at),
                          "produced_by": actor.display_name}
    req.counts = {"cases": len(content["cases"]), "review": content["review_required"],
                  "withheld": sum(w["count"] for w in content["withheld"])}
    req.requester = requester
    req.content = json.dumps(content, ensure_ascii=False)
    db.session.add(req)
    db.session.flush()
    req.reference = f"R{req.produced_at:%Y}-{req.id:05d}"
    content["reference"] = req.reference
    req.content = json.dumps(content, ensure_ascii=False)
    # Handing the record over is a disclosure: it goes on the student's log.
    # (The log names the kind of requester and the request's reference; the requester's name is
    # kept encrypted on the request itself.)
    db.session.add(Disclosure(student_id=student.id, recipient=requester_kind,
                              items=["student_record"], basis="record_request", by=actor, at=req.produced_at))
    audit.record("student.record_exported", student, actor=actor,
                 details={"request": req.id, "ref": req.reference, "requester_kind": requester_kind, **req.counts})
    _tell_workers(actor, student, req)
    return req


def _tell_workers(actor, student, req):
    """The workers of the student's open cases learn that the record went out (not its content)."""
    from ..alerts.services import notify
    from ..web import path_for
    workers = {c.worker for c in db.session.scalars(select(Case).where(Case.student_id == student.id,
                                                                      Case.status != "closed"))}
    for w in workers - {actor}:
        notify(w, "record_request", path_for("students.show", student_id=student.id),
               params={"by": actor.display_name, "ref": req.reference})


def content_of(req) -> dict:
    return json.loads(req.content)


def requests_for(student):
    return db.session.scalars(select(RecordRequest).where(RecordRequest.student_id == student.id)
                              .options(joinedload(RecordRequest.produced_by))
                              .order_by(RecordRequest.produced_at.desc()).limit(50)).all()


def load_student(student_id):
    return db.session.scalar(select(Student).where(Student.id == student_id)
                             .options(joinedload(Student.school), selectinload(Student.guardians)))
