from flask import abort, current_app, flash, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError

from .. import audit
from ..extensions import db
from ..formkit import choices
from ..i18n import label
from ..models import Case, CaseMember, Guardian, Student, User
from ..models.cases import CASE_STATUSES, RISK_LEVELS
from ..permissions import can, require, visible_cases_clause
from ..web import is_htmx, render, see_other, toast
from . import bp, sections, services, timeline
from .forms import AssignForm, CaseFilterForm, MemberForm, OpenCaseForm, RemoveMemberForm, RiskForm, StatusForm


def _messages():
    return {
        "stale": _("Someone else changed this case while you were looking at it. "
                   "The page now shows the latest version; check it and try again."),
        "already_open": _("This student already has an open case."),
        "worker_not_eligible": _("Choose an active social worker or supervisor of the student's school."),
        "illegal_transition": _("That status change is not allowed from the current status."),
        "invalid": _("Choose one of the listed values."),
        "unchanged": _("That is the current value already."),
        "required": _("This field is required."),
        "already_member": _("That person is already on the case team."),
        "not_member": _("That person is not on the case team."),
    }


def load_case(case_id) -> Case:
    case = db.session.scalar(
        select(Case).where(Case.id == case_id)
        .options(joinedload(Case.student).options(joinedload(Student.school),
                                                  selectinload(Student.guardians).selectinload(
                                                      Guardian.restrictions)),
                 joinedload(Case.worker),
                 selectinload(Case.members).joinedload(CaseMember.user)))
    if case is None:
        abort(404)
    return case


# -- list ------------------------------------------------------------------------------------

@bp.route("/")
@login_required
def index():
    require("case.list")
    form = CaseFilterForm(request.args)
    form.status.choices = choices([("", _("Open cases (any status)"))] + [(s, label("case_status", s)) for s in CASE_STATUSES]
                                  + [("all", _("Any, including closed"))])
    form.risk.choices = choices([("", _("Any risk"))] + [(r, label("risk", r)) for r in RISK_LEVELS])
    stmt = (select(Case).where(visible_cases_clause(current_user))
            .options(joinedload(Case.student).joinedload(Student.school), joinedload(Case.worker)))
    if form.status.data in CASE_STATUSES:
        stmt = stmt.where(Case.status == form.status.data)
    elif form.status.data != "all":
        stmt = stmt.where(Case.status != "closed")
    if form.risk.data in RISK_LEVELS:
        stmt = stmt.where(Case.risk_level == form.risk.data)
    stmt = stmt.order_by(Case.opened_at.desc(), Case.id.desc())
    page = db.paginate(stmt, page=request.args.get("page", 1, type=int),
                       per_page=current_app.config["PAGE_SIZE"], error_out=False)
    return render("cases/index.html", "cases/_list.html", form=form, page=page)


# -- open ------------------------------------------------------------------------------------

@bp.route("/open/<int:student_id>", methods=["GET", "POST"])
@login_required
def open_case(student_id):
    student = db.get_or_404(Student, student_id)
    require("case.open", student)
    form = OpenCaseForm()
    workers = services.eligible_workers(student.school_id)
    form.worker.choices = choices((w.id, f"{w.display_name} ({label('role', w.role)})") for w in workers)
    if request.method == "GET" and current_user.id in {w.id for w in workers}:
        form.worker.data = current_user.id
    error = None
    if form.validate_on_submit():
        try:
            case = services.open_case(current_user, student, worker=db.session.get(User, form.worker.data),
                                      risk_level=form.risk_level.data)
        except services.CaseError as exc:
            db.session.rollback()
            if exc.field and hasattr(form, exc.field):
                getattr(form, exc.field).errors.append(_messages()[exc.code])
            else:
                error = _messages()[exc.code]
        else:
            db.session.commit()
            flash(_("Case %(ref)s opened.", ref=case.reference), "success")
            return see_other("cases.show", case_id=case.id)
    status = 422 if (form.errors or error) else 200
    return render("cases/open.html", status=status, form=form, student=student, error=error)


# -- the case page -----------------------------------------------------------------------------

def _forms(case):
    version = case.version_id
    # formdata=None: these show the case as it is now, never a posted (possibly stale) version.
    status = StatusForm(formdata=None, prefix="st", version=version)
    # No status is preselected: an unconsidered click must not close a case.
    status.status.choices = choices([("", _("Choose…"))] + [
        (s, label("case_status", s)) for s in services.TRANSITIONS[case.status]])
    risk = RiskForm(formdata=None, prefix="rk", version=version, risk_level=case.risk_level)
    assign = AssignForm(formdata=None, prefix="as", version=version)
    member = MemberForm(formdata=None, prefix="mb", version=version)
    team_ids = {case.worker_id} | {m.user_id for m in case.members}
    if can(current_user, "case.assign", case) or can(current_user, "case.edit", case):
        workers = services.eligible_workers(case.school_id)
        # Nobody is preselected: one unconsidered click must not hand a case to the first name.
        pick = [("", _("Choose…"))]
        others = [(w.id, w.display_name) for w in workers if w.id != case.worker_id]
        joinable = [(w.id, w.display_name) for w in workers if w.id not in team_ids]
        assign.worker.choices = choices(pick + others) if others else []
        member.member.choices = choices(pick + joinable) if joinable else []
    return {"status_form": status, "risk_form": risk, "assign_form": assign, "member_form": member,
            "remove_form": RemoveMemberForm(formdata=None, prefix="rm", version=version)}


def case_page(case, status=200, forms=None, error=None, section_overrides=None):
    """The whole case page (or its #case fragment): header, actions, feature sections, timeline."""
    page = timeline.page_of(case, request.args.get("page", 1, type=int),
                            current_app.config["PAGE_SIZE"])
    ctx = _forms(case)
    ctx.update(forms or {})
    case_sections = sections.build(case, current_user, section_overrides)
    # A form far down the long case page was refused: say so at the top, with a link to it.
    attention = [key.replace("_", "-") for key in (section_overrides or {})] if status >= 400 else []
    resp = render("cases/show.html", "cases/_case.html", status=status, case=case, timeline=page,
                  describe=timeline.describe, error=error, sections=case_sections, attention=attention,
                  can_edit=can(current_user, "case.edit", case),
                  can_assign=can(current_user, "case.assign", case), **ctx)
    # Sections audit what they showed (reads of confidential content); committing after rendering
    # keeps the loaded rows from being expired and fetched again one by one.
    db.session.commit()
    if error:
        toast(resp, error, "error")
    return resp


@bp.route("/<int:case_id>")
@login_required
def show(case_id):
    case = load_case(case_id)
    if not can(current_user, "case.view", case) and can(current_user, "case.break_glass", case):
        # A supervisor outside the line: refused (and audited), with the emergency route offered.
        audit.record("access.denied", case, details={"action": "case.view", "path": request.path,
                                                     "method": "GET", "offered": "break_glass"})
        db.session.commit()
        return render("notes/break_glass_offer.html", status=403, case=case)
    require("case.view", case)
    _audit_read(case)
    return case_page(case)


def _audit_read(case):
    """The case page shows confidential content (reasons, notes): every read is recorded.
    The page's own commit makes it permanent."""
    audit.record("case.viewed", case)


@bp.route("/<int:case_id>/timeline")
@login_required
def timeline_page(case_id):
    """A page of the timeline: the fragment for htmx paging, the whole case page otherwise."""
    case = load_case(case_id)
    require("case.view", case)
    _audit_read(case)
    if not is_htmx():
        return case_page(case)
    page = timeline.page_of(case, request.args.get("page", 1, type=int),
                            current_app.config["PAGE_SIZE"])
    resp = render("cases/show.html", "cases/_timeline.html", case=case, timeline=page,
                  describe=timeline.describe)
    db.session.commit()
    return resp


def _act(case_id, action, form_cls, prefix, apply, done_message):
    """Shared shape of every case action: load, authorize, validate, apply, commit once."""
    case = load_case(case_id)
    require(action, case)
    form = form_cls(prefix=prefix)
    forms = _forms(case)
    key = {"st": "status_form", "rk": "risk_form", "as": "assign_form", "mb": "member_form",
           "rm": "remove_form"}[prefix]
    # keep the user's input and choices on a re-render
    if hasattr(form, "status"):
        form.status.choices = forms[key].status.choices
    for name in ("worker", "member"):
        if hasattr(form, name):
            getattr(form, name).choices = getattr(forms[key], name).choices
    forms[key] = form
    if not form.validate_on_submit():
        return case_page(case, status=422, forms=forms)
    try:
        apply(case, form)
        db.session.commit()
    except services.CaseError as exc:
        db.session.rollback()
        message = _messages()[exc.code]
        if exc.code == "stale":
            case = load_case(case_id)
            return case_page(case, status=409, error=message)
        field = getattr(form, exc.field, None) if exc.field else None
        if field is not None:
            field.errors.append(message)
            return case_page(case, status=422, forms=forms)
        return case_page(case, status=422, forms=forms, error=message)
    except StaleDataError:
        db.session.rollback()
        return case_page(load_case(case_id), status=409, error=_messages()["stale"])
    if request.headers.get("HX-Request") == "true":
        case = load_case(case_id)
        return toast(case_page(case), done_message)
    flash(done_message, "success")
    return see_other("cases.show", case_id=case_id)


@bp.route("/<int:case_id>/status", methods=["POST"])
@login_required
def change_status(case_id):
    return _act(case_id, "case.edit", StatusForm, "st",
                lambda c, f: services.change_status(current_user, c, f.status.data, version=f.version.data),
                _("Status updated."))


@bp.route("/<int:case_id>/risk", methods=["POST"])
@login_required
def change_risk(case_id):
    return _act(case_id, "case.edit", RiskForm, "rk",
                lambda c, f: services.change_risk(current_user, c, f.risk_level.data, f.reason.data,
                                                  version=f.version.data),
                _("Risk level updated."))


@bp.route("/<int:case_id>/assign", methods=["POST"])
@login_required
def assign(case_id):
    return _act(case_id, "case.assign", AssignForm, "as",
                lambda c, f: services.assign_worker(current_user, c, db.session.get(User, f.worker.data),
                                                    version=f.version.data),
                _("Case reassigned."))


@bp.route("/<int:case_id>/members", methods=["POST"])
@login_required
def add_member(case_id):
    return _act(case_id, "case.edit", MemberForm, "mb",
                lambda c, f: services.add_member(current_user, c, db.session.get(User, f.member.data),
                                                 version=f.version.data),
                _("Team member added."))


@bp.route("/<int:case_id>/members/remove", methods=["POST"])
@login_required
def remove_member(case_id):
    def apply(c, f):
        try:
            uid = int(f.user_id.data)
        except (TypeError, ValueError):
            raise services.CaseError("user_id", "not_member") from None
        services.remove_member(current_user, c, uid, version=f.version.data)
    return _act(case_id, "case.edit", RemoveMemberForm, "rm", apply, _("Team member removed."))


def open_case_counts(user):
    """Open cases visible to `user`, by status (one query)."""
    rows = db.session.execute(
        select(Case.status, func.count()).where(visible_cases_clause(user), Case.status != "closed")
        .group_by(Case.status)).all()
    return dict(rows)
