"""Reports: figures checked against data built here, scoped to what the viewer may see, counts
below 5 shown as "<5" in school-level figures, charts and CSV export."""
import csv
import io
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.i18n import local_today
from portal.models import AuditEvent, Case, Student, User


def _today(app):
    with app.test_request_context():
        return local_today()


def _at(day, hour=2):
    """A stored (UTC) time on a school day: 02:00 UTC is 10:00 in Shanghai."""
    return datetime.combine(day, time(hour))


def _concern(app, reporter, student, categories, urgency, when, handled_after=None, by=None):
    from portal.concerns import services
    with app.test_request_context():
        try:
            clock.freeze(when)
            c, _ = services.file_concern(db.session.get(User, reporter.id), student_id=student.id,
                                         categories=categories, urgency=urgency, observed_at=when,
                                         description="Seen in class", token=f"t-{student.id}-{when.isoformat()}-{urgency}")
            if handled_after is not None:
                clock.freeze(when + handled_after)
                services.no_further_action(db.session.get(User, by.id), c, "Handled by the class teacher")
            db.session.commit()
        finally:
            clock.freeze(None)


def _csv(resp):
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    raw = resp.get_data()
    assert raw.startswith("\ufeff".encode())  # a BOM, so spreadsheets read UTF-8
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def _row(rows, caption, label):
    """The row of `label` in the CSV table captioned `caption`."""
    start = next(i for i, r in enumerate(rows) if r == [caption])
    for r in rows[start + 2:]:
        if not r:
            break
        if r[0] == label:
            return r
    raise AssertionError(f"no row {label!r} under {caption!r}")


@pytest.fixture
def concerns_world(app, world, make):
    """School A: 7 bullying concerns and 2 about family, on one day 20 days ago; school B: 3 emotional."""
    day = _today(app) - timedelta(days=20)
    for i in range(7):
        _concern(app, world.teacher, make.student(world.a), ["bullying"], "week", _at(day) + timedelta(minutes=i))
    for i in range(2):
        _concern(app, world.teacher, make.student(world.a), ["family", "bullying"], "week",
                 _at(day) + timedelta(hours=1, minutes=i))
    for i in range(3):
        _concern(app, world.teacher_b, make.student(world.b), ["emotional"], "week", _at(day) + timedelta(minutes=i))
    return day


def test_concerns_by_school_month_and_category(app, world, login, concerns_world):
    day = concerns_world
    c = login(world.supervisor)  # both schools
    start = (day - timedelta(days=1)).isoformat()
    html = c.get(f"/reports/concerns?start={start}").get_data(as_text=True)
    assert "<svg" in html and 'role="img"' in html
    rows = _csv(c.get(f"/reports/concerns/export.csv?start={start}"))
    header = next(r for r in rows if r and r[0] == "Month")
    assert header == ["Month", "Eastlake Primary", "Westhill Middle", "All"]
    month = _row(rows, "Concerns by month", day.strftime("%b %Y"))
    # 3 at Westhill is below 5; so that it cannot be worked out from the month's total (12), the
    # Eastlake figure beside it is hidden too (the total may be printed elsewhere)
    assert month == [day.strftime("%b %Y"), "*", "<5", "12"]
    bullying = _row(rows, "Concerns by category", "Bullying")
    assert bullying[1] == "9"                       # a concern with two categories counts in both
    assert _row(rows, "Concerns by category", "Family situation")[1] == "<5"
    assert _row(rows, "Concerns by category", "Emotional wellbeing")[2] == "<5"
    assert _row(rows, "Concerns by category", "Attendance")[1:3] == ["0", "0"]


def test_concern_figures_are_scoped_to_what_the_viewer_may_see(app, world, login, concerns_world):
    start = (concerns_world - timedelta(days=1)).isoformat()
    rows = _csv(login(world.worker_b).get(f"/reports/concerns/export.csv?start={start}"))
    assert next(r for r in rows if r and r[0] == "Month") == ["Month", "Westhill Middle", "All"]
    assert "Eastlake Primary" not in str(rows)
    for who in (world.teacher, world.admin):
        assert login(who).get("/reports/concerns").status_code == 403
        assert login(who).get("/reports/concerns/export.csv").status_code == 403
    # the school filter stays within the viewer's schools
    rows = _csv(login(world.worker_b).get(f"/reports/concerns/export.csv?start={start}&school={world.a.id}"))
    assert "Eastlake Primary" not in str(rows)


def test_time_from_concern_to_first_action(app, world, make, login):
    day = _today(app) - timedelta(days=10)
    # six "today" concerns handled after 1, 2, 3, 4, 30 and 50 hours; three "routine" ones, one waiting
    for n, hours in enumerate((1, 2, 3, 4, 30, 50)):
        _concern(app, world.teacher, make.student(world.a), ["behaviour"], "today", _at(day) + timedelta(minutes=n),
                 handled_after=timedelta(hours=hours), by=world.worker)
    for n in range(2):
        _concern(app, world.teacher, make.student(world.a), ["attendance"], "routine", _at(day) + timedelta(minutes=n),
                 handled_after=timedelta(hours=5), by=world.worker)
    _concern(app, world.teacher, make.student(world.a), ["attendance"], "routine", _at(day))
    rows = _csv(login(world.practice).get(f"/reports/concern_response/export.csv?start={day.isoformat()}"))
    today = _row(rows, "By urgency", "Today")
    # concerns, handled, median hours (3.5 between 3 and 4), handled within a day (4 of 6), waiting
    assert today == ["Today", "6", "6", "3.5", "67%", "0"]
    routine = _row(rows, "By urgency", "Routine")
    assert routine == ["Routine", "<5", "<5", "—", "—", "<5"]  # one school: small figures hidden
    # one still waiting is hidden, so one of concerns and handled is too (9 - 8 = 1 otherwise)
    assert _row(rows, "By school", "Eastlake Primary")[1:3] == ["9", "*"]


def test_crises_by_type_and_response_time(app, world, make, login):
    from portal.alerts import services as alerts
    from portal.crisis import services as crisis
    day = _today(app) - timedelta(days=5)
    students = [make.student(world.a) for _ in range(6)]
    with app.test_request_context():
        worker = db.session.get(User, world.worker.id)
        assistant = db.session.get(User, world.assistant.id)
        try:
            for n, minutes in enumerate((4, 6, 8, 10, 30)):
                student = db.session.get(Student, students[n].id)
                clock.freeze(_at(day) + timedelta(hours=n))
                c = crisis.start_crisis(worker, student, crisis_type="bullying_violence", account="A fight",
                                        occurred_at=clock.now())
                clock.freeze(_at(day) + timedelta(hours=n, minutes=minutes))
                alerts.acknowledge(assistant, c.alert)
            clock.freeze(_at(day) + timedelta(hours=9))
            crisis.start_crisis(worker, db.session.get(Student, students[5].id),
                                crisis_type="suicide_self_harm", account="Said so", occurred_at=clock.now())
            db.session.commit()
        finally:
            clock.freeze(None)
    rows = _csv(login(world.assistant).get(f"/reports/crises/export.csv?start={day.isoformat()}"))
    bullying = _row(rows, "By type of crisis", "Serious bullying or violence")
    assert bullying[:4] == ["Serious bullying or violence", "5", "5", "8.0"]  # median of 4, 6, 8, 10, 30 minutes
    assert _row(rows, "By type of crisis", "Suicide or self-harm risk")[1] == "<5"
    # the worker of school B sees none of it
    rows_b = _csv(login(world.worker_b).get(f"/reports/crises/export.csv?start={day.isoformat()}"))
    assert not any(r and r[0] == "Serious bullying or violence" for r in rows_b)


def test_referrals_by_agency_and_outcome_and_a_formula_is_not_a_formula(app, world, make, login):
    from portal.models import Agency, Referral
    from portal.crypto import new_uid
    today = _today(app)
    cases = [make.case(make.student(world.a), world.worker) for _ in range(9)]
    with app.test_request_context():
        agency = Agency(name="=HYPERLINK(\"http://x\")", type="mental_health", active=True)
        other = Agency(name="Lakeside CAMHS", type="mental_health", active=True)
        db.session.add_all([agency, other])
        db.session.flush()
        sent = _at(today - timedelta(days=9))
        plan = [(other, "closed", "engaged_helped", 7)] * 4 + [(other, "closed", "did_not_engage", None)] * 2 + \
               [(other, "accepted", None, 14)] * 2 + [(agency, "sent", None, None)]
        for n, (ag, status, outcome, days) in enumerate(plan):
            case = db.session.get(Case, cases[n].id)
            r = Referral(uid=new_uid(), reference=f"F0000-{n:05d}", case=case, agency=ag,
                         author=db.session.get(User, world.worker.id), urgency="soon", info_items=["identity"],
                         status=status, outcome=outcome, sent_at=sent, created_at=sent, status_changed_at=sent,
                         first_appointment_on=(sent.date() + timedelta(days=days)) if days else None)
            db.session.add(r)
            r.reason = "Low mood"
        db.session.commit()
    rows = _csv(login(world.supervisor).get(f"/reports/referrals/export.csv?start={(today - timedelta(days=30)).isoformat()}"))
    camhs = _row(rows, "Outcome by agency", "Lakeside CAMHS")
    header = next(r for r in rows if r and r[0] == "Agency")
    assert dict(zip(header, camhs, strict=True))["Engaged and helped"] == "<5"
    # 8 sent to CAMHS would give away the 1 sent to the other agency (9 in all): hidden
    assert dict(zip(header, camhs, strict=True))["Sent"] == "*"
    assert dict(zip(header, _row(rows, "Outcome by agency", "Sent"), strict=True))["Sent"] == "9"
    assert any(r and r[0] == "'=HYPERLINK(\"http://x\")" for r in rows)  # escaped for spreadsheets
    timing = _row(rows, "Time to the first appointment", "Lakeside CAMHS")
    assert timing == ["Lakeside CAMHS", "6", "7.0"]


def test_case_outcomes(app, world, make, login):
    from portal.casework import services as work
    cases = [make.case(make.student(world.a), world.worker, status="active") for _ in range(6)]
    with app.test_request_context():
        worker, assistant = db.session.get(User, world.worker.id), db.session.get(User, world.assistant.id)
        for n in range(6):
            case = db.session.get(Case, cases[n].id)
            closure = work.request_closure(worker, case, reason="goals_met" if n < 5 else "moved_school",
                                           goals_met="all" if n < 5 else "none", summary="Done")
            work.decide_closure(assistant, closure, "approve", "")
        db.session.commit()
    rows = _csv(login(world.assistant).get("/reports/case_outcomes/export.csv"))
    # 5 closed with goals met and 1 who left the school (below 5): the 5 would give the 1 away
    # from the total of 6, so it is hidden; the total stays
    assert _row(rows, "Closed cases by reason and goals met", "Goals met")[1] == "*"
    assert _row(rows, "Closed cases by reason and goals met", "Student left the school")[3] == "<5"
    assert _row(rows, "Closed cases by reason and goals met", "Closed")[-1] == "6"
    assert _row(rows, "By school", "Eastlake Primary")[1] == "6"
    with app.app_context():
        ev = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "report.exported"))
        assert ev.details["report"] == "case_outcomes"


def test_a_bad_period_is_explained_beside_the_field(world, login):
    resp = login(world.worker).get("/reports/crises?start=2026-05-10&end=2026-05-01")
    assert resp.status_code == 422 and "comes after its start" in resp.get_data(as_text=True)
    assert login(world.worker).get("/reports/nonsense").status_code == 404


@pytest.mark.parametrize("key", ["concerns", "concern_response", "crises", "referrals", "case_outcomes"])
def test_report_query_count_does_not_grow(app, world, make, login, count_queries, key):
    def grow(n):
        day = _today(app) - timedelta(days=3)
        for i in range(n):
            student = make.student(world.a)
            _concern(app, world.teacher, student, ["bullying"], "week", _at(day) + timedelta(minutes=i),
                     handled_after=timedelta(hours=2), by=world.worker)
            make.case(student, world.worker, status="closed")
    c = login(world.supervisor)
    grow(2)
    c.get(f"/reports/{key}")
    with count_queries() as small:
        assert c.get(f"/reports/{key}").status_code == 200
    grow(8)
    with count_queries() as large:
        assert c.get(f"/reports/{key}").status_code == 200
    assert len(large) == len(small)


# -- security review: a hidden school count cannot be worked out by subtraction ---------------------------

def test_a_hidden_school_count_cannot_be_recovered_from_another_table(app, world, login, concerns_world):
    """School B's 3 concerns are hidden in 'By school'; with the district total printed in 'By
    urgency', school A's count must be hidden too, or B = total - A."""
    day = concerns_world
    rows = _csv(login(world.supervisor).get(
        f"/reports/concern_response/export.csv?start={(day - timedelta(days=1)).isoformat()}"))
    a, b = _row(rows, "By school", "Eastlake Primary"), _row(rows, "By school", "Westhill Middle")
    assert b[1] == "<5" and a[1] in ("*", "<5"), (a, b)


def test_still_waiting_cannot_be_recovered_as_concerns_minus_handled(app, world, make, login):
    day = _today(app) - timedelta(days=10)
    for i in range(9):
        _concern(app, world.teacher, make.student(world.a), ["bullying"], "week", _at(day) + timedelta(minutes=i),
                 handled_after=timedelta(hours=3) if i < 7 else None, by=world.worker)
    rows = _csv(login(world.worker).get(
        f"/reports/concern_response/export.csv?start={(day - timedelta(days=1)).isoformat()}"))
    a = _row(rows, "By school", "Eastlake Primary")
    assert a[5] == "<5" and "*" in (a[1], a[2]), a
