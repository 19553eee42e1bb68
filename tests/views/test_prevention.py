"""Prevention and education activities: recording, evaluation, materials, the term calendar and
the figures (checked against data built here), with their CSV."""
import csv
import io
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.models import ActivityMaterial, PreventionActivity, School, Student, User

TODAY = lambda: clock.now().date()  # noqa: E731


def _form(world, **kw):
    data = {"school_id": world.a.id, "title": "Stand up, speak out", "type": "assembly", "topic": "anti_bullying",
            "occurs_on": TODAY().isoformat(), "status": "held", "audience": ["students", "staff"],
            "grades": ["4", "5", "6"], "classes": "", "reached": "320", "materials": "Slides, a short film",
            "eval_question": "I know whom to tell if I am bullied", "notes": "Pupils asked for a follow-up"}
    for n, (before, after) in enumerate(((30, 5), (40, 10), (60, 40), (50, 80), (20, 65)), start=1):
        data[f"before_{n}"], data[f"after_{n}"] = str(before), str(after)
    data.update(kw)
    return data


def _new(app, client, world, **kw):
    resp = client.post_form("/activities/new", _form(world, **kw))
    assert resp.status_code == 303, resp.get_data(as_text=True)[:1500]
    with app.app_context():
        return db.session.scalar(select(PreventionActivity.id).order_by(PreventionActivity.id.desc()))


def test_worker_records_an_assembly_with_its_evaluation(app, world, login):
    aid = _new(app, login(world.worker), world)
    page = login(world.peer).get(f"/activities/{aid}").get_data(as_text=True)
    assert "Stand up, speak out" in page and "320" in page and "Anti-bullying" in page
    # before: 200 answers, mean (30+80+180+200+100)/200 = 2.95, 4-or-5: 70/200 = 35%
    # after:  200 answers, mean (5+20+120+320+325)/200 = 3.95, 4-or-5: 145/200 = 72%
    assert "2.9" in page or "3.0" in page
    assert ">35%<" in page and ">72%<" in page and "4.0" in page
    with app.app_context():
        a = db.session.get(PreventionActivity, aid)
        assert a.eval_before == [30, 40, 60, 50, 20] and a.audience == ["students", "staff"]
        assert a.grades == ["4", "5", "6"] and b"follow-up" not in a.notes_ct


def test_a_planned_activity_is_held_later(app, world, login):
    c = login(world.worker)
    next_week = (TODAY() + timedelta(days=7)).isoformat()
    aid = _new(app, c, world, status="planned", occurs_on=next_week, reached="", eval_question="",
               **{f"{w}_{n}": "" for w in ("before", "after") for n in range(1, 6)})
    assert "Your planned activities" in c.get("/my-day").get_data(as_text=True)
    with app.app_context():
        v = db.session.get(PreventionActivity, aid).version_id
    resp = c.post_form(f"/activities/{aid}/edit", _form(world, occurs_on=next_week, version=v))
    assert resp.status_code == 422 and "cannot have been held yet" in resp.get_data(as_text=True)
    resp = c.post_form(f"/activities/{aid}/edit", _form(world, version=v))
    assert resp.status_code == 303
    with app.app_context():
        assert db.session.get(PreventionActivity, aid).status == "held"
    stale = c.post_form(f"/activities/{aid}/edit", _form(world, version=v, title="Changed"))
    assert stale.status_code == 422 and "Someone else changed this activity" in stale.get_data(as_text=True)


@pytest.mark.parametrize("override,message", [
    ({"reached": ""}, "Give the number of people reached"),
    ({"audience": []}, "Tick who the activity is for."),
    ({"topic": "other", "topic_other": ""}, "This field is required."),
    ({"before_1": "400"}, "More answers than people reached."),
    ({"eval_question": ""}, "This field is required."),
    ({"status": "planned"}, "Record the number reached once the activity is held."),
    ({"title": ""}, "Give the activity a title."),
])
def test_bad_input_is_explained_and_kept(world, login, override, message):
    resp = login(world.worker).post_form("/activities/new", _form(world, **override))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and message in html
    assert "Slides, a short film" in html


def test_materials_are_encrypted_and_read_by_the_schools_workers(app, world, login, tmp_path):
    aid = _new(app, login(world.worker), world)
    pdf = b"%PDF-1.4 anti-bullying slides"
    c = login(world.worker)
    resp = c.post(f"/activities/{aid}/materials", data={"file": (io.BytesIO(pdf), "slides.pdf")},
                  headers={"X-CSRFToken": c.csrf()}, content_type="multipart/form-data")
    assert resp.status_code == 303
    bad = c.post(f"/activities/{aid}/materials", data={"file": (io.BytesIO(b"MZ\x90"), "x.exe")},
                 headers={"X-CSRFToken": c.csrf()}, content_type="multipart/form-data")
    assert bad.status_code == 422 and "Only PDF, PNG and JPEG" in bad.get_data(as_text=True)
    with app.app_context():
        m = db.session.scalars(select(ActivityMaterial)).one()
        import os
        with open(os.path.join(app.config.get("ATTACHMENT_DIR") or os.path.join(app.instance_path, "attachments"),
                               m.uid), "rb") as fh:
            stored = fh.read()
        assert b"anti-bullying" not in stored and b"slides.pdf" not in m.filename_ct
    got = login(world.peer).get(f"/activities/{aid}/materials/{m.id}")
    assert got.status_code == 200 and got.data == pdf and "attachment" in got.headers["Content-Disposition"]
    assert login(world.worker_b).get(f"/activities/{aid}/materials/{m.id}").status_code == 403
    assert login(world.peer).post_form(f"/activities/{aid}/materials", {}).status_code == 403, \
        "only the organiser and their line keep it"


# -- the figures, against data built here ---------------------------------------------------------------

def _activity(school, organiser, topic, occurs_on, status="held", reached=None, type="class_talk"):
    return PreventionActivity(uid=f"u{id(object())}{topic}{occurs_on}{reached}{status}"[:32], school_id=school.id,
                              organiser_id=organiser.id, type=type, topic=topic, title=f"{topic} talk",
                              occurs_on=occurs_on, status=status, audience=["students"], grades=[],
                              reached=reached if status == "held" else None)


@pytest.fixture
def term_data(app, world, make):
    """The autumn term 2026 (1 Sep 2026 - 14 Feb 2027, the default TERM_STARTS) in two schools,
    with activities and group sessions inside and outside it."""
    from portal.groups import services as groups
    w = world
    inside, before, after = date(2026, 10, 12), date(2026, 8, 20), date(2027, 2, 20)
    with app.app_context():
        rows = [
            _activity(w.a, w.worker, "anti_bullying", inside, reached=300, type="assembly"),
            _activity(w.a, w.worker, "anti_bullying", inside + timedelta(days=3), reached=28),
            _activity(w.a, w.peer, "online_safety", inside, reached=55),
            _activity(w.a, w.worker, "online_safety", inside, status="planned"),
            _activity(w.a, w.worker, "safety", inside, status="cancelled"),
            _activity(w.a, w.worker, "anti_bullying", before, reached=999),   # last term
            _activity(w.a, w.worker, "anti_bullying", after, reached=999),    # next term
            _activity(w.b, w.worker_b, "anti_bullying", inside, reached=120),
            _activity(w.b, w.worker_b, "law", inside, reached=40, type="parent_workshop"),
            _activity(w.b, w.worker_b, "law", inside + timedelta(days=30), status="planned"),
        ]
        for i, r in enumerate(rows):
            r.uid = f"act{i:029d}"
        db.session.add_all(rows)
        db.session.commit()
    extra = make.student(w.a, "Ma", "Li", number="EPS0099")
    try:
        with app.app_context(), app.test_request_context():
            worker = db.session.get(User, w.worker.id)
            school_a = db.session.get(School, w.a.id)
            clock.freeze(clock.now().replace(year=2026, month=9, day=1))
            g1 = groups.create_group(worker, school_a, name="Friends", kind="friendship", purpose="p",
                                     planned_sessions=6, starts_on=None, meets=None, facilitators=[worker])
            g2 = groups.create_group(worker, school_a, name="Calm", kind="anger", purpose="p",
                                     planned_sessions=6, starts_on=None, meets=None, facilitators=[worker])
            students = [db.session.get(Student, s.id) for s in (w.student_a, w.student_a2, extra)]
            groups.add_members(worker, g1, students[:2])
            groups.add_members(worker, g2, students[1:])
            clock.freeze(clock.now().replace(year=2026, month=10, day=20))
            m1 = {m.student_id: m.id for m in g1.members}
            m2 = {m.student_id: m.id for m in g2.members}
            # g1: two sessions; student_a present twice, student_a2 absent twice
            for _ in range(2):
                groups.record_session(worker, g1, occurred_on=inside, duration=45, topic="t", summary="s",
                                      marks={m1[w.student_a.id]: ("present", ""), m1[w.student_a2.id]: ("absent", "")})
            # g2: one session, student_a2 and extra present (student_a2 counted once across groups)
            groups.record_session(worker, g2, occurred_on=inside, duration=45, topic="t", summary="s",
                                  marks={m2[w.student_a2.id]: ("present", ""), m2[extra.id]: ("present", "")})
            db.session.commit()
    finally:
        clock.freeze(None)
    w.term = (date(2026, 9, 1), date(2027, 2, 14))
    return w


def test_figures_by_topic_and_school_match_the_data(app, term_data):
    from portal.prevention import services
    w = term_data
    with app.app_context(), app.test_request_context():
        f = services.figures(db.session.get(User, w.supervisor.id), *w.term)
        cell = lambda topic, school: next(t for t in f["topics"] if t["topic"] == topic)["cells"][school.id]  # noqa: E731
        assert cell("anti_bullying", w.a) == {"held": 2, "reached": 328, "planned": 0}
        assert cell("online_safety", w.a) == {"held": 1, "reached": 55, "planned": 1}
        assert cell("safety", w.a) == {"held": 0, "reached": 0, "planned": 0}, "cancelled counts nowhere"
        assert cell("anti_bullying", w.b) == {"held": 1, "reached": 120, "planned": 0}
        assert cell("law", w.b) == {"held": 1, "reached": 40, "planned": 1}
        assert f["by_school"][w.a.id] == {"held": 3, "reached": 383, "planned": 1}
        assert f["by_school"][w.b.id] == {"held": 2, "reached": 160, "planned": 1}
        assert f["total"] == {"held": 5, "reached": 543, "planned": 2}
        assert next(t for t in f["topics"] if t["topic"] == "anti_bullying")["total"]["reached"] == 448
        assert f["groups"][w.a.id] == {"groups": 2, "sessions": 3, "students": 3}
        assert f["groups"][w.b.id] == {"groups": 0, "sessions": 0, "students": 0}
        # scoped to the viewer's schools: school B's worker sees school B only
        fb = services.figures(db.session.get(User, w.worker_b.id), *w.term)
        assert [s.id for s in fb["schools"]] == [w.b.id] and fb["total"] == {"held": 2, "reached": 160, "planned": 1}
        # and the previous term holds the August assembly only
        prev = services.figures(db.session.get(User, w.supervisor.id), date(2026, 2, 15), date(2026, 8, 31))
        assert prev["total"] == {"held": 1, "reached": 999, "planned": 0} and prev["groups_total"]["sessions"] == 0


def test_the_calendar_page_and_its_csv(app, term_data, login):
    w = term_data
    c = login(w.supervisor)
    page = c.get("/activities?term=2026-11-01").get_data(as_text=True)
    assert "Term Sep 1, 2026 – Feb 14, 2027" in page
    assert "October 2026" in page and "November 2026" in page and "law talk" in page
    assert page.count("date passed: record the outcome") == 2
    resp = c.get("/activities/figures.csv?term=2026-11-01")
    assert resp.mimetype == "text/csv" and "attachment" in resp.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert rows[0] == ["Term", "School", "Topic", "Activities held", "People reached", "Activities planned",
                       "Group sessions held", "Students in groups"]
    body = {(r[1], r[2]): r[3:] for r in rows[1:]}
    assert body[("Eastlake Primary", "Anti-bullying")] == ["2", "328", "0", "", ""]
    # three students in groups at one school: a child could be singled out, so "<5" (and the
    # district's total hidden with it, or 3 comes back by subtraction)
    assert body[("Eastlake Primary", "All topics")] == ["3", "383", "1", "3", "<5"]
    assert body[("Westhill Middle", "Law education")] == ["1", "40", "1", "", ""]
    assert body[("All schools", "All topics")] == ["5", "543", "2", "3", "<5"]
    assert ("Eastlake Primary", "Safety") not in body
    cal = list(csv.reader(io.StringIO(c.get("/activities/figures.csv?term=2026-11-01&kind=calendar")
                                      .data.decode("utf-8-sig"))))
    assert len(cal) == 1 + 8 and {r[8] for r in cal[1:]} == {"Held", "Planned", "Cancelled"}
    # one school only
    one = c.get(f"/activities/figures.csv?term=2026-11-01&school={w.b.id}").data.decode("utf-8-sig")
    assert "Eastlake" not in one and "Westhill Middle" in one


def test_csv_cells_never_run_as_formulas(app, world, login):
    _new(app, login(world.worker), world, title="=HYPERLINK(\"http://x\")")
    cal = login(world.worker).get("/activities/figures.csv?kind=calendar").data.decode("utf-8-sig")
    assert "'=HYPERLINK" in cal


def test_calendar_query_count_does_not_grow(app, term_data, login, count_queries):
    w = term_data
    c = login(w.supervisor)
    with count_queries() as few:
        assert c.get("/activities?term=2026-11-01").status_code == 200
    with app.app_context():
        db.session.add_all([_activity(w.a, w.worker, "law", date(2026, 12, 1) + timedelta(days=i), reached=10)
                            for i in range(30)])
        for i, a in enumerate(db.session.new):
            a.uid = f"more{i:028d}"
        db.session.commit()
    with count_queries() as many:
        assert c.get("/activities?term=2026-11-01").status_code == 200
    assert len(many) == len(few), (len(few), len(many))


def test_terms_come_from_configuration(make_app):
    from portal.prevention import terms
    app = make_app(TERM_STARTS="01-05,04-20,09-01")
    with app.app_context():
        assert terms.term_of(date(2026, 3, 1)) == (date(2026, 1, 5), date(2026, 4, 19))
        assert terms.term_of(date(2026, 1, 2)) == (date(2025, 9, 1), date(2026, 1, 4))
        t = terms.term_of(date(2026, 12, 25))
        assert t == (date(2026, 9, 1), date(2027, 1, 4))
        assert terms.following(t) == (date(2027, 1, 5), date(2027, 4, 19))
        assert terms.previous(t) == (date(2026, 4, 20), date(2026, 8, 31))


def test_teachers_and_administrators_see_no_activity(world, login):
    for who in (world.teacher, world.admin):
        c = login(who)
        assert c.get("/activities").status_code == 403
        assert c.get("/activities/figures.csv").status_code == 403
        assert "/activities" not in c.get("/home").get_data(as_text=True)
        assert "/groups" not in c.get("/home").get_data(as_text=True)


def test_the_figures_are_a_report_with_the_small_number_rule(app, term_data, login):
    """The reports registry carries the prevention figures: the same numbers as the calendar, and
    group work (which counts children) follows the small-number rule."""
    import csv as _csv
    c = login(term_data.supervisor)
    assert "Prevention activities and group work" in c.get("/reports/").get_data(as_text=True)
    page = c.get("/reports/prevention?start=2026-09-01&end=2026-11-30")
    assert page.status_code == 200 and "<svg" in page.get_data(as_text=True)
    rows = list(_csv.reader(io.StringIO(c.get("/reports/prevention/export.csv?start=2026-09-01&end=2026-11-30")
                                         .data.decode("utf-8-sig"))))

    def row(caption, name):
        start = next(i for i, r in enumerate(rows) if r == [caption])
        return next(r for r in rows[start + 2:] if r and r[0] == name)
    assert row("Activities held, by topic", "Anti-bullying")[1:] == ["2", "1", "3"]
    assert row("People reached, by topic", "Anti-bullying")[1:] == ["328", "120", "448"]
    eastlake = row("Group work", "Eastlake Primary")
    assert eastlake[3] == "<5", "three students in groups at one school are not shown as a number"
    assert login(term_data.teacher).get("/reports/prevention").status_code == 403
