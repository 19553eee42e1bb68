"""Producing a student's record for a request, and reading it back (page, document, JSON)."""
import json

from flask import abort, current_app, render_template
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload

from .. import audit
from ..extensions import db
from ..formkit import choices
from ..i18n import local_today
from ..models import RecordRequest
from ..permissions import require
from ..web import render, see_other
from . import bp, services
from .forms import RecordRequestForm

MESSAGES = {"required": lambda: _("This is required."), "too_long": lambda: _("This is too long."),
            "future": lambda: _("The date is in the future."),
            "restricted": lambda: _("This person is under a contact restriction: the record cannot be given to "
                                    "them. Tell your supervisor and check the order.")}


@bp.route("/students/<int:student_id>/record-request", methods=["GET", "POST"])
@login_required
def new(student_id):
    student = services.load_student(student_id)
    if student is None:
        abort(404)
    require("student.export", student)
    form = RecordRequestForm()
    form.guardian_id.choices = choices([("", _("Choose…"))] + [
        (g.id, g.name + (" · " + _("Do not contact") if g.no_contact else "")) for g in student.guardians])
    if not form.is_submitted():
        form.received_on.data = local_today()
    if form.validate_on_submit():
        from ..models import Guardian
        try:
            req = services.produce(current_user, student, requester_kind=form.requester_kind.data,
                                   requester=form.requester.data, received_on=form.received_on.data,
                                   guardian=db.session.get(Guardian, form.guardian_id.data or 0))
        except services.RecordError as exc:
            db.session.rollback()
            getattr(form, exc.field).errors.append(MESSAGES[exc.code]())
        else:
            db.session.commit()
            return see_other("records.show", request_id=req.id)
    return render("records/new.html", status=422 if form.errors else 200, form=form, student=student,
                  earlier=services.requests_for(student))


@bp.app_template_filter("when")
def when(value):
    """An ISO date or time from a record export, shown as the portal shows dates and times."""
    from datetime import date, datetime

    from ..i18n import _datetime
    from flask_babel import format_date
    if not value:
        return ""
    try:
        return _datetime(datetime.fromisoformat(value)) if "T" in value else format_date(date.fromisoformat(value))
    except (TypeError, ValueError):
        return value


def _load(request_id) -> RecordRequest:
    req = db.session.scalar(db.select(RecordRequest).where(RecordRequest.id == request_id)
                            .options(joinedload(RecordRequest.student), joinedload(RecordRequest.produced_by)))
    if req is None:
        abort(404)
    require("record_request.view", req)
    return req


def _read(req, what):
    audit.record("record_request.read", req.student, details={"request": req.id, "as": what})
    content = services.content_of(req)
    db.session.commit()
    return content


@bp.route("/record-requests/<int:request_id>")
@login_required
def show(request_id):
    req = _load(request_id)
    content = _read(req, "summary")
    return render("records/show.html", req=req, content=content)


@bp.route("/record-requests/<int:request_id>/document")
@login_required
def document(request_id):
    """The readable document, standalone, for printing or saving as PDF."""
    req = _load(request_id)
    content = _read(req, "document")
    return render_template("records/document.html", req=req, r=content)


@bp.route("/record-requests/<int:request_id>/record.json")
@login_required
def machine_readable(request_id):
    req = _load(request_id)
    content = _read(req, "json")
    resp = current_app.response_class(json.dumps(content, ensure_ascii=False, indent=1),
                                      mimetype="application/json")
    resp.headers["Content-Disposition"] = f'attachment; filename="{req.reference}.json"'
    return resp
