"""Regression tests for the findings of the security review (one test per finding)."""
from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from portal import clock
from portal.extensions import db
from portal.models import Alert, AlertRecipient, AuditEvent, Case, Notification, User


def _member_writes_restricted_note_then_leaves(app, world):
    from portal.cases import services as cs
    from portal.notes import services as ns
    with app.app_context():
        case = db.session.get(Case, world.case_a.id)
        worker, peer = db.session.get(User, world.worker.id), db.session.get(User, world.peer.id)
        cs.add_member(worker, case, peer)
        note = ns.add_note(peer, case, "Restricted words of the peer", restricted=True)
        cs.remove_member(worker, case, peer.id)
        db.session.commit()
        return note.id


def test_a_removed_member_loses_their_restricted_notes(app, world, login):
    note_id = _member_writes_restricted_note_then_leaves(app, world)
    peer = login(world.peer)
    base = f"/cases/{world.case_a.id}/notes/{note_id}"
    assert peer.get(f"{base}/amend").status_code == 403
    assert peer.post_form(f"{base}/amend", {"body": "x", "reason": "y", "version": 1}).status_code == 403
    assert peer.get(f"{base}/history").status_code == 403


def test_restricted_notes_follow_the_case_team_not_just_the_author(app, world, login, make):
    """The author's supervisor reads them only while the author's work is part of the case."""
    note_id = _member_writes_restricted_note_then_leaves(app, world)
    # the assistant supervises both worker and peer: still on the case through `worker`
    assert login(world.assistant).get(f"/cases/{world.case_a.id}/notes/{note_id}/history").status_code == 200
    outsider = make.user("assistant_supervisor", (world.a,), world.practice, username="assistant_other")
    with app.app_context():
        db.session.get(User, world.peer.id).supervisor_id = outsider.id
        db.session.commit()
    assert login(outsider).get(f"/cases/{world.case_a.id}/notes/{note_id}/history").status_code == 403


def test_mail_is_dropped_when_the_transaction_rolls_back(app, monkeypatch):
    from portal import mail
    sent = []
    monkeypatch.setattr(mail, "_send_all", lambda server, messages: sent.extend(messages))
    app.config.update(MAIL_SERVER="mail.test", MAIL_ASYNC=False)
    with app.app_context():
        mail.queue("a@school.test", "s", "b")
        db.session.rollback()
        db.session.commit()
        assert sent == []
        mail.queue("b@school.test", "s", "b")
        db.session.commit()
        assert [m["To"] for m in sent] == ["b@school.test"]


def test_moving_a_worker_with_open_cases_is_refused(app, world, login):
    c = login(world.admin)
    with app.app_context():
        version = db.session.get(User, world.worker.id).version_id
    resp = c.post_form(f"/admin/users/{world.worker.id}", {
        "display_name": "Worker", "role": "social_worker", "schools": [world.b.id],
        "supervisor": world.assistant_b.id, "version": version})
    assert resp.status_code == 422 and "reassign those cases" in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, world.worker.id).supervisor_id == world.assistant.id


def test_supervision_changes_are_told_to_the_line(app, world, login):
    c = login(world.admin)
    resp = c.post_form("/admin/users/new", {
        "username": "ghost", "display_name": "Ghost", "role": "supervisor_mentor", "schools": [world.a.id],
        "supervisor": 0, "password": "sturdy violet harbour 9"})
    assert resp.status_code == 303
    with app.app_context():
        told = {n.user_id for n in db.session.query(Notification).filter_by(kind="line_changed")}
    assert world.mentor.id in told, "the existing supervisor-mentors learn of a new one"
    assert "supervision line changed: Ghost" in login(world.mentor).get("/notifications").get_data(as_text=True)


def test_two_open_cases_for_one_student_are_impossible(app, world, monkeypatch):
    from portal.cases import services as cs
    with app.app_context():
        student = world.student_a
        db.session.add(Case(reference="dup", student_id=student.id, school_id=world.a.id,
                            worker_id=world.worker.id, opened_by_id=world.worker.id, status="intake"))
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()
        # the race: both requests passed the friendly check before either inserted
        real = db.session.scalar
        monkeypatch.setattr(db.session, "scalar", lambda *a, **kw: None)
        from portal.models import Student
        with pytest.raises(cs.CaseError) as exc:
            cs.open_case(db.session.get(User, world.worker.id), db.session.get(Student, student.id),
                         worker=db.session.get(User, world.worker.id))
        monkeypatch.setattr(db.session, "scalar", real)
        assert exc.value.code == "already_open"


def test_toasts_for_chinese_users_are_ascii_headers(app, world, login):
    with app.app_context():
        db.session.get(User, world.worker.id).locale = "zh"
        db.session.commit()
    resp = login(world.worker).post_form(f"/cases/{world.case_a.id}/notes", {"body": "记录"}, htmx=True)
    header = resp.headers["HX-Trigger"]
    assert resp.status_code == 200 and header.isascii() and "\\u" in header


def test_the_line_cannot_be_made_to_loop(app, world, login):
    c = login(world.admin)
    c.post_form(f"/admin/users/{world.peer.id}/deactivate")
    with app.app_context():
        assert not db.session.get(User, world.peer.id).active
        v = db.session.get(User, world.assistant.id).version_id
    # the assistant still supervises the (deactivated) peer: demoting them below the peer is refused
    resp = c.post_form(f"/admin/users/{world.assistant.id}", {
        "display_name": "A", "role": "social_worker", "schools": [world.a.id], "supervisor": world.practice.id,
        "version": v})
    assert resp.status_code == 422 and "at or below someone" in resp.get_data(as_text=True)


def test_acknowledge_does_not_redirect_off_site(app, world, login):
    from portal.concerns.services import file_concern
    with app.test_request_context():
        file_concern(db.session.get(User, world.teacher.id), student_id=world.student_a2.id,
                     categories=["abuse"], urgency="week", observed_at=clock.now(), description="x", token="z")
        db.session.commit()
        alert_id = db.session.query(Alert).one().id
    for target in ("//evil.example/phish", "https://evil.example"):
        resp = login(world.worker).post_form(f"/alerts/{alert_id}/acknowledge", {"next": target})
        assert resp.status_code == 303 and resp.headers["Location"] == "/home"


def test_break_glass_reason_of_spaces_and_the_line_is_alerted(app, world, login):
    outsider = login(world.practice_b)
    resp = outsider.post_form(f"/cases/{world.case_a.id}/break-glass", {"reason": " " * 19 + "x"})
    assert resp.status_code == 422
    outsider.post_form(f"/cases/{world.case_a.id}/break-glass",
                       {"reason": "Police are asking for the student's contacts right now"})
    with app.app_context():
        alert = db.session.query(Alert).filter_by(kind="break_glass").one()
        assert {r.user_id for r in db.session.query(AlertRecipient).filter_by(alert_id=alert.id)} == {
            world.assistant.id, world.practice.id, world.supervisor.id, world.mentor.id}
    assert "Emergency access to a case of your line" in login(world.assistant).get("/home").get_data(as_text=True)


def test_a_mistyped_username_is_not_recorded(app, world, client):
    import re
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"username": "MySecretPassw0rd!", "password": "x", "csrf_token": token})
    with app.app_context():
        ev = db.session.query(AuditEvent).filter_by(action="auth.login_failed").one()
        assert "MySecretPassw0rd" not in str(ev.details) and ev.details == {"unknown_account": True}


def test_sessions_end_after_their_maximum_age(app, world, login):
    c = login(world.worker)
    start = clock.now()
    try:
        t = start
        while t < start + app.config["PERMANENT_SESSION_LIFETIME"]:  # active all day long
            t += timedelta(minutes=20)
            clock.freeze(t)
            c.get("/home")
        clock.freeze(t + timedelta(minutes=1))
        assert c.get("/home").status_code == 303
    finally:
        clock.freeze(None)


def test_reading_notifications_is_a_post(app, world, login):
    with app.app_context():
        db.session.add(Notification(user_id=world.teacher.id, kind="concern_status", link="/concerns/mine",
                                    params={"ref": "R1", "status": "handling"}))
        db.session.commit()
    t = login(world.teacher)
    t.get("/notifications")
    with app.app_context():
        assert db.session.query(Notification).one().read_at is None
    assert t.post_form("/notifications/read").status_code == 303
    with app.app_context():
        assert db.session.query(Notification).one().read_at is not None
