import secrets
from collections import OrderedDict

from flask import abort, current_app, flash, request, url_for
from flask_babel import gettext as _, to_user_timezone, to_utc
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from .. import audit, clock
from ..alerts import services as alerts
from ..cases import services as case_services
from ..crypto import preload_data_keys
from ..extensions import db
from ..formkit import choices
from ..models import Concern, School, Student, User
from ..permissions import can, require, school_ids
from ..students.services import search_statement
from ..web import is_htmx, render, see_other, toast
from . import bp, services
from .forms import ConcernForm, LinkForm, NoActionForm, OpenCaseFromConcernForm

STUDENT_OPTIONS = 8


def _messages():
    return {
        "unknown_student": _("Choose a student of your school from the list."),
        "category": _("Choose at least one."),
        "urgency": _("Choose one."),
        "future": _("This is in the future. Give the time you noticed it."),
        "too_old": _("That is more than a year ago; check the date."),
        "required": _("This field is required."),
        "too_long": _("This text is too long."),
        "already_triaged": _("Someone else has already triaged this concern."),
        "no_open_case": _("The student has no open case any more."),
    }


# -- reporting ---------------------------------------------------------------------------------------

def _student_options(q, selected_id=None):
    options = []
    if selected_id:
        s = db.session.get(Student, selected_id)
        if s is not None and s.school_id in school_ids(current_user):
            options.append(s)
    if (q or "").strip():
        stmt, _q = search_statement(current_user, q)
        options += [s for s in db.session.scalars(stmt.limit(STUDENT_OPTIONS)) if s.id != selected_id]
    return options


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    require("concern.create")
    form = ConcernForm()
    q = request.values.get("q", "")
    if request.method == "GET":
        form.token.data = secrets.token_urlsafe(24)
        form.observed_at.data = to_user_timezone(clock.now()).replace(tzinfo=None, second=0, microsecond=0)
        form.student_id.data = request.args.get("student", type=int)
        # No urgency is preselected: "routine" by default would let an emergency slip through.
    error = None
    if request.method == "POST" and form.validate_on_submit():
        try:
            concern, created = services.file_concern(
                current_user, student_id=form.student_id.data, categories=form.categories.data,
                urgency=form.urgency.data, observed_at=to_utc(form.observed_at.data).replace(tzinfo=None),
                description=form.description.data, action_taken=form.action_taken.data,
                token=form.token.data or secrets.token_urlsafe(24))
        except services.ConcernError as exc:
            db.session.rollback()
            getattr(form, exc.field).errors.append(_messages()[exc.code])
        else:
            db.session.commit()
            return see_other("concerns.receipt", concern_id=concern.id)
    status = 422 if (request.method == "POST" and (form.errors or error)) else 200
    return render("concerns/new.html", status=status, form=form, q=q,
                  options=_student_options(q, form.student_id.data),
                  emergency_numbers=current_app.config["EMERGENCY_NUMBERS"])


@bp.route("/student-options")
@login_required
def student_options():
    """Type-ahead: radio options for the students matching q (the teacher's schools only)."""
    require("concern.create")
    q = request.args.get("q", "")
    if not is_htmx():
        return see_other(url_for("concerns.new", q=q))
    return render("concerns/new.html", "concerns/_student_options.html", q=q,
                  options=_student_options(q), selected=None)


def _load(concern_id) -> Concern:
    concern = db.session.scalar(select(Concern).where(Concern.id == concern_id).options(
        joinedload(Concern.student).joinedload(Student.school), joinedload(Concern.reporter),
        joinedload(Concern.case)))
    if concern is None:
        abort(404)
    return concern


@bp.route("/<int:concern_id>/receipt")
@login_required
def receipt(concern_id):
    concern = _load(concern_id)
    require("concern.receipt", concern)
    on_duty = db.session.scalars(alerts.on_duty_statement(concern.school_id).order_by(User.display_name)).all()
    return render("concerns/receipt.html", concern=concern, on_duty=on_duty,
                  emergency_numbers=current_app.config["EMERGENCY_NUMBERS"])


@bp.route("/mine")
@login_required
def mine():
    require("concern.mine")
    page = db.paginate(services.mine_statement(current_user), page=request.args.get("page", 1, type=int),
                       per_page=current_app.config["PAGE_SIZE"], error_out=False)
    return render("concerns/mine.html", page=page, handler=services.handler_name)


# -- triage ---------------------------------------------------------------------------------------------

def _queue_context(user, page):
    items = page.items
    student_ids = {c.student_id for c in items}
    preload_data_keys({c.student.data_key_id for c in items})  # one query for every student's key
    recent = services.recent_counts(student_ids)
    open_cases = services.open_cases_by_student(student_ids)
    groups = OrderedDict()
    for c in items:  # several concerns about one student sit together, most urgent group first
        groups.setdefault(c.student_id, []).append(c)
    workers = {}
    for school_id in {c.school_id for c in items}:
        workers[school_id] = case_services.eligible_workers(school_id)
    if items:  # the queue shows what reporters wrote: a read of confidential content
        audit.record("concerns.read", actor=user, object_type="concerns",
                     details={"concerns": [c.id for c in items]})
    return {"groups": list(groups.values()), "recent": recent, "open_cases": open_cases,
            "workers": workers, "forms": _action_forms}


def _action_forms(concern, workers):
    open_form = OpenCaseFromConcernForm(formdata=None, prefix=f"oc{concern.id}", version=concern.version_id,
                                        worker=current_user.id, risk_level=services.initial_risk(concern))
    open_form.worker.choices = choices((w.id, w.display_name) for w in workers)
    return {"open": open_form,
            "link": LinkForm(formdata=None, prefix=f"lk{concern.id}", version=concern.version_id),
            "none": NoActionForm(formdata=None, prefix=f"na{concern.id}", version=concern.version_id)}


@bp.route("/triage")
@login_required
def triage():
    require("concern.queue")
    mine_schools = school_ids(current_user)
    school_id = request.args.get("school", type=int)
    category = request.args.get("category", "")
    stmt = services.queue_statement(current_user, school_id if school_id in mine_schools else None, category)
    page = db.paginate(stmt, page=request.args.get("page", 1, type=int),
                       per_page=current_app.config["PAGE_SIZE"], error_out=False)
    schools = db.session.scalars(select(School).where(School.id.in_(mine_schools)).order_by(School.name)).all()
    ctx = _queue_context(current_user, page)
    resp = render("concerns/triage.html", "concerns/_queue.html", page=page, schools=schools,
                  school_id=school_id, category=category, now=clock.now(), **ctx)
    db.session.commit()  # the audit of what was shown
    return resp


@bp.route("/<int:concern_id>")
@login_required
def show(concern_id):
    concern = _load(concern_id)
    require("concern.read", concern)
    audit.record("concerns.read", actor=current_user, object_type="concerns",
                 details={"concerns": [concern.id]})
    ctx = {}
    if can(current_user, "concern.triage", concern):
        ctx = {"forms": _action_forms(concern, case_services.eligible_workers(concern.school_id)),
               "open_case": services.open_case_for(concern.student_id)}
    resp = render("concerns/show.html", concern=concern, now=clock.now(), **ctx)
    db.session.commit()
    return resp


def _triage_action(concern_id, form_cls, prefix, apply, done):
    concern = _load(concern_id)
    require("concern.triage", concern) if concern.status == "new" else require("concern.read", concern)
    form = form_cls(prefix=f"{prefix}{concern.id}")
    if hasattr(form, "worker"):
        form.worker.choices = choices((w.id, w.display_name)
                                      for w in case_services.eligible_workers(concern.school_id))
    error = None
    if form.validate_on_submit():
        try:
            result = apply(concern, form)
            db.session.commit()
        except (services.ConcernError, case_services.CaseError) as exc:
            db.session.rollback()
            error = _messages().get(exc.code) or _("That could not be done. Reload the page and try again.")
        except StaleDataError:
            db.session.rollback()
            error = _messages()["already_triaged"]
        else:
            if is_htmx():
                concern = _load(concern_id)
                return toast(render("concerns/show.html", "concerns/_triaged.html", concern=concern,
                                    result=result), done)
            flash(done, "success")
            return see_other("concerns.triage")
    else:
        error = next(iter(form.errors.values()))[0]
    if is_htmx():
        resp = render("concerns/show.html", "concerns/_triaged.html", status=409 if concern.status != "new" else 422,
                      concern=_load(concern_id), result=None, error=error)
        return toast(resp, error, "error")
    flash(error, "error")
    return see_other("concerns.show", concern_id=concern_id)


@bp.route("/<int:concern_id>/open-case", methods=["POST"])
@login_required
def open_case(concern_id):
    def apply(concern, form):
        return services.open_case_from(current_user, concern, worker=db.session.get(User, form.worker.data),
                                       risk_level=form.risk_level.data, version=form.version.data)
    return _triage_action(concern_id, OpenCaseFromConcernForm, "oc", apply, _("Case opened from the concern."))


@bp.route("/<int:concern_id>/link", methods=["POST"])
@login_required
def link(concern_id):
    return _triage_action(concern_id, LinkForm, "lk",
                          lambda c, f: services.link_to_open_case(current_user, c, version=f.version.data),
                          _("Concern added to the student's open case."))


@bp.route("/<int:concern_id>/no-action", methods=["POST"])
@login_required
def no_action(concern_id):
    return _triage_action(concern_id, NoActionForm, "na",
                          lambda c, f: services.no_further_action(current_user, c, f.reason.data,
                                                                  version=f.version.data),
                          _("Concern closed with no further action."))


# -- on the case page ------------------------------------------------------------------------------------

from ..cases.sections import section  # noqa: E402


@section("concerns", "concerns/_case_concerns.html", order=5)
def case_concerns(case, user, overrides):
    if not can(user, "case.view", case):
        return None
    concerns = db.session.scalars(select(Concern).where(Concern.case_id == case.id)
                                  .options(joinedload(Concern.reporter), joinedload(Concern.student))
                                  .order_by(Concern.observed_at.desc())).all()
    if not concerns:
        return None
    return {"concerns": concerns}
