from flask import abort, current_app, flash, request, send_file
from flask_babel import gettext as _, ngettext
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
import io

from ..cases.sections import section
from ..cases.views import case_page, load_case
from ..crypto import preload_data_keys
from ..extensions import db
from ..models import AccessGrant, Attachment, Note, NoteVersion
from ..permissions import can, require
from ..web import is_htmx, render, see_other, toast
from . import bp, services
from .forms import AmendForm, AttachmentForm, BreakGlassForm, ConfirmForm, NoteForm


def _messages():
    return {
        "required": _("This field is required."),
        "too_long": _("This text is too long."),
        "stale": _("Someone amended this note while you were writing. Your text is kept below; "
                   "compare it with the latest version and save again."),
        "unchanged": _("The amended text is the same as the current text."),
        "empty_file": _("The file is empty."),
        "file_too_large": _("The file is larger than %(mb)d MB.",
                            mb=current_app.config["ATTACHMENT_MAX_BYTES"] // (1024 * 1024)),
        "file_type": _("Only PDF, PNG and JPEG files can be attached."),
        "reason_too_short": _("Explain the emergency in at least 20 characters."),
        "already_reviewed": _("This access was already reviewed."),
    }


# -- the case page's sections ----------------------------------------------------------------------

@section("notes", "notes/_notes.html", order=10)
def notes_section(case, user, overrides):
    if not can(user, "case.view", case):
        return None
    page = services.visible_notes(user, case, overrides.get("page", 1),
                                  current_app.config["NOTES_PAGE_SIZE"])
    preload_data_keys({case.data_key_id})
    services.record_reads(user, case, page.items)
    return {"notes": page, "note_form": overrides.get("form") or NoteForm(formdata=None),
            "can_write": can(user, "note.create", case), "case": case}


@section("attachments", "notes/_attachments.html", order=20)
def attachments_section(case, user, overrides):
    if not can(user, "case.view", case):
        return None
    return {"attachments": services.visible_attachments(user, case),
            "attachment_form": overrides.get("form") or AttachmentForm(formdata=None),
            "can_upload": can(user, "attachment.upload", case), "case": case}


@section("emergency_access", "notes/_grants.html", order=30)
def grants_section(case, user, overrides):
    if not can(user, "case.access_log", case):
        return None
    return {"grants": services.grants_for(case), "confirm": ConfirmForm(formdata=None), "case": case}


# -- notes ----------------------------------------------------------------------------------------------

def _notes_fragment(case, status=200, form=None, page=1):
    ctx = notes_section(case, current_user, {"form": form, "page": page})
    resp = render("cases/show.html", "notes/_notes.html", status=status, s=ctx, case=case)
    db.session.commit()  # the reads audited by the section
    return resp


@bp.route("/notes", methods=["GET"])
@login_required
def index(case_id):
    case = load_case(case_id)
    require("case.view", case)
    page = request.args.get("page", 1, type=int)
    if not is_htmx():
        return case_page(case, section_overrides={"notes": {"page": page}})
    return _notes_fragment(case, page=page)


@bp.route("/notes", methods=["POST"])
@login_required
def create(case_id):
    case = load_case(case_id)
    require("note.create", case)
    form = NoteForm()
    if form.validate_on_submit():
        try:
            services.add_note(current_user, case, form.body.data, restricted=form.restricted.data)
        except services.NoteError as exc:
            db.session.rollback()
            getattr(form, exc.field).errors.append(_messages()[exc.code])
        else:
            db.session.commit()
            if is_htmx():
                return toast(_notes_fragment(case), _("Note saved."))
            flash(_("Note saved."), "success")
            return see_other(f"/cases/{case.id}#notes")
    if is_htmx():
        return _notes_fragment(case, status=422, form=form)
    return case_page(case, status=422, section_overrides={"notes": {"form": form}})


def _load_note(case, note_id) -> Note:
    note = db.session.scalar(select(Note).where(Note.id == note_id, Note.case_id == case.id)
                             .options(selectinload(Note.versions).selectinload(NoteVersion.author)))
    if note is None:
        abort(404)
    return note


@bp.route("/notes/<int:note_id>/amend", methods=["GET", "POST"])
@login_required
def amend(case_id, note_id):
    case = load_case(case_id)
    note = _load_note(case, note_id)
    require("note.amend", note)
    preload_data_keys({case.data_key_id})
    form = AmendForm()
    error = None
    if request.method == "GET":
        form.body.data, form.version.data = note.current.body, note.current.number
        services.record_reads(current_user, case, [note])
        db.session.commit()
    elif form.validate_on_submit():
        try:
            services.amend_note(current_user, note, form.body.data, form.reason.data,
                                expected_version=form.version.data)
            db.session.commit()
        except services.NoteError as exc:
            db.session.rollback()
            if exc.field:
                getattr(form, exc.field).errors.append(_messages()[exc.code])
            else:
                error = _messages()[exc.code]
        except IntegrityError:
            db.session.rollback()
            error = _messages()["stale"]
        else:
            flash(_("Amendment saved. The earlier text stays in the note's history."), "success")
            return see_other(f"/cases/{case.id}#note-{note.id}")
        note = _load_note(case, note_id)
    status = 200 if request.method == "GET" else 409 if error else 422
    return render("notes/amend.html", "notes/_amend_form.html", status=status, case=case, note=note,
                  form=form, error=error)


@bp.route("/notes/<int:note_id>/history")
@login_required
def history(case_id, note_id):
    case = load_case(case_id)
    note = _load_note(case, note_id)
    require("note.read", note)
    preload_data_keys({case.data_key_id})
    services.record_reads(current_user, case, [note], action="note.history_viewed")
    db.session.commit()
    return render("notes/history.html", "notes/_history.html", case=case, note=note)


# -- attachments -----------------------------------------------------------------------------------------

@bp.route("/attachments", methods=["POST"])
@login_required
def upload(case_id):
    case = load_case(case_id)
    require("attachment.upload", case)
    form = AttachmentForm()
    if form.validate_on_submit():
        data = form.file.data.read(current_app.config["ATTACHMENT_MAX_BYTES"] + 1)
        try:
            services.add_attachment(current_user, case, form.file.data.filename, data)
        except services.NoteError as exc:
            db.session.rollback()
            form.file.errors.append(_messages()[exc.code])
        else:
            db.session.commit()
            flash(_("File attached."), "success")
            return see_other(f"/cases/{case.id}#attachments")
    return case_page(case, status=422, section_overrides={"attachments": {"form": form}})


@bp.route("/attachments/<int:attachment_id>")
@login_required
def download(case_id, attachment_id):
    case = load_case(case_id)
    att = db.session.scalar(select(Attachment).where(Attachment.id == attachment_id,
                                                     Attachment.case_id == case.id))
    if att is None:
        abort(404)
    require("attachment.read", att)
    data = services.read_attachment(current_user, att)
    db.session.commit()
    resp = send_file(io.BytesIO(data), mimetype=att.content_type, as_attachment=True,
                     download_name=att.filename, max_age=0)
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return resp


# -- break the glass, review, read log ----------------------------------------------------------------------

@bp.route("/break-glass", methods=["GET", "POST"])
@login_required
def break_glass(case_id):
    case = load_case(case_id)
    require("case.break_glass", case)
    form = BreakGlassForm()
    if form.validate_on_submit():
        try:
            services.break_glass(current_user, case, form.reason.data)
        except services.NoteError as exc:
            db.session.rollback()
            form.reason.errors.append(_messages()[exc.code])
            return render("notes/break_glass.html", status=422, case=case, form=form)
        db.session.commit()
        flash(ngettext("Emergency access granted for %(num)d hour. The case's supervision line can see it.",
                       "Emergency access granted for %(num)d hours. The case's supervision line can see it.",
                       current_app.config["BREAK_GLASS_HOURS"]), "warning")
        return see_other("cases.show", case_id=case.id)
    return render("notes/break_glass.html", status=422 if form.errors else 200, case=case, form=form)


@bp.route("/access-grants/<int:grant_id>/review", methods=["POST"])
@login_required
def review_grant(case_id, grant_id):
    case = load_case(case_id)
    require("case.access_log", case)
    grant = db.session.scalar(select(AccessGrant).where(AccessGrant.id == grant_id,
                                                        AccessGrant.case_id == case.id))
    if grant is None:
        abort(404)
    if ConfirmForm().validate_on_submit():
        try:
            services.review_grant(current_user, grant)
            db.session.commit()
            flash(_("Emergency access marked as reviewed."), "success")
        except services.NoteError as exc:
            db.session.rollback()
            flash(_messages()[exc.code], "info")
    return see_other(f"/cases/{case.id}#emergency-access")


@bp.route("/access-log")
@login_required
def access_log(case_id):
    case = load_case(case_id)
    require("case.access_log", case)
    page = services.read_log(case, request.args.get("page", 1, type=int), current_app.config["PAGE_SIZE"])
    return render("notes/access_log.html", "notes/_access_log.html", case=case, page=page)
