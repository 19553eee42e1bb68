"""Growth plans (个人成长方案) and performance reviews (绩效考核)."""
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.i18n import local_today
from portal.models import AuditEvent, Case, GrowthPlan, GrowthProgress, Notification, PerformanceReview, User


def _today(app):
    with app.test_request_context():
        return local_today()


# -- growth plans ---------------------------------------------------------------------------------------

@pytest.fixture
def plan_id(app, world, login):
    today = _today(app)
    resp = login(world.assistant).post_form("/supervision/growth/new", {
        "supervisee": world.worker.id, "focus": "Working with families", "starts_on": today.isoformat(),
        "review_on": (today + timedelta(days=90)).isoformat(),
        "goals-0-goal": "Lead two parent sessions", "goals-0-measure": "Recorded as parent sessions",
        "goals-1-goal": "Write records within two days", "goals-1-measure": "Records on time",
        "goals-2-goal": "", "goals-2-measure": ""})
    assert resp.status_code == 303, resp.get_data(as_text=True)
    with app.app_context():
        return db.session.scalar(select(GrowthPlan)).id


def test_a_supervisor_sets_a_plan_and_both_record_progress(app, world, login, plan_id):
    with app.app_context():
        plan = db.session.get(GrowthPlan, plan_id)
        assert [g.goal for g in plan.goals] == ["Lead two parent sessions", "Write records within two days"]
        assert b"parent" not in plan.goals[0].goal_ct
        first_goal = plan.goals[0].id
        assert (world.worker.id, "growth_plan_set") in {(n.user_id, n.kind) for n in db.session.scalars(
            select(Notification))}
    worker, assistant = login(world.worker), login(world.assistant)
    assert worker.post_form(f"/supervision/growth/{plan_id}/progress",
                            {"goal": first_goal, "text": "Held the first parent session"}).status_code == 303
    assert assistant.post_form(f"/supervision/growth/{plan_id}/progress",
                               {"goal": "", "text": "Observed it: calm and clear"}).status_code == 303
    html = worker.get(f"/supervision/growth/{plan_id}").get_data(as_text=True)
    assert "Held the first parent session" in html and "Observed it: calm and clear" in html
    with app.app_context():
        assert db.session.query(GrowthProgress).count() == 2
    # peers and other lines see nothing of it
    assert login(world.peer).get(f"/supervision/growth/{plan_id}").status_code == 403
    assert login(world.assistant_b).get(f"/supervision/growth/{plan_id}").status_code == 403
    assert world.worker.display_name not in login(world.peer).get("/supervision/growth").get_data(as_text=True)


def test_one_plan_in_force_until_it_is_reviewed(app, world, login, plan_id):
    today = _today(app)
    again = {"supervisee": world.worker.id, "starts_on": today.isoformat(),
             "review_on": (today + timedelta(days=30)).isoformat(), "goals-0-goal": "Another"}
    resp = login(world.practice).post_form("/supervision/growth/new", again)
    assert resp.status_code == 422 and "already has a growth plan in force" in resp.get_data(as_text=True)
    # the supervisee cannot review their own plan; someone above them can
    assert login(world.worker).post_form(f"/supervision/growth/{plan_id}/review",
                                         {"review": "Great"}).status_code == 403
    with app.app_context():
        version = db.session.get(GrowthPlan, plan_id).version_id
    resp = login(world.assistant).post_form(f"/supervision/growth/{plan_id}/review",
                                            {"review": "Both goals met; next: group work", "version": version})
    assert resp.status_code == 303
    with app.app_context():
        plan = db.session.get(GrowthPlan, plan_id)
        assert plan.status == "reviewed" and plan.reviewed_by_id == world.assistant.id
    assert login(world.worker).post_form(f"/supervision/growth/{plan_id}/progress",
                                         {"text": "late"}).status_code == 403  # closed
    assert login(world.practice).post_form("/supervision/growth/new", again).status_code == 303


def test_growth_plan_review_due_shows_in_my_day(app, world, login):
    from portal.supervision import growth
    with app.test_request_context():
        growth.set_plan(db.session.get(User, world.assistant.id), db.session.get(User, world.worker.id),
                        focus="", starts_on=local_today() - timedelta(days=80),
                        review_on=local_today() + timedelta(days=3), goals=[{"goal": "Reflective practice"}])
        db.session.commit()
    for person in (world.worker, world.assistant):
        assert "Growth plan reviews" in login(person).get("/my-day").get_data(as_text=True)
    assert "Growth plan reviews" not in login(world.peer).get("/my-day").get_data(as_text=True)


def test_goal_status_by_the_line_above(app, world, login, plan_id):
    with app.app_context():
        goal = db.session.get(GrowthPlan, plan_id).goals[0]
        goal_id, version = goal.id, goal.version_id
    assert login(world.worker).post_form(f"/supervision/growth/goals/{goal_id}/status",
                                         {"status": "met", "version": version}).status_code == 403
    assert login(world.practice).post_form(f"/supervision/growth/goals/{goal_id}/status",
                                           {"status": "met", "version": version}).status_code == 303
    with app.app_context():
        assert db.session.get(GrowthPlan, plan_id).goals[0].status == "met"


# -- performance reviews ------------------------------------------------------------------------------------

def _at(day, hour=4):
    return datetime.combine(day, datetime.min.time()) + timedelta(hours=hour)


@pytest.fixture
def period_work(app, world, make):
    """In a 60-day period the worker writes 4 service records: 3 submitted the same day (one of them
    returned once), 1 submitted 6 days late. One approved plan's review fell in the period and was
    kept by a new version; another was not. A crisis 20 days before the end: two check-ins missed."""
    from portal.casework import services as work
    from portal.crisis import services as crisis
    today = _today(app)
    start = today - timedelta(days=60)
    second = make.case(make.student(world.a), world.worker, status="active")
    with app.test_request_context():
        worker, assistant = db.session.get(User, world.worker.id), db.session.get(User, world.assistant.id)
        case_a, case_2 = db.session.get(Case, world.case_a.id), db.session.get(Case, second.id)
        case_a.opened_at = _at(start - timedelta(days=10))
        case_2.opened_at = _at(start - timedelta(days=5))
        try:
            for n, (day, late) in enumerate([(5, 0), (10, 0), (20, 0), (30, 6)]):
                occurred = start + timedelta(days=day)
                clock.freeze(_at(occurred + timedelta(days=late)))
                rec = work.add_service_record(worker, case_a, occurred_on=occurred, duration=30, kind="individual",
                                              participants="", summary="Session", progress="")
                if n == 1:
                    work.review_record(assistant, rec, "return", "More detail")
            for case, keep in ((case_a, True), (case_2, False)):
                clock.freeze(_at(start + timedelta(days=2)))
                plan = work.submit_plan(worker, case, goals=[{"goal": "Attend", "target": start + timedelta(days=20),
                                                              "measure": "register"}],
                                        interventions=[{"what": "Check-in", "who": "worker", "how_often": "weekly"}],
                                        review_on=start + timedelta(days=20))
                work.decide_plan(assistant, plan, "approve", "")
                if keep:
                    clock.freeze(_at(start + timedelta(days=19)))
                    work.submit_plan(worker, case, goals=[{"goal": "Attend", "target": start + timedelta(days=50),
                                                           "measure": "register"}],
                                     interventions=[{"what": "Check-in", "who": "worker", "how_often": "weekly"}],
                                     review_on=start + timedelta(days=50))
            clock.freeze(_at(start + timedelta(days=40)))
            c = crisis.start_crisis(worker, case_2.student, crisis_type="family_crisis", account="Upset",
                                    occurred_at=clock.now())
            clock.freeze(c.follow_ups[1].due_at)
            crisis.record_follow_up(worker, c.follow_ups[1], "done", "Fine")  # the 72h check-in, on time
        finally:
            clock.freeze(None)
        db.session.commit()
    return start, today


def test_review_starts_from_the_portals_figures(app, world, login, period_work):
    start, end = period_work
    from portal.supervision import performance
    with app.test_request_context():
        f = performance.figures(db.session.get(User, world.worker.id), start, end)
    assert f["records_total"] == 4 and f["records_on_time"] == 3 and f["records_returned"] == 1
    assert f["plan_reviews_due"] == 2 and f["plan_reviews_kept"] == 1
    assert f["caseload_start"] == 2 and f["caseload_end"] == 2
    # the crisis's follow-ups: 24h missed, 72h held on time, 7d missed; 30d is not due yet
    assert f["follow_ups_due"] == 3 and f["follow_ups_missed"] == 2
    with app.test_request_context():
        peer = performance.figures(db.session.get(User, world.peer.id), start, end)
    assert peer["records_total"] == 0 and peer["caseload_end"] == 0


def test_the_review_cycle_draft_shared_commented(app, world, login, period_work):
    start, end = period_work
    assistant = login(world.assistant)
    resp = assistant.post_form("/supervision/reviews/new", {"supervisee": world.worker.id,
                                                           "period_start": start.isoformat(),
                                                           "period_end": end.isoformat()})
    assert resp.status_code == 303
    with app.app_context():
        r = db.session.scalar(select(PerformanceReview))
        rid, version = r.id, r.version_id
        assert r.figures["records_total"] == 4
    html = assistant.get(f"/supervision/reviews/{rid}").get_data(as_text=True)
    assert "Submitted within 3 days of the session" in html and "75%" in html
    # a draft is not the supervisee's to see
    assert login(world.worker).get(f"/supervision/reviews/{rid}").status_code == 403
    resp = assistant.post_form(f"/supervision/reviews/{rid}/assessment", {"assessment": "", "version": version,
                                                                          "action": "share"})
    assert resp.status_code == 422 and "before you share" in resp.get_data(as_text=True)
    resp = assistant.post_form(f"/supervision/reviews/{rid}/assessment", {
        "assessment": "Reliable records; plan reviews need attention", "version": version, "action": "share"})
    assert resp.status_code == 303
    worker = login(world.worker)
    html = worker.get(f"/supervision/reviews/{rid}").get_data(as_text=True)
    assert "Reliable records; plan reviews need attention" in html and "Your comments" in html
    assert login(world.peer).get(f"/supervision/reviews/{rid}").status_code == 403
    assert "Performance reviews waiting for your comments" in worker.get("/my-day").get_data(as_text=True)
    with app.app_context():
        version = db.session.get(PerformanceReview, rid).version_id
    assert worker.post_form(f"/supervision/reviews/{rid}/comments",
                            {"comments": "Agreed; the second plan slipped during the move", "version": version}
                            ).status_code == 303
    with app.app_context():
        r = db.session.get(PerformanceReview, rid)
        assert r.status == "acknowledged" and b"slipped" not in r.comments_ct
        assert {e.action for e in db.session.scalars(select(AuditEvent))} >= {
            "performance.started", "performance.shared", "performance.commented"}
    assert login(world.assistant).post_form(f"/supervision/reviews/{rid}/assessment",
                                            {"assessment": "changed"}).status_code == 403  # no longer a draft


def test_figures_are_kept_as_shared(app, world, login, period_work):
    start, end = period_work
    from portal.supervision import performance
    with app.test_request_context():
        r = performance.start_review(db.session.get(User, world.assistant.id), db.session.get(User, world.worker.id),
                                     start, end)
        performance.save_assessment(db.session.get(User, world.assistant.id), r, "Fine", share_now=True)
        db.session.commit()
        rid = r.id
        # a later record in the period does not rewrite the shared review
        from portal.casework import services as work
        work.add_service_record(db.session.get(User, world.worker.id), db.session.get(Case, world.case_a.id),
                                occurred_on=end - timedelta(days=1), duration=20, kind="phone", participants="", summary="x", progress="")
        db.session.commit()
        assert db.session.get(PerformanceReview, rid).figures["records_total"] == 4


def test_reviews_only_for_people_below(app, world, login):
    today = _today(app)
    resp = login(world.assistant_b).post_form("/supervision/reviews/new", {
        "supervisee": world.worker.id, "period_start": (today - timedelta(days=30)).isoformat(),
        "period_end": today.isoformat()})
    assert resp.status_code == 422
    with app.app_context():
        assert db.session.scalar(select(PerformanceReview)) is None
    assert login(world.worker).get("/supervision/reviews/new").status_code == 403
