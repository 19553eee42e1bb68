"""Each role's home dashboard: the worker's caseload and due items, the supervisor's line, the
district view for the top tier; figures against data built here; constant query counts."""
import re
from datetime import timedelta

import pytest

from portal import clock
from portal.extensions import db
from portal.i18n import local_today
from portal.models import Case, User


def _today(app):
    with app.test_request_context():
        return local_today()


def _text(html):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_worker_sees_their_caseload_against_the_limit_and_what_is_due(app, world, make, login):
    from portal.casework import services as work
    from portal.supervision import line, sessions
    for _ in range(2):
        make.case(make.student(world.a), world.worker, status="active")
    with app.test_request_context():
        worker, assistant = db.session.get(User, world.worker.id), db.session.get(User, world.assistant.id)
        line.save_policy(assistant, ratio={"supervisor": 1, "social_worker": 14}, caseload_limit=2,
                         shares={"social_worker": 100})
        case = db.session.get(Case, world.case_a.id)
        rec = work.add_service_record(worker, case, occurred_on=clock.now().date(), duration=30, kind="individual",
                                      participants="", summary="x", progress="")
        work.review_record(assistant, rec, "return", "More detail")
        s = sessions.record_session(assistant, kind="individual", held_on=local_today(), duration=30,
                                    attendee_ids=[worker.id], topics="Caseload")
        sessions.add_action(assistant, s, owner=worker, due_on=local_today() + timedelta(days=2), text="Read")
        db.session.commit()
    html = login(world.worker).get("/home").get_data(as_text=True)
    text = _text(html)
    assert "Your caseload" in text and "3 open cases · limit 2 for your tier" in text and "over the limit" in text
    assert "1 returned to you for revision" in text and "1 supervision actions this week" in text
    assert "Your line" not in text and "The district" not in text  # not a supervisor


@pytest.fixture
def line_data(app, world, make):
    """In the assistant's line: case A (low) plus a high-risk active case and a moderate one; a
    record decided 5 hours after it was submitted; an approved plan overdue for review; a crisis."""
    from portal.casework import services as work
    from portal.crisis import services as crisis
    high = make.case(make.student(world.a), world.worker, risk="high", status="active")
    make.case(make.student(world.a), world.peer, risk="moderate", status="assessment")
    with app.test_request_context():
        worker, assistant = db.session.get(User, world.worker.id), db.session.get(User, world.assistant.id)
        case = db.session.get(Case, high.id)
        start = clock.now() - timedelta(days=3)
        try:
            clock.freeze(start)
            rec = work.add_service_record(worker, case, occurred_on=start.date(), duration=30, kind="individual",
                                          participants="", summary="x", progress="")
            clock.freeze(start + timedelta(hours=5))
            work.review_record(assistant, rec, "accept", "")
            clock.freeze(start - timedelta(days=30))
            plan = work.submit_plan(worker, case, goals=[{"goal": "Attend", "target": (start - timedelta(days=10)).date(), "measure": "register"}],
                                    interventions=[{"what": "Check-in", "who": "me", "how_often": "weekly"}],
                                    review_on=(start - timedelta(days=2)).date())
            work.decide_plan(assistant, plan, "approve", "")
            clock.freeze(start)
            crisis.start_crisis(worker, case.student, crisis_type="family_crisis", account="x", occurred_at=start)
        finally:
            clock.freeze(None)
        db.session.commit()
    return world


def test_the_supervisors_line_dashboard(app, line_data, login):
    world = line_data
    html = login(world.assistant).get("/home").get_data(as_text=True)
    text = _text(html)
    assert "Your line" in text and "Open cases in your line" in text
    table = re.search(r'<table class="figures report-table" id="table-status_risk">(.*?)</table>', html, re.S).group(1)
    rows = {m.group(1): re.findall(r'<td class="num[^"]*">([^<]*)</td>', m.group(2))
            for m in re.finditer(r'<th scope="row">([^<]+)</th>(.*?)</tr>', table, re.S)}
    # columns: high, moderate, low, all
    assert rows["Intake"] == ["0", "0", "1", "1"]          # case A
    assert rows["Active"] == ["1", "0", "0", "1"]
    assert rows["Assessment"] == ["0", "1", "0", "1"]
    assert rows["All"] == ["1", "1", "1", "3"]              # the line's own figures: nothing suppressed
    assert "<svg" in html
    assert "5.0 hours" in text                              # median time to a decision
    assert "1 case plan reviews past their date" in text
    assert "Crises this term" in text and "Family crisis" in text


def test_the_dashboard_is_scoped_to_the_viewers_line(app, line_data, login):
    world = line_data
    html = _text(login(world.assistant_b).get("/home").get_data(as_text=True))
    assert "1 case plan reviews past their date" not in html and "Family crisis" not in html
    assert "All 0 0 1 1" in html  # only case B, low risk, intake


def test_the_district_view_is_for_the_top_tier_with_small_counts_hidden(app, line_data, login):
    world = line_data
    assert "The district" not in login(world.supervisor).get("/home").get_data(as_text=True)
    html = login(world.mentor).get("/home").get_data(as_text=True)
    assert "The district" in html
    table = re.search(r'id="table-district">(.*?)</table>', html, re.S).group(1)
    eastlake = re.search(r"Eastlake Primary</th>(.*?)</tr>", table, re.S).group(1)
    cells = re.findall(r">([^<]*)</td>", eastlake)
    assert cells[0] == "&lt;5"   # 3 open cases at Eastlake: a school-level figure below 5


@pytest.mark.parametrize("who", ["worker", "assistant", "mentor"])
def test_home_dashboard_query_count_does_not_grow(app, world, make, login, count_queries, who):
    def grow(n):
        for _ in range(n):
            make.case(make.student(world.a), world.worker, risk="high", status="active")
            make.case(make.student(world.b), world.worker_b, status="closed")
    c = login(getattr(world, who))
    grow(2)
    c.get("/home")
    with count_queries() as small:
        assert c.get("/home").status_code == 200
    grow(10)
    with count_queries() as large:
        assert c.get("/home").status_code == 200
    assert len(large) == len(small), (len(small), len(large))


def test_line_page_query_count_does_not_grow(app, world, make, login, count_queries):
    c = login(world.supervisor)
    c.get("/supervision/line")
    with count_queries() as small:
        assert c.get("/supervision/line").status_code == 200
    for n in range(6):
        w = make.user("social_worker", (world.a,), world.assistant, username=f"extra{n}")
        make.case(make.student(world.a), w)
    with count_queries() as large:
        assert c.get("/supervision/line").status_code == 200
    assert len(large) == len(small)
