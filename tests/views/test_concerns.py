from datetime import timedelta

import pytest

from portal import clock
from portal.extensions import db
from portal.models import Alert, AlertRecipient, Case, Concern, Notification, TimelineEntry, User


def _form(world, **kw):
    now = clock.now() + timedelta(hours=8)  # the form is in the user's zone (Asia/Shanghai)
    data = {"student_id": world.student_a2.id, "categories": ["emotional"], "urgency": "routine",
            "observed_at": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "description": "Crying in class for the third day", "action_taken": "", "token": "tok-1"}
    data.update(kw)
    return data


def _file(client, world, **kw):
    return client.post_form("/concerns/new", _form(world, **kw))


def _on_duty(app, user):
    with app.app_context():
        db.session.get(User, user.id).on_duty = True
        db.session.commit()


def test_teacher_reports_and_gets_a_receipt(app, world, login):
    c = login(world.teacher)
    form = c.get("/concerns/new").get_data(as_text=True)
    assert 'name="token"' in form and "Hide screen" in form
    resp = _file(c, world)
    assert resp.status_code == 303
    receipt = c.get(resp.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        concern = db.session.query(Concern).one()
        assert b"third day" not in concern.description_ct
        assert db.session.query(Alert).count() == 0, "a routine concern raises no alert"
    assert concern.reference in receipt and "Do this now" not in receipt


def test_double_submit_makes_one_concern(app, world, login):
    c = login(world.teacher)
    first, second = _file(c, world), _file(c, world)
    assert first.headers["Location"] == second.headers["Location"]
    with app.app_context():
        assert db.session.query(Concern).count() == 1


@pytest.mark.parametrize("override,field_message", [
    ({"student_id": ""}, "Find the student"),
    ({"description": "  "}, "Describe what you noticed"),
    ({"description": "x" * 5001}, "under 5000"),
    ({"categories": []}, "Choose at least one"),
    ({"observed_at": "2099-01-01T10:00"}, "in the future"),
    ({"urgency": "soonish"}, "Not a valid choice"),
])
def test_bad_input_is_explained_and_kept(world, login, override, field_message):
    resp = _file(login(world.teacher), world, description="Kept text" if "description" not in override
                 else override["description"], **{k: v for k, v in override.items() if k != "description"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and field_message in html
    if "description" not in override:
        assert "Kept text" in html


def test_student_of_another_school_is_refused(world, login):
    resp = _file(login(world.teacher), world, student_id=world.student_b.id)
    assert resp.status_code == 422 and "Choose a student of your school" in resp.get_data(as_text=True)


def test_student_type_ahead_is_scoped(world, login):
    c = login(world.teacher)
    html = c.htmx_get("/concerns/student-options?q=EPS").get_data(as_text=True)
    assert 'name="student_id"' in html and "王小明" in html and "张伟" not in html
    html = c.htmx_get("/concerns/student-options?q=张").get_data(as_text=True)
    assert "No student of your school matches" in html
    # without JavaScript the search re-renders the form with the choices
    html = c.get("/concerns/new?q=EPS0001").get_data(as_text=True)
    assert 'value="%d"' % world.student_a.id in html


def test_immediate_danger_guides_the_teacher_and_alerts_exactly_the_right_people(app, world, login):
    _on_duty(app, world.worker)
    c = login(world.teacher)
    resp = _file(c, world, urgency="immediate")
    guidance = c.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Do this now" in guidance and "Stay with the student" in guidance
    assert world.worker.display_name in guidance and "110" in guidance
    with app.app_context():
        got = {r.user_id for r in db.session.query(AlertRecipient)}
    want = {world.worker.id, world.assistant.id, world.practice.id, world.supervisor.id, world.mentor.id}
    assert got == want, "the on-duty worker and their whole line; not the peer, not school B, not teachers"


@pytest.mark.parametrize("category", ["self_harm", "abuse"])
def test_sensitive_categories_alert_whatever_the_urgency(app, world, login, category):
    c = login(world.teacher)
    resp = _file(c, world, categories=[category], urgency="week")
    html = c.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Do this now" in html
    assert ("do not contact the family" in html) == (category == "abuse")
    with app.app_context():
        recipients = {r.user_id for r in db.session.query(AlertRecipient)}
    # nobody on duty: every case worker of school A and their line
    assert recipients == {world.worker.id, world.peer.id, world.assistant.id, world.practice.id,
                          world.supervisor.id, world.mentor.id}


def test_alert_banner_and_acknowledgement(app, world, login):
    _on_duty(app, world.worker)
    _file(login(world.teacher), world, urgency="immediate")
    w = login(world.worker)
    page = w.get("/cases/").get_data(as_text=True)
    assert "Urgent concern (Immediate danger) reported by" in page and "Acknowledge" in page
    assert "Nobody has acknowledged it yet." in page
    assert "Amy Chen" not in page.split('id="live"')[1].split("</div>")[0], "no student name in the banner"
    live = w.htmx_get("/live").get_data(as_text=True)
    assert live.lstrip().startswith('<div id="live"')
    assert 'id="triage-badge" class="nav-count" hx-swap-oob="true"' in live and ">1</span>" in live
    assert page.count('id="triage-badge"') == 1, "one badge in the navigation of a full page"
    with app.app_context():
        alert_id = db.session.query(Alert).one().id
    resp = w.post_form(f"/alerts/{alert_id}/acknowledge", htmx=True)
    assert resp.status_code == 200 and "Urgent concern" not in resp.get_data(as_text=True)
    assert login(world.peer).get(f"/alerts/{alert_id}").status_code == 403
    assert f"Acknowledged by {world.worker.display_name}" in login(world.assistant).get("/home").get_data(as_text=True)
    with app.app_context():
        rec = db.session.get(AlertRecipient, (alert_id, world.worker.id))
        assert rec.acknowledged_at is not None


def test_alert_email_carries_no_name_or_content(app, world, login, monkeypatch):
    sent = []

    class FakeSMTP:
        def __init__(self, *a, **kw):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

        def send_message(self, msg):
            # sent only after the report is committed: a second connection already sees it
            with app.app_context():
                from sqlalchemy import create_engine, text
                engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
                with engine.connect() as conn:
                    committed.append(conn.execute(text("SELECT COUNT(*) FROM concerns")).scalar())
                engine.dispose()
            sent.append(msg)
    committed = []
    monkeypatch.setattr("smtplib.SMTP", FakeSMTP)
    app.config["MAIL_SERVER"] = "mail.test"
    app.config["MAIL_ASYNC"] = False
    _on_duty(app, world.worker)
    with app.app_context():
        for u in db.session.query(User):
            u.email = f"{u.username}@school.test"
        db.session.commit()
    _file(login(world.teacher), world, urgency="immediate", description="She said she wants to die")
    assert {m["To"] for m in sent} == {"worker@school.test", "assistant@school.test", "practice@school.test",
                                        "supervisor@school.test", "mentor@school.test"}
    assert committed and all(n == 1 for n in committed)
    for m in sent:
        text = m.get_content() + m["Subject"]
        assert "Amy" not in text and "Chen" not in text and "die" not in text
        assert "/alerts/" in text


def test_teacher_cannot_triage_or_read_others(app, world, login, make):
    resp = _file(login(world.teacher), world)
    receipt_url = resp.headers["Location"]
    with app.app_context():
        concern_id = db.session.query(Concern).one().id
    other = make.user("teacher", (world.a,), username="teacher_x")
    oc = login(other)
    assert oc.get(receipt_url).status_code == 403
    assert oc.get(f"/concerns/{concern_id}").status_code == 403
    assert oc.get("/concerns/triage").status_code == 403
    assert "Crying" not in oc.get("/concerns/mine").get_data(as_text=True)
    assert login(world.teacher).post_form(f"/concerns/{concern_id}/no-action", {"na%d-reason" % concern_id: "x"}
                                          ).status_code == 403


def _concern(app, world, reporter=None, student=None, urgency="routine", categories=("emotional",),
             created=None, token=None):
    from portal.concerns.services import file_concern
    with app.test_request_context():
        if created:
            clock.freeze(created)
        try:
            c, _ = file_concern(db.session.get(User, (reporter or world.teacher).id),
                                student_id=(student or world.student_a2).id, categories=list(categories),
                                urgency=urgency, observed_at=clock.now() - timedelta(hours=2),
                                description=f"{urgency} concern", token=token or f"t{clock.now().timestamp()}-{urgency}")
        finally:
            clock.freeze(None)
        db.session.commit()
        return c.id


def test_queue_order_grouping_and_filters(app, world, login, make):
    now = clock.now()
    old = _concern(app, world, created=now - timedelta(days=3), token="a")
    urgent = _concern(app, world, student=world.student_a, urgency="today", created=now - timedelta(hours=1), token="b")
    again = _concern(app, world, created=now - timedelta(days=1), token="c")  # same student as `old`
    _concern(app, world, student=world.student_b, reporter=world.teacher_b, token="d")
    html = login(world.worker).get("/concerns/triage").get_data(as_text=True)
    assert html.index(f'id="concern-{urgent}"') < html.index(f'id="concern-{old}"')
    assert html.index(f'id="concern-{old}"') < html.index(f'id="concern-{again}"')
    assert "2 concerns about this student in 30 days" in html
    assert "张伟" not in html, "school B's concern is not in school A's queue"
    filtered = login(world.worker).get("/concerns/triage?category=bullying").get_data(as_text=True)
    assert "Nothing to triage" in filtered
    assert "3 concerns waiting" in html


def test_queue_query_count_is_constant(app, world, login, count_queries, make):
    c = login(world.worker)
    _concern(app, world, token="q0")
    c.get("/concerns/triage")
    with count_queries() as small:
        c.get("/concerns/triage")
    for i in range(8):
        s = make.student(world.a, "Qian", f"Q{i}")
        _concern(app, world, student=s, token=f"q{i + 1}", urgency="week")
    with count_queries() as large:
        assert c.get("/concerns/triage").status_code == 200
    assert len(large) == len(small), (len(small), len(large))


def test_open_case_from_a_concern(app, world, login):
    concern_id = _concern(app, world)
    w = login(world.worker)
    with app.app_context():
        version = db.session.get(Concern, concern_id).version_id
    resp = w.post_form(f"/concerns/{concern_id}/open-case",
                       {f"oc{concern_id}-worker": world.worker.id, f"oc{concern_id}-risk_level": "moderate",
                        f"oc{concern_id}-version": version}, htmx=True)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Now part of case" in html and "portal:toast" in resp.headers["HX-Trigger"]
    with app.app_context():
        concern = db.session.get(Concern, concern_id)
        case = concern.case
        entry = db.session.query(TimelineEntry).filter_by(case_id=case.id, kind="concern_linked").one()
        assert entry.occurred_at == concern.observed_at, "placed on the timeline when it was noticed"
        assert db.session.query(Notification).filter_by(user_id=world.teacher.id).count() == 1
        case_id = case.id
    page = w.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "routine concern" in page
    assert f"from {world.teacher.display_name} added to the case" in page, "credited to the reporter"
    mine = login(world.teacher).get("/concerns/mine").get_data(as_text=True)
    assert "Being handled" in mine and world.worker.display_name in mine
    assert "1 new notification" in mine


def _v(app, concern_id):
    with app.app_context():
        return db.session.get(Concern, concern_id).version_id


def test_link_to_the_open_case(app, world, login):
    concern_id = _concern(app, world, student=world.student_a)
    resp = login(world.worker).post_form(f"/concerns/{concern_id}/link",
                                         {f"lk{concern_id}-version": _v(app, concern_id)})
    assert resp.status_code == 303
    with app.app_context():
        assert db.session.get(Concern, concern_id).case_id == world.case_a.id


def test_no_further_action_needs_a_reason(app, world, login):
    concern_id = _concern(app, world)
    w = login(world.worker)
    resp = w.post_form(f"/concerns/{concern_id}/no-action",
                       {f"na{concern_id}-reason": "", f"na{concern_id}-version": _v(app, concern_id)}, htmx=True)
    assert resp.status_code == 422 and "A reason is required" in resp.headers["HX-Trigger"]
    resp = w.post_form(f"/concerns/{concern_id}/no-action",
                       {f"na{concern_id}-reason": "Known issue, already supported by the class teacher",
                        f"na{concern_id}-version": _v(app, concern_id)})
    assert resp.status_code == 303
    assert "Closed" in login(world.teacher).get("/concerns/mine").get_data(as_text=True)


def test_two_workers_triage_at_once(app, world, login):
    concern_id = _concern(app, world)
    a, b = login(world.worker), login(world.assistant)  # both drew the queue at this version
    version = _v(app, concern_id)
    ok = a.post_form(f"/concerns/{concern_id}/no-action",
                     {f"na{concern_id}-reason": "dealt with", f"na{concern_id}-version": version})
    assert ok.status_code == 303
    late = b.post_form(f"/concerns/{concern_id}/link", {f"lk{concern_id}-version": version}, htmx=True)
    assert late.status_code == 409
    assert "already triaged" in late.headers["HX-Trigger"]
    with app.app_context():
        assert db.session.get(Concern, concern_id).status == "no_action"


def test_reporter_sees_closed_when_the_case_closes(app, world, login):
    concern_id = _concern(app, world, student=world.student_a)
    login(world.worker).post_form(f"/concerns/{concern_id}/link", {f"lk{concern_id}-version": _v(app, concern_id)})
    with app.app_context():
        from portal.cases import services as cs
        case = db.session.get(Case, world.case_a.id)
        cs.close_case(db.session.get(User, world.worker.id), case)
        db.session.commit()
    mine = login(world.teacher).get("/concerns/mine").get_data(as_text=True)
    assert ">Closed<" in mine


def test_the_student_search_can_never_send_the_report_by_get(world, login):
    """Enter in the search box submits only the search form: the report's text never goes in a URL."""
    import re
    html = login(world.teacher).get("/concerns/new").get_data(as_text=True)
    assert '<form id="student-find" method="get"' in html
    assert re.search(r'<input type="search" id="concern-q"[^>]*form="student-find"', html)
    assert re.search(r'<button type="submit" form="student-find">', html)
    assert 'formmethod="get"' not in html
    report_form = html[html.index('<form method="post" action="/concerns/new"'):]
    assert 'name="description"' in report_form
    assert 'type="radio" name="urgency" value="routine" checked' not in html, "no urgency preselected"


@pytest.mark.parametrize("urgency,categories,risk", [
    ("immediate", ["emotional"], "high"), ("week", ["self_harm"], "high"),
    ("today", ["bullying"], "moderate"), ("routine", ["attendance"], "low")])
def test_a_case_from_a_concern_starts_at_a_fitting_risk(app, world, login, urgency, categories, risk):
    concern_id = _concern(app, world, urgency=urgency, categories=categories, token=f"r-{urgency}")
    html = login(world.worker).get("/concerns/triage").get_data(as_text=True)
    assert f'<option selected value="{risk}">' in html
    with app.app_context():
        from portal.concerns.services import open_case_from
        with app.test_request_context():
            case = open_case_from(db.session.get(User, world.worker.id), db.session.get(Concern, concern_id),
                                  worker=db.session.get(User, world.worker.id))
            assert case.risk_level == risk
