"""Supervision sessions: individual and group, attendees from the supervisor's line, cases discussed
with notes readable under the case's own rules, and action items that show in My day."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.i18n import local_today
from portal.models import ActionItem, AuditEvent, Case, Notification, SessionCase, SupervisionSession, User


def _today(app):
    with app.test_request_context():
        return local_today()


def _form(app, **kw):
    today = _today(app)
    data = {"kind": "group", "held_on": today.isoformat(), "duration": "90", "topics": "Attendance and the new term",
            "decisions": "Weekly check-ins for high-risk cases", "actions-0-text": "", "actions-0-owner": "",
            "actions-0-due_on": "", "actions-1-text": "", "actions-1-owner": "", "actions-1-due_on": ""}
    data.update(kw)
    return data


@pytest.fixture
def group_session(app, world, login):
    today = _today(app)
    resp = login(world.assistant).post_form("/supervision/sessions/new", _form(
        app, attendees=[world.worker.id, world.peer.id], **{
            "actions-0-text": "Call the families of the three absent pupils", "actions-0-owner": world.worker.id,
            "actions-0-due_on": (today + timedelta(days=2)).isoformat()}))
    assert resp.status_code == 303, resp.get_data(as_text=True)
    with app.app_context():
        return db.session.scalar(select(SupervisionSession)).id


def test_a_group_session_with_an_action_that_shows_in_my_day(app, world, login, group_session):
    with app.app_context():
        s = db.session.get(SupervisionSession, group_session)
        assert s.kind == "group" and s.supervisor_id == world.assistant.id
        assert {u.id for u in s.attendees} == {world.worker.id, world.peer.id}
        assert b"Attendance" not in s.topics_ct  # encrypted at rest
        item = db.session.scalar(select(ActionItem))
        assert item.owner_id == world.worker.id and item.status == "open"
        told = {(n.user_id, n.kind) for n in db.session.scalars(select(Notification))}
        assert {(world.worker.id, "session_recorded"), (world.peer.id, "session_recorded"),
                (world.worker.id, "action_assigned")} <= told
        assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "session.recorded"))
    day = login(world.worker).get("/my-day").get_data(as_text=True)
    assert "Actions from supervision" in day and "Call the families of the three absent pupils" in day
    assert "Call the families" not in login(world.peer).get("/my-day").get_data(as_text=True)
    overview = login(world.worker).get("/supervision/").get_data(as_text=True)
    assert "Call the families of the three absent pupils" in overview and "Mark as done" in overview


def test_attendees_come_from_the_supervisors_own_line(app, world, login):
    c = login(world.assistant_b)
    resp = c.post_form("/supervision/sessions/new", _form(app, attendees=[world.worker.id, world.worker_b.id]))
    assert resp.status_code == 422  # the worker is not in assistant_b's line: not even offered
    with app.app_context():
        assert db.session.scalar(select(SupervisionSession)) is None
    c = login(world.assistant)
    resp = c.post_form("/supervision/sessions/new", _form(app, kind="individual",
                                                          attendees=[world.worker.id, world.peer.id]))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "exactly one supervisee" in html
    assert "Attendance and the new term" in html  # what was typed is kept
    resp = c.post_form("/supervision/sessions/new", _form(app, attendees=[world.worker.id]))
    assert resp.status_code == 422 and "at least two attendees" in resp.get_data(as_text=True)
    future = (_today(app) + timedelta(days=3)).isoformat()
    resp = c.post_form("/supervision/sessions/new", _form(app, kind="individual", attendees=[world.worker.id],
                                                          held_on=future))
    assert resp.status_code == 422 and "in the future" in resp.get_data(as_text=True)
    assert login(world.worker).get("/supervision/sessions/new").status_code == 403


def test_case_notes_are_readable_under_the_cases_own_rules(app, world, login, group_session):
    c = login(world.assistant)
    resp = c.post_form(f"/supervision/sessions/{group_session}/cases",
                       {"case": world.case_a.id, "notes": "Mother may move out; plan a joint visit"})
    assert resp.status_code == 303
    with app.app_context():
        sc = db.session.scalar(select(SessionCase))
        assert b"Mother may move out" not in sc.notes_ct
    # The worker (case A's team) and the line above read the notes; the peer attended but is not
    # on case A's team: they see that a case was discussed, not which or what.
    for person in (world.worker, world.assistant, world.practice, world.mentor):
        assert "Mother may move out" in login(person).get(f"/supervision/sessions/{group_session}").get_data(
            as_text=True), person.username
    peer_view = login(world.peer).get(f"/supervision/sessions/{group_session}").get_data(as_text=True)
    assert "Mother may move out" not in peer_view and world.case_a.reference not in peer_view
    assert "A case you are not on the team of" in peer_view
    assert login(world.worker_b).get(f"/supervision/sessions/{group_session}").status_code == 403
    # ... and on the case page, for the case's team
    case_page = login(world.worker).get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert "Discussed in supervision" in case_page and "Mother may move out" in case_page
    with app.app_context():
        ev = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "session.viewed")
                                .order_by(AuditEvent.seq)).all()
        assert any(e.details["cases_read"] == [world.case_a.id] for e in ev)
        assert any(e.details["cases_read"] == [] and e.actor_id == world.peer.id for e in ev)


def test_only_cases_of_the_attendees_can_be_discussed(app, world, make, login, group_session):
    resp = login(world.assistant).post_form(f"/supervision/sessions/{group_session}/cases",
                                            {"case": world.case_b.id, "notes": "x"})
    assert resp.status_code == 422 and "open case of one of the attendees" in resp.get_data(as_text=True)


def test_an_action_on_a_case_is_for_someone_who_can_read_the_case(app, world, login, group_session):
    c = login(world.assistant)
    c.post_form(f"/supervision/sessions/{group_session}/cases", {"case": world.case_a.id, "notes": ""})
    due = (_today(app) + timedelta(days=5)).isoformat()
    resp = c.post_form(f"/supervision/sessions/{group_session}/actions",
                       {"owner": world.peer.id, "due_on": due, "case": world.case_a.id, "text": "Visit the grandmother"})
    assert resp.status_code == 422 and "must be able to read that case" in resp.get_data(as_text=True)
    resp = c.post_form(f"/supervision/sessions/{group_session}/actions",
                       {"owner": world.worker.id, "due_on": due, "case": world.case_a.id, "text": "Visit the grandmother"})
    assert resp.status_code == 303
    peer_view = login(world.peer).get(f"/supervision/sessions/{group_session}").get_data(as_text=True)
    assert "Visit the grandmother" not in peer_view and "An action on a case you cannot read" in peer_view
    assert "Visit the grandmother" in login(world.worker).get("/my-day").get_data(as_text=True)
    past = (_today(app) - timedelta(days=1)).isoformat()
    resp = c.post_form(f"/supervision/sessions/{group_session}/actions",
                       {"owner": world.worker_b.id, "due_on": past, "text": "x"})
    assert resp.status_code == 422


def test_marking_an_action_done_in_place(app, world, login, group_session):
    with app.app_context():
        item = db.session.scalar(select(ActionItem))
        item_id, version = item.id, item.version_id
    assert login(world.peer).post_form(f"/supervision/actions/{item_id}/done",
                                       {"version": version}).status_code == 403
    resp = login(world.worker).post_form(f"/supervision/actions/{item_id}/done", {"version": version}, htmx=True)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and html.strip().startswith("<li") and "done" in html
    assert "Marked as done." in resp.headers["HX-Trigger"].encode().decode("unicode_escape")
    with app.app_context():
        assert db.session.get(ActionItem, item_id).status == "done"
    # already done: the rule refuses a second completion
    assert login(world.assistant).post_form(f"/supervision/actions/{item_id}/done",
                                            {"version": version}).status_code == 403


def test_a_stale_edit_is_refused(app, world, login, group_session):
    c = login(world.assistant)
    form = _form(app, attendees=[world.worker.id, world.peer.id], topics="Edited", version="99")
    resp = c.post_form(f"/supervision/sessions/{group_session}/edit", form)
    assert resp.status_code == 422 and "Someone else changed this" in resp.get_data(as_text=True)
    with app.app_context():
        version = db.session.get(SupervisionSession, group_session).version_id
    # the worker owns an open action: they cannot be removed from the session
    resp = c.post_form(f"/supervision/sessions/{group_session}/edit",
                       _form(app, kind="individual", attendees=[world.peer.id], version=str(version)))
    assert resp.status_code == 422 and "owns an open action" in resp.get_data(as_text=True)
    resp = c.post_form(f"/supervision/sessions/{group_session}/edit",
                       _form(app, attendees=[world.worker.id, world.peer.id], topics="Edited", version=str(version)))
    assert resp.status_code == 303
    assert login(world.worker).get(f"/supervision/sessions/{group_session}/edit").status_code == 403


def test_sessions_list_query_count_does_not_grow(app, world, make, login, count_queries):
    from portal.supervision import sessions

    def add(n):
        with app.test_request_context():
            assistant = db.session.get(User, world.assistant.id)
            for _ in range(n):
                s = sessions.record_session(assistant, kind="group", held_on=local_today(), duration=60,
                                            attendee_ids=[world.worker.id, world.peer.id], topics="Weekly")
                sessions.add_action(assistant, s, owner=db.session.get(User, world.worker.id),
                                    due_on=local_today(), text="Something")
                sessions.add_case(assistant, s, db.session.get(Case, world.case_a.id), "notes")
            db.session.commit()
    c = login(world.practice)
    add(2)
    c.get("/supervision/sessions")
    with count_queries() as small:
        assert c.get("/supervision/sessions").status_code == 200
    add(10)
    with count_queries() as large:
        assert c.get("/supervision/sessions").status_code == 200
    assert len(large) == len(small)
    with count_queries() as small_day:
        login(world.worker).get("/my-day")
    add(5)
    with count_queries() as large_day:
        login(world.worker).get("/my-day")
    assert len(large_day) == len(small_day)


def test_my_day_drops_a_case_action_once_its_owner_leaves_the_case(app, world, login):
    """The action's text is the case's: it leaves My day with the case. (Security review.)"""
    from datetime import timedelta as _td

    from portal.cases import services as cases
    from portal.i18n import local_today
    from portal.models import Case, User
    from portal.supervision import sessions
    secret = "ACTION ask about the uncle who visits at night"
    with app.app_context(), app.test_request_context():
        case = db.session.get(Case, world.case_a.id)
        worker, peer = db.session.get(User, world.worker.id), db.session.get(User, world.peer.id)
        assistant = db.session.get(User, world.assistant.id)
        cases.add_member(worker, case, peer)
        s = sessions.record_session(assistant, kind="group", held_on=local_today(), duration=60,
                                    attendee_ids=[worker.id, peer.id], topics="Caseload")
        sessions.add_case(assistant, s, case, "discussed")
        sessions.add_action(assistant, s, owner=peer, due_on=local_today() + _td(days=1), text=secret, case=case)
        db.session.commit()
    c = login(world.peer)
    assert secret in c.get("/my-day").get_data(as_text=True)
    with app.app_context(), app.test_request_context():
        cases.remove_member(db.session.get(User, world.worker.id), db.session.get(Case, world.case_a.id), world.peer.id)
        db.session.commit()
    page = c.get("/my-day").get_data(as_text=True)
    assert secret not in page and "小明" not in page
