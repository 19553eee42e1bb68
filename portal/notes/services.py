"""Rules for confidential notes, attachments and emergency access. Flush, never commit."""
from datetime import timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .. import audit, clock
from ..cases import timeline
from ..crypto import new_uid
from ..extensions import db
from ..models import AccessGrant, Attachment, AuditEvent, Note, NoteVersion
from ..permissions import readable_notes_clause
from . import store

MAX_NOTE = 20000


class NoteError(ValueError):
    def __init__(self, field, code):
        super().__init__(code)
        self.field = field
        self.code = code


def _text(value, field, limit=MAX_NOTE):
    value = (value or "").strip()
    if not value:
        raise NoteError(field, "required")
    if len(value) > limit:
        raise NoteError(field, "too_long")
    return value


def add_note(actor, case, body, *, restricted=False):
    body = _text(body, "body")
    note = Note(case=case, author=actor, restricted=bool(restricted), created_at=clock.now())
    version = NoteVersion(uid=new_uid(), note=note, number=1, author=actor, created_at=note.created_at)
    db.session.add(note)
    version.body = body
    db.session.flush()
    timeline.add(case, "note_added", actor=actor, occurred_at=note.created_at,
                 params={"restricted": note.restricted}, ref=note)
    audit.record("note.created", note, actor=actor,
                 details={"case_id": case.id, "restricted": note.restricted})
    return note


def amend_note(actor, note, body, reason, *, expected_version=None):
    """A new version with a reason; the earlier text stays readable in the history."""
    body, reason = _text(body, "body"), _text(reason, "reason", 2000)
    current = note.current
    if expected_version is not None and str(expected_version) != str(current.number):
        raise NoteError(None, "stale")
    if body == current.body:
        raise NoteError("body", "unchanged")
    version = NoteVersion(uid=new_uid(), note=note, number=current.number + 1, author=actor)
    db.session.add(version)
    version.body = body
    version.reason = reason
    db.session.flush()  # the unique (note, number) pair stops a concurrent second amendment
    timeline.add(note.case, "note_amended", actor=actor, params={"version": version.number}, ref=note)
    audit.record("note.amended", note, actor=actor, details={"version": version.number})
    return version


def visible_notes(user, case, page: int, per_page: int):
    """The notes `user` may read on this case, newest first, with versions and authors loaded."""
    stmt = (select(Note).where(Note.case_id == case.id, readable_notes_clause(user))
            .options(selectinload(Note.versions).selectinload(NoteVersion.author),
                     selectinload(Note.author))
            .order_by(Note.created_at.desc(), Note.id.desc()))
    return db.paginate(stmt, page=page, per_page=per_page, error_out=False)


def record_reads(actor, case, notes, action="notes.read"):
    """One audit event per showing: which notes were put in front of whom."""
    ids = [n.id for n in notes]
    if ids:
        audit.record(action, case, actor=actor, details={"notes": ids})


# -- attachments ---------------------------------------------------------------------------------

def add_attachment(actor, case, filename: str, data: bytes, *, note=None):
    try:
        mime, ext, name = store.check(filename, data)
    except store.FileRefused as exc:
        raise NoteError("file", exc.code) from None
    att = Attachment(uid=new_uid(), case=case, note=note, uploaded_by=actor, content_type=mime,
                     size=len(data), created_at=clock.now())
    att.filename = name
    db.session.add(att)
    db.session.flush()
    store.write(case, att.uid, data)
    timeline.add(case, "attachment_added", actor=actor, occurred_at=att.created_at, ref=att,
                 params={"type": ext})
    audit.record("attachment.uploaded", att, actor=actor,
                 details={"case_id": case.id, "size": att.size, "type": mime})
    return att


def visible_attachments(user, case):
    from sqlalchemy import or_
    stmt = (select(Attachment).outerjoin(Note, Note.id == Attachment.note_id)
            .where(Attachment.case_id == case.id,
                   or_(Attachment.note_id.is_(None), readable_notes_clause(user)))
            .options(selectinload(Attachment.uploaded_by))
            .order_by(Attachment.created_at.desc()))
    return db.session.scalars(stmt).all()


def read_attachment(actor, att) -> bytes:
    data = store.read(att.uid)
    audit.record("attachment.downloaded", att.case, actor=actor, details={"attachment": att.id})
    return data


# -- break the glass -------------------------------------------------------------------------------

def break_glass(actor, case, reason):
    reason = _text(reason, "reason", 2000)
    if len(reason) < 20:
        raise NoteError("reason", "reason_too_short")
    hours = current_app.config["BREAK_GLASS_HOURS"]
    grant = AccessGrant(uid=new_uid(), case=case, user=actor, created_at=clock.now(),
                        expires_at=clock.now() + timedelta(hours=hours))
    grant.reason = reason
    db.session.add(grant)
    db.session.flush()
    timeline.add(case, "break_glass", actor=actor, occurred_at=grant.created_at, ref=grant,
                 params={"name": actor.display_name, "hours": hours})
    audit.record("case.break_glass", case, actor=actor, details={"grant": grant.id, "hours": hours})
    from ..alerts import services as alerts
    from ..web import path_for
    line = alerts.line_above({case.worker_id}) - {actor.id}
    if line:  # the case's supervisors are told at once, not when they next open the case
        alerts.raise_alert("break_glass", school_id=case.school_id, source=case, raised_by=actor,
                           link=path_for("cases.show", case_id=case.id) + "#emergency-access",
                           recipients=line, params={"by": actor.display_name})
    return grant


def review_grant(actor, grant):
    if grant.reviewed_at is not None:
        raise NoteError(None, "already_reviewed")
    grant.reviewed_by, grant.reviewed_at = actor, clock.now()
    audit.record("case.break_glass_reviewed", grant.case, actor=actor, details={"grant": grant.id})


def grants_for(case):
    return db.session.scalars(select(AccessGrant).where(AccessGrant.case_id == case.id)
                              .options(selectinload(AccessGrant.user), selectinload(AccessGrant.reviewed_by))
                              .order_by(AccessGrant.created_at.desc())).all()


READ_ACTIONS = ("case.viewed", "notes.read", "note.history_viewed", "attachment.downloaded",
                "case.break_glass", "crisis.read", "crisis.safety_plan_printed")


def read_log(case, page: int, per_page: int):
    stmt = (select(AuditEvent).where(AuditEvent.object_type == "cases",
                                     AuditEvent.object_id == str(case.id),
                                     AuditEvent.action.in_(READ_ACTIONS))
            .order_by(AuditEvent.seq.desc()))
    result = db.paginate(stmt, page=page, per_page=per_page, error_out=False)
    ids = {e.actor_id for e in result.items if e.actor_id}
    from ..models import User
    result.names = dict(db.session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all()) \
        if ids else {}
    return result


# -- timeline summaries ---------------------------------------------------------------------------

from flask_babel import lazy_gettext as _l, lazy_ngettext  # noqa: E402


@timeline.summary("note_added")
def _note_added(p):
    return _l("Restricted confidential note added") if p.get("restricted") else _l("Confidential note added")


@timeline.summary("note_amended")
def _note_amended(p):
    return _l("Confidential note amended (version %(n)d)", n=int(p.get("version") or 0))


@timeline.summary("attachment_added")
def _attachment_added(p):
    return _l("Attachment added (%(type)s)", type=(p.get("type") or "").upper())


@timeline.summary("break_glass")
def _break_glass(p):
    return lazy_ngettext("Emergency access by %(name)s for %(num)d hour",
                         "Emergency access by %(name)s for %(num)d hours",
                         int(p.get("hours") or 0), name=p.get("name", ""))
