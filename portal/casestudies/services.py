"""De-identified case studies: drafted from a case by its team, reviewed by the author, approved by
a supervisor above the author before anyone may download or read it in the shared library. The
case itself is only read, never changed. Flush, never commit; audit every change."""
import json
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from .. import audit, clock
from ..alerts import services as alerts
from ..casework.services import _entry as review_entry, thread  # noqa: F401  (one review thread)
from ..crypto import new_uid
from ..extensions import db
from ..i18n import label
from ..models import Assessment, Case, CasePlan, CaseStudy, Closure, Concern, Crisis, Referral, ServiceRecord, Student
from ..models.casework import ASSESSMENT_AREAS
from ..rules import RuleError, clean_text
from ..web import path_for
from .deidentify import Identifiers, age_at

SECTIONS = ("assessment", "plan", "records", "crises", "referrals", "closure")
MAX_BODY = 60000


class StudyError(RuleError):
    pass


def identifiers(case) -> Identifiers:
    return Identifiers(case)


# -- the draft ----------------------------------------------------------------------------------------

def build_draft(case, ids: Identifiers, sections, question=""):
    """The case told without who, where or when: every text from the case goes through scrub()."""
    s = ids.scrub
    student = case.student
    out = []

    def heading(text):
        out.extend(["", "## " + text, ""])

    heading(_("The student"))
    out.append(_("Aged %(age)d at the start, grade %(grade)s.", age=age_at(student.date_of_birth, ids.origin),
                 grade=s(student.grade)))
    relations = sorted({s(g.relationship_to_student) for g in student.guardians if g.relationship_to_student})
    if relations:
        out.append(_("Family members known to the school: %(who)s.", who=", ".join(relations)))
    categories = set()
    for cats in db.session.scalars(select(Concern.categories).where(Concern.case_id == case.id)):
        categories.update(cats or ())
    if categories:
        out.append(_("Concerns that led to the work: %(what)s.",
                     what=", ".join(sorted(label("concern_category", c) for c in categories))))
    out.append(_("Case opened on day 0; current status: %(status)s; risk level: %(risk)s.",
                 status=label("case_status", case.status), risk=label("risk", case.risk_level)))
    if case.closed_at:
        out.append(_("Closed on %(day)s.", day=ids.day(case.closed_at)))

    if "assessment" in sections:
        a = db.session.scalar(select(Assessment).where(Assessment.case_id == case.id)
                              .order_by(Assessment.assessed_on.desc(), Assessment.id.desc()).limit(1))
        if a is not None:
            heading(_("Assessment (%(day)s)", day=ids.day(a.assessed_on)))
            narratives = json.loads(a.narratives or "{}")
            for area in ASSESSMENT_AREAS:
                line = f"- {label('assessment_area', area)}: {label('rating', a.ratings.get(area))}"
                if narratives.get(area):
                    line += " — " + s(narratives[area])
                out.append(line)
            out.append(_("Overall risk: %(risk)s.", risk=label("risk", a.overall_risk)))
    if "plan" in sections:
        plan = db.session.scalar(select(CasePlan).where(CasePlan.case_id == case.id, CasePlan.status == "approved")
                                 .order_by(CasePlan.number.desc()).limit(1))
        if plan is not None:
            heading(_("Case plan (version %(n)d)", n=plan.number))
            out.append(_("Goals:"))
            for g in json.loads(plan.goals or "[]"):
                target = ""
                if g.get("target"):
                    try:
                        target = " (" + _("by %(day)s", day=ids.day(date.fromisoformat(str(g["target"])[:10]))) + ")"
                    except ValueError:
                        target = ""
                out.append(f"- {s(g.get('goal', ''))}{target}; {s(g.get('measure', ''))}")
            out.append(_("Interventions:"))
            for i in json.loads(plan.interventions or "[]"):
                out.append(f"- {s(i.get('what', ''))} · {s(i.get('who', ''))} · {s(i.get('how_often', ''))}")
            out.append(_("Review on %(day)s.", day=ids.day(plan.review_on)))
    if "records" in sections:
        records = db.session.scalars(select(ServiceRecord).where(ServiceRecord.case_id == case.id,
                                                                 ServiceRecord.status != "returned")
                                     .order_by(ServiceRecord.occurred_on, ServiceRecord.id).limit(40)).all()
        if records:
            heading(_("Work with the student"))
            for r in records:
                out.append(f"- {ids.day(r.occurred_on)} · {label('service_kind', r.kind)} · "
                           + _("%(n)d minutes", n=r.duration_minutes) + ": " + s(r.summary))
                if r.progress:
                    out.append("  " + _("Progress: %(text)s", text=s(r.progress)))
    if "crises" in sections:
        crises = db.session.scalars(select(Crisis).where(Crisis.case_id == case.id).order_by(Crisis.occurred_at)).all()
        if crises:
            heading(_("Crises"))
            for c in crises:
                level = f" · {label('screen_level', c.level)}" if c.level else ""
                out.append(f"- {ids.day(c.occurred_at)} · {label('crisis_type', c.type)}{level} · "
                           f"{label('crisis_state', c.status)}")
    if "referrals" in sections:
        referrals = db.session.scalars(select(Referral).where(Referral.case_id == case.id, Referral.status != "draft")
                                       .options(joinedload(Referral.agency)).order_by(Referral.created_at)).all()
        if referrals:
            heading(_("Referrals"))
            for r in referrals:  # the kind of service, not its name: the directory is local
                line = f"- {ids.day(r.sent_at or r.created_at)} · {label('agency_type', r.agency.type)} · " \
                       f"{label('referral_state', r.status)}"
                if r.first_appointment_on:
                    line += " · " + _("first appointment on %(day)s", day=ids.day(r.first_appointment_on))
                if r.outcome:
                    line += " · " + label("referral_outcome", r.outcome)
                out.append(line)
    if "closure" in sections:
        closure = db.session.scalar(select(Closure).where(Closure.case_id == case.id, Closure.status == "approved")
                                    .order_by(Closure.submitted_at.desc()).limit(1))
        if closure is not None:
            heading(_("Closing"))
            out.append(f"{label('closure_reason', closure.reason)} · {label('goals_met', closure.goals_met)}")
            out.append(s(closure.summary))
    heading(_("For discussion"))
    out.append(s(question) if (question or "").strip() else _("(What would you like your peers to think about?)"))
    return "\n".join(out).strip() + "\n"


def default_title(case):
    cats = set()
    for c in db.session.scalars(select(Concern.categories).where(Concern.case_id == case.id)):
        cats.update(c or ())
    what = ", ".join(sorted(label("concern_category", c) for c in cats)) or label("case_status", case.status)
    return _("Case study: %(what)s, grade %(grade)s", what=what, grade=case.student.grade)


# -- the life of a study -------------------------------------------------------------------------------

def _check(study, states, version):
    if study.status not in states or (version not in (None, "") and str(version) != str(study.version_id)):
        raise StudyError(None, "already_handled")


def _clean(ids, title, body):
    title = clean_text(title, "title", limit=200, error=StudyError)
    body = clean_text(body, "body", limit=MAX_BODY, error=StudyError)
    return title, body


def create(actor, case, *, title, sections, question=""):
    ids = identifiers(case)
    sections = [x for x in sections or () if x in SECTIONS]
    title = ids.scrub((title or "").strip()) or default_title(case)
    body = build_draft(case, ids, sections, question)  # before the study joins the session: it queries
    study = CaseStudy(uid=new_uid(), case=case, author=actor, status="draft", created_at=clock.now())
    db.session.add(study)
    study.title = clean_text(title, "title", limit=200, error=StudyError)
    study.body = body
    db.session.flush()
    audit.record("case_study.drafted", study, actor=actor, details={"case_id": case.id, "sections": sections})
    return study


def save(actor, study, *, title, body, version=None):
    """Keep the author's edits; the identifiers still found are returned (and shown)."""
    _check(study, ("draft", "returned"), version)
    ids = identifiers(study.case)
    study.title, study.body = _clean(ids, title, body)
    audit.record("case_study.edited", study, actor=actor)
    return ids.leaks(study.title + "\n" + study.body)


def leaks(study):
    return identifiers(study.case).leaks(study.title + "\n" + study.body)


def submit(actor, study, *, version=None):
    _check(study, ("draft", "returned"), version)
    found = leaks(study)
    if found:
        raise StudyError(None, "identifiers_left", leaks=found)
    study.status, study.submitted_at = "submitted", clock.now()
    db.session.flush()
    review_entry(actor, study.case, study, "submitted")
    audit.record("case_study.submitted", study, actor=actor)
    above = alerts.line_chain(actor)[:1]
    for person in above:
        alerts.notify(person, "case_study_submitted", path_for("casestudies.show", study_id=study.id),
                      params={"by": actor.display_name})


def decide(actor, study, decision, comment, *, version=None):
    """Approve (downloadable and shared from then on) or return with comments to the author."""
    _check(study, ("submitted",), version)
    if study.author_id == actor.id:
        raise StudyError(None, "own_record")
    if decision == "approve":
        comment = clean_text(comment, "comment", required=False, limit=4000, error=StudyError)
        found = leaks(study)  # the case may have learnt a new name since the draft was checked
        if found:
            raise StudyError(None, "identifiers_left", leaks=found)
        study.status, study.approved_at, study.approved_by = "approved", clock.now(), actor
    elif decision == "return":
        comment = clean_text(comment, "comment", limit=4000, error=StudyError)
        study.status = "returned"
    else:
        raise StudyError("decision", "invalid")
    review_entry(actor, study.case, study, "approved" if decision == "approve" else "returned",
                 comment=comment or None)
    audit.record(f"case_study.{study.status}", study, actor=actor)
    alerts.notify(study.author, "case_study_decided", path_for("casestudies.show", study_id=study.id),
                  params={"by": actor.display_name, "status": study.status})


def downloaded(actor, study):
    audit.record("case_study.downloaded", study, actor=actor)


# -- queries ---------------------------------------------------------------------------------------------

def load(study_id):
    return db.session.scalar(select(CaseStudy).where(CaseStudy.id == study_id).options(
        joinedload(CaseStudy.author), joinedload(CaseStudy.approved_by),
        joinedload(CaseStudy.case).joinedload(Case.student).selectinload(Student.guardians)))


def library_statement():
    return select(CaseStudy).where(CaseStudy.status == "approved").order_by(CaseStudy.approved_at.desc(),
                                                                            CaseStudy.id.desc())


def mine(user):
    return db.session.scalars(select(CaseStudy).where(CaseStudy.author_id == user.id, CaseStudy.status != "approved")
                              .options(joinedload(CaseStudy.case)).order_by(CaseStudy.created_at.desc())).all()


def for_case(case):
    return db.session.scalars(select(CaseStudy).where(CaseStudy.case_id == case.id)
                              .options(joinedload(CaseStudy.author)).order_by(CaseStudy.created_at.desc())).all()
