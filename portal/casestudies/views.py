from flask import abort, current_app, flash, make_response, request
from flask_babel import gettext as _, ngettext
from flask_login import current_user, login_required
from sqlalchemy.orm.exc import StaleDataError

from .. import audit
from ..cases.sections import section
from ..cases.views import load_case
from ..casework.forms import ReviewForm
from ..crypto import preload_data_keys
from ..extensions import db
from ..permissions import can, require
from ..web import is_htmx, render, see_other, toast
from . import bp, services
from .forms import EditStudyForm, NewStudyForm, SubmitForm

def kinds():
    return {
        "student": _("the student’s name"), "family": _("a family member’s name"),
        "other_student": _("another student’s name"), "staff": _("a staff member’s name"),
        "school": _("the school"), "other_school": _("a school"), "number": _("a student or other number"),
        "phone": _("a phone number"), "email": _("an e-mail address"), "address": _("an address"),
        "reference": _("a case or report reference"), "date": _("an exact date"),
    }


def messages():
    return {
        "required": _("This field is required."),
        "too_long": _("This text is too long."),
        "invalid": _("Choose one of the listed values."),
        "already_handled": _("Someone else has already handled this, or it changed since you opened it."),
        "own_record": _("You cannot approve your own case study; it goes to your supervisor."),
        "identifiers_left": _("The study still contains something that could identify the student. Replace it, "
                              "then send it again."),
    }


# -- the case page -------------------------------------------------------------------------------------

@section("case_studies", "casestudies/_case_section.html", order=65)
def case_section(case, user, overrides):
    if not can(user, "case.view", case):
        return None
    studies = [s for s in services.for_case(case) if can(user, "casestudy.view", s)]
    can_create = can(user, "casestudy.create", case)
    if not studies and not can_create:
        return None
    preload_data_keys({s.data_key_id for s in studies})
    return {"case": case, "studies": studies, "can_create": can_create}


# -- the library ----------------------------------------------------------------------------------------

@bp.app_template_filter("study_parts")
def study_parts(body):
    """A study's text as (heading, text) parts: the draft marks its sections with "## ", which a
    reader should see as headings, not as marks. The text stays text (escaped by the template)."""
    parts, heading, lines = [], None, []
    for line in (body or "").splitlines():
        if line.startswith("## "):
            if heading is not None or any(x.strip() for x in lines):
                parts.append((heading, "\n".join(lines).strip()))
            heading, lines = line[3:].strip(), []
        else:
            lines.append(line)
    if heading is not None or any(x.strip() for x in lines):
        parts.append((heading, "\n".join(lines).strip()))
    return parts


@bp.route("/case-studies")
@login_required
def library():
    require("casestudy.list")
    page = db.paginate(services.library_statement(), page=request.args.get("page", 1, type=int),
                       per_page=current_app.config["PAGE_SIZE"], error_out=False)
    mine = services.mine(current_user)
    preload_data_keys({s.data_key_id for s in page.items} | {s.data_key_id for s in mine})
    return render("casestudies/library.html", page=page, mine=mine)


# -- drafting -------------------------------------------------------------------------------------------

@bp.route("/cases/<int:case_id>/case-studies/new", methods=["GET", "POST"])
@login_required
def new(case_id):
    case = load_case(case_id)
    require("casestudy.create", case)
    form = NewStudyForm()
    if request.method == "GET":
        form.sections.data = list(services.SECTIONS)
    elif form.validate_on_submit():
        try:
            study = services.create(current_user, case, title=form.title.data, sections=form.sections.data,
                                    question=form.question.data)
        except services.StudyError as exc:
            db.session.rollback()
            getattr(form, exc.field if exc.field in ("title",) else "title").errors.append(messages()[exc.code])
        else:
            db.session.commit()
            flash(_("A de-identified draft was made from the case. Read it through and correct it before you "
                    "send it for approval."), "success")
            return see_other("casestudies.show", study_id=study.id)
    return render("casestudies/new.html", status=422 if form.errors else 200, form=form, case=case)


def _load(study_id):
    study = services.load(study_id)
    if study is None:
        abort(404)
    return study


def study_page(study, status=200, form=None, error=None, found=None):
    preload_data_keys({study.data_key_id, study.case.data_key_id})
    editable = can(current_user, "casestudy.edit", study)
    decidable = can(current_user, "casestudy.decide", study)
    on_the_line = study.author_id == current_user.id or can(current_user, "case.view", study.case)
    if found is None and (editable or decidable):
        found = services.leaks(study)
    if editable and form is None:
        form = EditStudyForm(formdata=None, title=study.title, body=study.body, version=study.version_id)
    audit.record("case_study.viewed", study)
    resp = render("casestudies/show.html", status=status, study=study, form=form if editable else None,
                  editable=editable, error=error, found=found or [], kinds=kinds(), on_the_line=on_the_line,
                  thread=services.thread(study) if on_the_line else [],
                  submit_form=SubmitForm(formdata=None, version=study.version_id) if editable else None,
                  decide_form=ReviewForm(formdata=None, version=study.version_id) if decidable else None,
                  can_download=can(current_user, "casestudy.download", study))
    db.session.commit()
    if error:
        toast(resp, error, "error")
    return resp


@bp.route("/case-studies/<int:study_id>")
@login_required
def show(study_id):
    study = _load(study_id)
    require("casestudy.view", study)
    return study_page(study)


@bp.route("/case-studies/<int:study_id>/edit", methods=["POST"])
@login_required
def edit(study_id):
    study = _load(study_id)
    require("casestudy.edit", study)
    form = EditStudyForm()
    if not form.validate_on_submit():
        return study_page(study, status=422, form=form)
    try:
        found = services.save(current_user, study, title=form.title.data, body=form.body.data,
                              version=form.version.data)
        db.session.commit()
    except (services.StudyError, StaleDataError) as exc:
        db.session.rollback()
        error = messages().get(getattr(exc, "code", "already_handled"), messages()["already_handled"])
        return study_page(_load(study_id), status=409, form=form, error=error)
    if found:
        flash(ngettext("Saved. %(num)d thing in it could still identify the student: see below.",
                       "Saved. %(num)d things in it could still identify the student: see below.", len(found)),
              "warning")
    else:
        flash(_("Saved. Nothing in it identifies the student as far as the portal can tell."), "success")
    return see_other("casestudies.show", study_id=study.id)


@bp.route("/case-studies/<int:study_id>/submit", methods=["POST"])
@login_required
def submit(study_id):
    study = _load(study_id)
    require("casestudy.edit", study)
    form = SubmitForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.submit(current_user, study, version=form.version.data)
        db.session.commit()
    except (services.StudyError, StaleDataError) as exc:
        db.session.rollback()
        code = getattr(exc, "code", "already_handled")
        study = _load(study_id)
        return study_page(study, status=422 if code == "identifiers_left" else 409, error=messages()[code],
                          found=getattr(exc, "info", {}).get("leaks"))
    flash(_("Sent to your supervisor for approval."), "success")
    return see_other("casestudies.show", study_id=study.id)


@bp.route("/case-studies/<int:study_id>/decide", methods=["POST"])
@login_required
def decide(study_id):
    study = _load(study_id)
    require("casestudy.decide", study)
    form = ReviewForm()
    decision = request.form.get("decision")
    from_queue = request.form.get("from") == "queue"
    error, found = None, None
    if form.validate_on_submit():
        try:
            services.decide(current_user, study, decision, form.comment.data, version=form.version.data)
            db.session.commit()
        except (services.StudyError, StaleDataError) as exc:
            db.session.rollback()
            code = getattr(exc, "code", "already_handled")
            error = _("Write a comment when you return a case study.") if getattr(exc, "field", None) == "comment" \
                else messages().get(code, code)
            found = getattr(exc, "info", {}).get("leaks")
        else:
            done = _("Case study approved: it can now be downloaded and shared.") if decision == "approve" \
                else _("Case study returned with your comments.")
            if is_htmx() and from_queue:
                return toast(render("casework/review.html", "casework/_queue_done.html", item=_load(study_id),
                                    kind="study"), done)
            flash(done, "success")
            return see_other("casework.review_queue", tab="studies") if from_queue else \
                see_other("casestudies.show", study_id=study_id)
    error = error or messages()["already_handled"]
    if is_htmx() and from_queue:
        study = _load(study_id)
        if study.status == "submitted" and not found:  # refused: the item again, with what was typed
            from ..casework.views import queue_item
            return toast(queue_item("study", study, form, error), error, "error")
        return toast(render("casework/review.html", "casework/_queue_done.html", status=422, item=_load(study_id),
                            kind="study", error=error), error, "error")
    return study_page(_load(study_id), status=422, error=error, found=found)


@bp.route("/case-studies/<int:study_id>/download")
@login_required
def download(study_id):
    study = _load(study_id)
    require("casestudy.download", study)
    preload_data_keys({study.data_key_id})
    services.downloaded(current_user, study)
    body = f"# {study.title}\n\n{study.body}"
    db.session.commit()
    resp = make_response(body.encode("utf-8"))
    resp.headers["Content-Type"] = "text/markdown; charset=utf-8"
    resp.headers["Content-Disposition"] = f'attachment; filename="case-study-{study.uid[:8]}.md"'
    return resp
