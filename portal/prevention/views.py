"""Prevention pages: the term calendar with its figures (and their CSV), an activity with its
outcome, evaluation and materials."""
import csv
import io
from datetime import date
from itertools import groupby

from babel.dates import format_skeleton

from flask import abort, current_app, flash, request, send_file, url_for
from flask_babel import get_locale, gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError

from ..crypto import preload_data_keys
from ..extensions import db
from ..formkit import choices, place_error
from ..i18n import label, local_today
from ..models import ActivityMaterial, PreventionActivity, School
from ..models.prevention import SCALE
from ..permissions import can, require, school_ids
from ..web import render, see_other
from . import bp, services, terms
from .forms import ActivityForm, MaterialForm


def _messages():
    return {
        "required": _("This field is required."),
        "too_long": _("This text is too long."),
        "invalid": _("Choose one of the listed values."),
        "held_future": _("An activity in the future cannot have been held yet: keep it planned."),
        "audience": _("Tick who the activity is for."),
        "reached": _("Give the number of people reached (1 or more) when the activity was held."),
        "not_held": _("Record the number reached once the activity is held."),
        "count": _("A number from 0."),
        "eval_not_held": _("The evaluation is recorded once the activity is held."),
        "eval_empty": _("Enter how many people gave each answer."),
        "eval_total": _("More answers than people reached."),
        "stale": _("Someone else changed this activity while you were looking at it. Check the latest version and "
                   "try again."),
        "empty_file": _("The file is empty."),
        "file_too_large": _("The file is larger than %(mb)d MB.",
                            mb=current_app.config["ATTACHMENT_MAX_BYTES"] // (1024 * 1024)),
        "file_type": _("Only PDF, PNG and JPEG files can be attached."),
    }


def _fail(form, exc):
    db.session.rollback()
    message = _messages().get(exc.code, _messages()["invalid"])
    field = exc.field
    if field in ("eval_before", "eval_after"):  # the counts' row: its first cell carries the message
        field = getattr(form, field.replace("eval_", "") + "_1")
    return place_error(form, field, message)


def _term():
    """The term holding ?term=YYYY-MM-DD (any day of it), today's by default."""
    try:
        day = date.fromisoformat(request.args.get("term", ""))
    except ValueError:
        day = local_today()
    return terms.term_of(day)


def _school_filter():
    school_id = request.args.get("school", type=int)
    return school_id if school_id in school_ids(current_user) else None


# -- the term calendar and figures -------------------------------------------------------------------

@bp.route("/activities")
@login_required
def calendar():
    require("activity.list")
    term, school_id = _term(), _school_filter()
    page = db.paginate(services.calendar_statement(current_user, *term, school_id),
                       page=request.args.get("page", 1, type=int), per_page=100, error_out=False)
    schools = db.session.scalars(select(School).where(School.id.in_(school_ids(current_user)))
                                 .order_by(School.name)).all()
    months = [(items[0].occurs_on.replace(day=1), items) for _key, run in
              groupby(page.items, key=lambda a: (a.occurs_on.year, a.occurs_on.month)) for items in [list(run)]]
    return render("prevention/calendar.html", term=term, previous=terms.previous(term), following=terms.following(term),
                  page=page, months=months, figures=services.figures(current_user, *term, school_id), schools=schools,
                  school_id=school_id, today=local_today(),
                  month_label=lambda d: format_skeleton("yMMMM", d, locale=get_locale()))


def _csv_response(rows, name):
    buf = io.StringIO()
    writer = csv.writer(buf)
    for row in rows:
        # A cell starting with = + - @ would run as a formula in a spreadsheet: quote it.
        writer.writerow([f"'{c}" if isinstance(c, str) and c[:1] in ("=", "+", "-", "@") else c for c in row])
    data = io.BytesIO(("\ufeff" + buf.getvalue()).encode("utf-8"))  # the BOM tells spreadsheets it is UTF-8
    resp = send_file(data, mimetype="text/csv", as_attachment=True, download_name=name, max_age=0)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.route("/activities/figures.csv")
@login_required
def figures_csv():
    """The term's figures (?kind=figures, by school and topic) or its calendar (?kind=calendar)."""
    require("activity.list")
    term, school_id = _term(), _school_filter()
    if request.args.get("kind") == "calendar":
        rows = [[_("Date"), _("School"), _("Type"), _("Topic"), _("Title"), _("Audience"), _("Grades"), _("Classes"),
                 _("Status"), _("People reached")]]
        for a in db.session.scalars(services.calendar_statement(current_user, *term, school_id)):
            rows.append([a.occurs_on.isoformat(), a.school.name, label("activity_type", a.type),
                         a.topic_other if a.topic == "other" and a.topic_other else label("activity_topic", a.topic),
                         a.title, ", ".join(label("audience", x) for x in a.audience), " ".join(a.grades),
                         a.classes or "", label("activity_state", a.status), a.reached or ""])
        return _csv_response(rows, f"activities-{term[0].isoformat()}.csv")
    f = services.figures(current_user, *term, school_id)
    rows = [[_("Term"), _("School"), _("Topic"), _("Activities held"), _("People reached"), _("Activities planned"),
             _("Group sessions held"), _("Students in groups")]]
    period = f"{term[0].isoformat()}/{term[1].isoformat()}"
    for s in f["schools"]:
        for t in f["topics"]:
            c = t["cells"][s.id]
            if c["held"] or c["planned"]:
                rows.append([period, s.name, label("activity_topic", t["topic"]), c["held"], c["reached"], c["planned"],
                             "", ""])
        c, g = f["by_school"][s.id], f["groups"][s.id]
        rows.append([period, s.name, _("All topics"), c["held"], c["reached"], c["planned"], g["sessions"],
                     f["students_shown"][s.id]])
    c, g = f["total"], f["groups_total"]
    rows.append([period, _("All schools"), _("All topics"), c["held"], c["reached"], c["planned"], g["sessions"],
                 f["students_shown"]["total"]])
    return _csv_response(rows, f"prevention-figures-{term[0].isoformat()}.csv")


# -- one activity ----------------------------------------------------------------------------------------

def _load(activity_id) -> PreventionActivity:
    a = db.session.scalar(select(PreventionActivity).where(PreventionActivity.id == activity_id).options(
        joinedload(PreventionActivity.school), joinedload(PreventionActivity.organiser),
        selectinload(PreventionActivity.files).joinedload(ActivityMaterial.uploaded_by)))
    if a is None:
        abort(404)
    return a


def _form(form):
    form.school_id.choices = choices([("", _("Choose…"))] + [(s.id, s.name) for s in current_user.schools])
    return form


def _data(form):
    return {"type": form.type.data, "topic": form.topic.data, "topic_other": form.topic_other.data,
            "title": form.title.data, "occurs_on": form.occurs_on.data, "status": form.status.data,
            "audience": form.audience.data, "grades": form.grades.data, "classes": form.classes.data,
            "reached": form.reached.data, "materials": form.materials.data, "eval_question": form.eval_question.data,
            "eval_before": [getattr(form, f"before_{n}").data for n in SCALE],
            "eval_after": [getattr(form, f"after_{n}").data for n in SCALE], "notes": form.notes.data}


@bp.route("/activities/new", methods=["GET", "POST"])
@login_required
def new():
    require("activity.create")
    form = _form(ActivityForm())
    if request.method == "GET":
        form.occurs_on.data = local_today()
        if len(current_user.schools) == 1:
            form.school_id.data = current_user.schools[0].id
    error = None
    if form.validate_on_submit():
        try:
            a = services.create_activity(current_user, db.session.get(School, form.school_id.data or 0), **_data(form))
        except services.ActivityError as exc:
            error = _fail(form, exc)
        else:
            db.session.commit()
            flash(_("Activity saved."), "success")
            return see_other("prevention.show", activity_id=a.id)
    return render("prevention/form.html", status=422 if (form.errors or error) else 200, form=form, activity=None,
                  error=error)


@bp.route("/activities/<int:activity_id>/edit", methods=["GET", "POST"])
@login_required
def edit(activity_id):
    a = _load(activity_id)
    require("activity.edit", a)
    if request.method == "GET":
        preload_data_keys({a.data_key_id})
        form = ActivityForm(formdata=None, obj=a, version=a.version_id, notes=a.notes,
                            **{f"before_{n}": c for n, c in zip(SCALE, a.eval_before or [None] * 5, strict=True)},
                            **{f"after_{n}": c for n, c in zip(SCALE, a.eval_after or [None] * 5, strict=True)})
    else:
        form = ActivityForm()
    form.school_id.choices = choices([(a.school_id, a.school.name)])
    form.school_id.data = a.school_id
    error = None
    if request.method == "POST" and form.validate_on_submit():
        try:
            services.update_activity(current_user, a, version=form.version.data, **_data(form))
            db.session.commit()
        except services.ActivityError as exc:
            error = _fail(form, exc)
        except StaleDataError:
            db.session.rollback()
            error = _messages()["stale"]
        else:
            flash(_("Saved."), "success")
            return see_other("prevention.show", activity_id=activity_id)
    return render("prevention/form.html", status=422 if (form.errors or error) else 200, form=form,
                  activity=_load(activity_id) if error else a, error=error)


def _page(a, status=200, material_form=None):
    preload_data_keys({a.data_key_id})
    return render("prevention/show.html", status=status, activity=a, evaluation=services.evaluation(a),
                  can_edit=can(current_user, "activity.edit", a),
                  material_form=material_form or MaterialForm(formdata=None))


@bp.route("/activities/<int:activity_id>")
@login_required
def show(activity_id):
    a = _load(activity_id)
    require("activity.view", a)
    return _page(a)


@bp.route("/activities/<int:activity_id>/materials", methods=["POST"])
@login_required
def material_upload(activity_id):
    a = _load(activity_id)
    require("activity.edit", a)
    form = MaterialForm()
    if form.validate_on_submit():
        data = form.file.data.read(current_app.config["ATTACHMENT_MAX_BYTES"] + 1)
        try:
            services.add_material(current_user, a, form.file.data.filename, data)
        except services.ActivityError as exc:
            db.session.rollback()
            form.file.errors.append(_messages()[exc.code])
        else:
            db.session.commit()
            flash(_("File attached."), "success")
            return see_other(url_for("prevention.show", activity_id=activity_id) + "#materials")
    return _page(_load(activity_id), status=422, material_form=form)


@bp.route("/activities/<int:activity_id>/materials/<int:material_id>")
@login_required
def material(activity_id, material_id):
    a = _load(activity_id)
    require("activity.view", a)
    m = next((f for f in a.files if f.id == material_id), None)
    if m is None:
        abort(404)
    data = services.read_material(current_user, m)
    db.session.commit()
    resp = send_file(io.BytesIO(data), mimetype=m.content_type, as_attachment=True, download_name=m.filename,
                     max_age=0)
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return resp
