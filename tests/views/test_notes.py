import io
import logging
import os

import pytest
from sqlalchemy import text

from portal.extensions import db
from portal.models import AccessGrant, AuditEvent, Case, Note, NoteVersion, User
from portal.notes import services

MARKER = "ZEBRA-MARKER-4471"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n" + MARKER.encode() + b"\n%%EOF"


def _note(app, world, body="Observed bruises on the arm", restricted=False, author="worker"):
    with app.app_context():
        note = services.add_note(db.session.get(User, getattr(world, author).id),
                                 db.session.get(Case, world.case_a.id), body, restricted=restricted)
        db.session.commit()
        return note.id


def test_worker_adds_a_note_by_htmx(app, world, login):
    c = login(world.worker)
    resp = c.post_form(f"/cases/{world.case_a.id}/notes", {"body": "Student said she felt unsafe"}, htmx=True)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and html.lstrip().startswith('<section id="notes"')
    assert "Student said she felt unsafe" in html and "portal:toast" in resp.headers["HX-Trigger"]
    # the fresh form is empty again, and the case timeline has a content-free entry
    assert "Student said she felt unsafe</textarea>" not in html
    assert "Confidential note added" in c.get(f"/cases/{world.case_a.id}").get_data(as_text=True)


def test_empty_note_is_refused_with_the_message_beside_the_field(world, login):
    resp = login(world.worker).post_form(f"/cases/{world.case_a.id}/notes", {"body": "  "}, htmx=True)
    assert resp.status_code == 422 and "Write the note before saving it." in resp.get_data(as_text=True)


def test_note_without_javascript(world, login):
    c = login(world.worker)
    resp = c.post_form(f"/cases/{world.case_a.id}/notes", {"body": "Plain form note"})
    assert resp.status_code == 303 and resp.headers["Location"].endswith("#notes")
    resp = c.post_form(f"/cases/{world.case_a.id}/notes", {"body": ""})
    assert resp.status_code == 422 and "<html" in resp.get_data(as_text=True)


def test_notes_newest_first_with_author(app, world, login):
    from datetime import timedelta

    from portal import clock
    _note(app, world, "older note")
    clock.freeze(clock.now() + timedelta(minutes=5))
    try:
        _note(app, world, "newer note", author="assistant")
    finally:
        clock.freeze(None)
    html = login(world.worker).get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert html.index("newer note") < html.index("older note")
    assert world.assistant.display_name in html


def test_restricted_note_is_for_the_author_and_their_line_only(app, world, login, make):
    with app.app_context():
        from portal.cases import services as cs
        cs.add_member(db.session.get(User, world.worker.id), db.session.get(Case, world.case_a.id),
                      db.session.get(User, world.peer.id))
        db.session.commit()
    note_id = _note(app, world, "Restricted: disclosure about father", restricted=True)
    _note(app, world, "Open note for the team")
    for who, sees in (("worker", True), ("assistant", True), ("mentor", True), ("peer", False)):
        html = login(getattr(world, who)).get(f"/cases/{world.case_a.id}").get_data(as_text=True)
        assert ("disclosure about father" in html) is sees, who
        assert "Open note for the team" in html
    peer = login(world.peer)
    assert peer.get(f"/cases/{world.case_a.id}/notes/{note_id}/history").status_code == 403


def test_amendment_keeps_the_original(app, world, login):
    note_id = _note(app, world, "Original text")
    c = login(world.worker)
    form = c.get(f"/cases/{world.case_a.id}/notes/{note_id}/amend").get_data(as_text=True)
    assert "Original text" in form
    resp = c.post_form(f"/cases/{world.case_a.id}/notes/{note_id}/amend",
                       {"body": "Corrected text", "reason": "Wrong date", "version": 1})
    assert resp.status_code == 303
    html = c.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert "Corrected text" in html and "Original text" not in html and "version 2" in html
    hist = login(world.assistant).get(f"/cases/{world.case_a.id}/notes/{note_id}/history").get_data(as_text=True)
    assert "Corrected text" in hist and "Original text" in hist and "Wrong date" in hist
    with app.app_context():
        assert db.session.query(NoteVersion).count() == 2


def test_amendment_needs_a_reason_and_keeps_input(app, world, login):
    note_id = _note(app, world)
    resp = login(world.worker).post_form(f"/cases/{world.case_a.id}/notes/{note_id}/amend",
                                         {"body": "New words", "reason": "", "version": 1})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "Say why the note is amended." in html and "New words" in html


def test_only_the_author_amends(app, world, login):
    note_id = _note(app, world)
    for who in ("assistant", "peer", "teacher", "admin"):
        resp = login(getattr(world, who)).post_form(f"/cases/{world.case_a.id}/notes/{note_id}/amend",
                                                    {"body": "x", "reason": "y", "version": 1})
        assert resp.status_code == 403, who


def test_concurrent_amendments_do_not_overwrite(app, world, login):
    note_id = _note(app, world, "v1")
    c = login(world.worker)
    assert c.post_form(f"/cases/{world.case_a.id}/notes/{note_id}/amend",
                       {"body": "v2 first", "reason": "r", "version": 1}).status_code == 303
    resp = c.post_form(f"/cases/{world.case_a.id}/notes/{note_id}/amend",
                       {"body": "v2 second", "reason": "r", "version": 1})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 409 and "v2 second" in html and "v2 first" in html
    with app.app_context():
        assert [v.body for v in db.session.get(Note, note_id).versions] == ["v1", "v2 first"]


def test_attachment_upload_and_download(app, world, login):
    c = login(world.worker)
    resp = c.post_form(f"/cases/{world.case_a.id}/attachments",
                       {"file": (io.BytesIO(PDF), "consent form 张.pdf")}, content_type="multipart/form-data")
    assert resp.status_code == 303
    html = login(world.assistant).get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert "consent form 张.pdf" in html
    with app.app_context():
        from portal.models import Attachment
        att = db.session.query(Attachment).one()
        assert att.content_type == "application/pdf" and att.size == len(PDF)
    dl = login(world.assistant).get(f"/cases/{world.case_a.id}/attachments/{att.id}")
    assert dl.status_code == 200 and dl.data == PDF
    assert dl.headers["Content-Disposition"].startswith("attachment")
    assert dl.headers["Cache-Control"] == "no-store" and dl.headers["Content-Type"] == "application/pdf"
    with app.app_context():
        assert db.session.query(AuditEvent).filter_by(action="attachment.downloaded").count() == 1


@pytest.mark.parametrize("data,name,message", [
    (b"MZ\x90\x00 not a pdf", "evil.pdf", "Only PDF, PNG and JPEG"),
    (b"<html><script>x</script>", "page.png", "Only PDF, PNG and JPEG"),
    (b"", "empty.pdf", "The file is empty"),
])
def test_attachment_type_is_checked_by_content(world, login, data, name, message):
    resp = login(world.worker).post_form(f"/cases/{world.case_a.id}/attachments",
                                         {"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")
    assert resp.status_code == 422 and message in resp.get_data(as_text=True)


def test_attachment_named_wrongly_is_typed_by_content(app, world, login):
    login(world.worker).post_form(f"/cases/{world.case_a.id}/attachments",
                                  {"file": (io.BytesIO(PNG), "scan.pdf")}, content_type="multipart/form-data")
    with app.app_context():
        from portal.models import Attachment
        assert db.session.query(Attachment).one().content_type == "image/png"


def test_attachment_size_limit(app, world, login):
    app.config["ATTACHMENT_MAX_BYTES"] = 100
    resp = login(world.worker).post_form(f"/cases/{world.case_a.id}/attachments",
                                         {"file": (io.BytesIO(PDF + b"x" * 200), "big.pdf")},
                                         content_type="multipart/form-data")
    assert resp.status_code == 422 and "larger than" in resp.get_data(as_text=True)


def test_nothing_confidential_at_rest_or_in_logs(app, world, login, caplog):
    """The marker goes in through every door; it must not be found in any table, file or log."""
    caplog.set_level(logging.DEBUG)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)  # even with SQL echo on
    try:
        c = login(world.worker)
        c.post_form(f"/cases/{world.case_a.id}/notes", {"body": f"Disclosure {MARKER}", "restricted": "y"})
        with app.app_context():
            note_id = db.session.query(Note).one().id
        c.post_form(f"/cases/{world.case_a.id}/notes/{note_id}/amend",
                    {"body": f"Amended {MARKER}", "reason": f"Reason {MARKER}", "version": 1})
        c.post_form(f"/cases/{world.case_a.id}/attachments",
                    {"file": (io.BytesIO(PDF), f"{MARKER}.pdf")}, content_type="multipart/form-data")
        c.post_form(f"/cases/{world.case_a.id}/risk",
                    {"rk-risk_level": "high", "rk-reason": f"Risk {MARKER}", "rk-version": 3})
        html = c.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
        assert MARKER in html  # it does round-trip for the team
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    assert MARKER not in caplog.text, "confidential text reached a log"
    with app.app_context():
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(table.select()):
                for value in row:
                    raw = bytes(value) if isinstance(value, (bytes, memoryview)) else str(value).encode()
                    assert MARKER.encode() not in raw, f"plaintext in {table.name}"
        db.session.remove()
        db.engine.dispose()  # SQLite: checkpoint the WAL into the file read below
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("sqlite:///"):
        for suffix in ("", "-wal"):
            path = url[len("sqlite:///"):] + suffix
            if os.path.exists(path):
                assert MARKER.encode() not in _read(path)
    store = os.path.join(app.instance_path, "attachments")
    files = os.listdir(store)
    assert files and all(MARKER.encode() not in _read(os.path.join(store, f)) for f in files)


def _read(path):
    with open(path, "rb") as fh:
        return fh.read()


def test_swapped_attachment_file_fails_to_decrypt(app, world, login):
    c = login(world.worker)
    for name in ("a.pdf", "b.pdf"):
        c.post_form(f"/cases/{world.case_a.id}/attachments", {"file": (io.BytesIO(PDF), name)},
                    content_type="multipart/form-data")
    with app.app_context():
        from portal.crypto import DecryptionError
        from portal.models import Attachment
        from portal.notes import store
        a, b = db.session.query(Attachment).order_by(Attachment.id).all()
        root = os.path.join(app.instance_path, "attachments")
        os.replace(os.path.join(root, a.uid), os.path.join(root, b.uid))
        with pytest.raises(DecryptionError):
            store.read(b.uid)


def test_reads_are_logged_and_shown_to_the_line(app, world, login):
    _note(app, world, "first")
    login(world.worker).get(f"/cases/{world.case_a.id}")
    log = login(world.assistant).get(f"/cases/{world.case_a.id}/access-log").get_data(as_text=True)
    assert "Was shown 1 note" in log and world.worker.display_name in log and "Opened the case page" in log
    assert login(world.worker).get(f"/cases/{world.case_a.id}/access-log").status_code == 403


def test_break_the_glass(app, world, login):
    outsider = login(world.practice_b)  # a supervisor, but not on case A's line
    resp = outsider.get(f"/cases/{world.case_a.id}")
    assert resp.status_code == 403 and "Use emergency access" in resp.get_data(as_text=True)
    resp = outsider.post_form(f"/cases/{world.case_a.id}/break-glass", {"reason": "too short"})
    assert resp.status_code == 422 and "at least 20 characters" in resp.get_data(as_text=True)
    _note(app, world, "Team note visible in an emergency")
    _note(app, world, "Restricted stays closed", restricted=True)
    resp = outsider.post_form(f"/cases/{world.case_a.id}/break-glass",
                              {"reason": "Student reported missing; police asked for contacts"})
    assert resp.status_code == 303
    html = outsider.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert "Team note visible in an emergency" in html and "Restricted stays closed" not in html
    line = login(world.assistant).get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert "Student reported missing" in line and "Mark reviewed" in line
    assert "Emergency access by" in line  # on the timeline for the whole team
    with app.app_context():
        grant = db.session.query(AccessGrant).one()
    resp = login(world.assistant).post_form(f"/cases/{world.case_a.id}/access-grants/{grant.id}/review")
    assert resp.status_code == 303
    assert "Reviewed by" in login(world.assistant).get(f"/cases/{world.case_a.id}").get_data(as_text=True)


def test_grant_expires(app, world, login):
    from datetime import timedelta

    from portal import clock
    outsider = login(world.practice_b)
    outsider.post_form(f"/cases/{world.case_a.id}/break-glass",
                       {"reason": "Student reported missing; police asked for contacts"})
    assert outsider.get(f"/cases/{world.case_a.id}").status_code == 200
    clock.freeze(clock.now() + timedelta(hours=app.config["BREAK_GLASS_HOURS"], minutes=1))
    try:
        with outsider.session_transaction():
            pass
        # the session's idle timeout would also end it; refresh it so only the grant is tested
        with app.app_context():
            db.session.execute(text("UPDATE login_sessions SET last_seen_at = :t"), {"t": clock.now()})
            db.session.commit()
        assert outsider.get(f"/cases/{world.case_a.id}").status_code == 403
    finally:
        clock.freeze(None)


def test_teacher_and_admin_get_nothing(app, world, login):
    note_id = _note(app, world)
    for who in ("teacher", "admin", "worker_b"):
        c = login(getattr(world, who))
        for url in (f"/cases/{world.case_a.id}/notes", f"/cases/{world.case_a.id}/notes/{note_id}/history"):
            assert c.get(url).status_code == 403, (who, url)
        assert c.get(f"/cases/{world.case_a.id}/break-glass").status_code == 403


def test_case_page_with_many_notes_has_constant_queries(app, world, login, count_queries):
    _note(app, world, "one")
    c = login(world.worker)
    c.get(f"/cases/{world.case_a.id}")
    with count_queries() as small:
        c.get(f"/cases/{world.case_a.id}")
    with app.app_context():
        case, worker = db.session.get(Case, world.case_a.id), db.session.get(User, world.worker.id)
        for i in range(60):
            note = services.add_note(worker, case, f"note {i}")
            if i % 10 == 0:
                services.amend_note(worker, note, f"note {i} amended", "typo")
        db.session.commit()
    with count_queries() as large:
        html = c.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert "note 59" in html and "note 50 amended" in html
    assert len(large) == len(small), (len(small), len(large))


def test_teacher_who_reported_the_student_reads_no_note(app, world, login):
    """Reporting a concern gives a teacher the status of their report, never the case's notes."""
    from portal import clock
    from portal.concerns.services import file_concern, link_to_open_case
    note_id = _note(app, world, "What the student disclosed")
    with app.test_request_context():
        concern, _ = file_concern(db.session.get(User, world.teacher.id), student_id=world.student_a.id,
                                  categories=["family"], urgency="week", observed_at=clock.now(),
                                  description="Told me about home", token="tt")
        link_to_open_case(db.session.get(User, world.worker.id), concern)
        db.session.commit()
    t = login(world.teacher)
    for url in (f"/cases/{world.case_a.id}", f"/cases/{world.case_a.id}/notes",
                f"/cases/{world.case_a.id}/notes/{note_id}/history", f"/cases/{world.case_a.id}/access-log"):
        assert t.get(url).status_code == 403, url
    assert "What the student disclosed" not in t.get("/concerns/mine").get_data(as_text=True)
