from datetime import timedelta

import pytest

from portal import clock
from portal.extensions import db
from portal.models import AuditEvent, CasePlan, Notification, ReviewEntry, ServiceRecord, User

TODAY = lambda: clock.now().date()  # noqa: E731


def _record_form(**kw):
    data = {"occurred_on": TODAY().isoformat(), "duration": "45", "kind": "individual",
            "participants": "Student, class teacher", "summary": "Talked about the fight at lunch",
            "progress": "Named two adults to go to"}
    data.update(kw)
    return data


def _new_record(app, world, login, **kw):
    resp = login(world.worker).post_form(f"/cases/{world.case_a.id}/records/new", _record_form(**kw))
    assert resp.status_code == 303, resp.get_data(as_text=True)[:500]
    with app.app_context():
        return db.session.query(ServiceRecord).order_by(ServiceRecord.id.desc()).first().id


def _version(app, model, ident):
    with app.app_context():
        return db.session.get(model, ident).version_id


def test_worker_writes_a_record_that_goes_to_review(app, world, login):
    rid = _new_record(app, world, login)
    page = login(world.worker).get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert "Awaiting review" in page and "Service record: Individual session, 45 minutes" in page
    with app.app_context():
        rec = db.session.get(ServiceRecord, rid)
        assert b"fight at lunch" not in rec.summary_ct
        assert [e.action for e in db.session.query(ReviewEntry)] == ["submitted"]


@pytest.mark.parametrize("override,message", [
    ({"summary": ""}, "Summarise what was done"),
    ({"duration": "0"}, "Between 1 and 600"),
    ({"occurred_on": "2099-01-01"}, "in the future"),
])
def test_record_bad_input(world, login, override, message):
    resp = login(world.worker).post_form(f"/cases/{world.case_a.id}/records/new", _record_form(**override))
    assert resp.status_code == 422 and message in resp.get_data(as_text=True)


def test_queue_shows_the_line_below_oldest_first(app, world, login):
    first = _new_record(app, world, login, summary="first record")
    second = _new_record(app, world, login, summary="second record")
    html = login(world.assistant).get("/review").get_data(as_text=True)
    assert html.index(f"review-records-{first}") < html.index(f"review-records-{second}")
    assert "Service records awaiting review" in html
    assert "first record" not in login(world.assistant_b).get("/review").get_data(as_text=True)
    assert "first record" in login(world.mentor).get("/review").get_data(as_text=True), "a higher tier too"
    assert login(world.worker).get("/review").status_code == 403


def test_return_with_comments_then_revise_then_accept(app, world, login):
    rid = _new_record(app, world, login)
    sup = login(world.assistant)
    resp = sup.post_form(f"/cases/{world.case_a.id}/records/{rid}/review",
                         {"decision": "return", "comment": "", "version": _version(app, ServiceRecord, rid),
                          "from": "queue"}, htmx=True)
    assert resp.status_code == 422, "returning needs a comment"
    resp = sup.post_form(f"/cases/{world.case_a.id}/records/{rid}/review",
                         {"decision": "return", "comment": "Say what you agreed next.",
                          "version": _version(app, ServiceRecord, rid), "from": "queue"}, htmx=True)
    assert resp.status_code == 200 and "Returned for revision" in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(Notification).filter_by(user_id=world.worker.id, kind="record_reviewed").count() == 1
    w = login(world.worker)
    page = w.get(f"/cases/{world.case_a.id}/records/{rid}").get_data(as_text=True)
    assert "Say what you agreed next." in page and "Revise and resubmit" in page
    resp = w.post_form(f"/cases/{world.case_a.id}/records/{rid}/revise",
                       _record_form(summary="Talked about the fight; agreed to meet on Friday",
                                    reply="Added the next step", version=_version(app, ServiceRecord, rid)))
    assert resp.status_code == 303
    resp = sup.post_form(f"/cases/{world.case_a.id}/records/{rid}/review",
                         {"decision": "accept", "comment": "", "version": _version(app, ServiceRecord, rid)})
    assert resp.status_code == 303
    with app.app_context():
        rec = db.session.get(ServiceRecord, rid)
        assert rec.status == "accepted" and rec.revision == 2 and "Friday" in rec.summary
        thread = [(e.action, e.author_id) for e in db.session.query(ReviewEntry).order_by(ReviewEntry.id)]
        assert thread == [("submitted", world.worker.id), ("returned", world.assistant.id),
                          ("revised", world.worker.id), ("accepted", world.assistant.id)]
        first = db.session.query(ReviewEntry).order_by(ReviewEntry.id).first()
        assert "fight at lunch" in first.snapshot, "the original text survives in the thread"
        assert db.session.query(AuditEvent).filter_by(action="record.accepted").count() == 1


def test_nobody_reviews_their_own_record_or_outside_their_line(app, world, login, make):
    rid_by_assistant = None
    with app.app_context():
        from portal.casework import services as work
        from portal.models import Case
        with app.test_request_context():
            rid_by_assistant = work.add_service_record(
                db.session.get(User, world.assistant.id), db.session.get(Case, world.case_a.id),
                occurred_on=TODAY(), duration=20, kind="phone", participants="", summary="call", progress="").id
        db.session.commit()
    v = _version(app, ServiceRecord, rid_by_assistant)
    own = login(world.assistant).post_form(f"/cases/{world.case_a.id}/records/{rid_by_assistant}/review",
                                           {"decision": "accept", "version": v})
    assert own.status_code == 403
    assert login(world.practice).post_form(f"/cases/{world.case_a.id}/records/{rid_by_assistant}/review",
                                           {"decision": "accept", "version": v}).status_code == 303
    rid = _new_record(app, world, login)
    assert login(world.assistant_b).post_form(f"/cases/{world.case_a.id}/records/{rid}/review",
                                              {"decision": "accept"}).status_code == 403


def test_two_supervisors_at_once(app, world, login):
    rid = _new_record(app, world, login)
    v = _version(app, ServiceRecord, rid)
    a = login(world.assistant).post_form(f"/cases/{world.case_a.id}/records/{rid}/review",
                                         {"decision": "accept", "version": v})
    b = login(world.practice).post_form(f"/cases/{world.case_a.id}/records/{rid}/review",
                                        {"decision": "return", "comment": "no", "version": v})
    assert a.status_code == 303 and b.status_code == 409
    assert "already handled" in b.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(ServiceRecord, rid).status == "accepted"
        assert db.session.query(ReviewEntry).filter(ReviewEntry.action.in_(["accepted", "returned"])).count() == 1


def _plan_form(**kw):
    data = {"goals-0-goal": "Come to school every day", "goals-0-target": (TODAY() + timedelta(days=60)).isoformat(),
            "goals-0-measure": "Attendance register", "interventions-0-what": "Weekly check-in",
            "interventions-0-who": "Social worker", "interventions-0-how_often": "Weekly",
            "review_on": (TODAY() + timedelta(days=30)).isoformat()}
    data.update(kw)
    return data


def test_plan_needs_approval_and_versions(app, world, login):
    w = login(world.worker)
    resp = w.post_form(f"/cases/{world.case_a.id}/plans/new", _plan_form(**{"goals-0-measure": ""}))
    assert resp.status_code == 422 and "a way to know it was met" in resp.get_data(as_text=True)
    assert w.post_form(f"/cases/{world.case_a.id}/plans/new", _plan_form()).status_code == 303
    again = w.post_form(f"/cases/{world.case_a.id}/plans/new", _plan_form())
    assert again.status_code == 422 and "already waiting for approval" in again.get_data(as_text=True)
    with app.app_context():
        plan = db.session.query(CasePlan).one()
    assert w.post_form(f"/cases/{world.case_a.id}/plans/{plan.id}/decide",
                       {"decision": "approve", "version": plan.version_id}).status_code == 403, "not their own"
    sup = login(world.supervisor)  # a higher tier may act too
    assert sup.post_form(f"/cases/{world.case_a.id}/plans/{plan.id}/decide",
                         {"decision": "approve", "version": plan.version_id}).status_code == 303
    page = w.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert "Come to school every day" in page and "Case plan version 1 approved" in page
    # a change is a new version that needs approval again; the old one stays in force until then
    assert w.post_form(f"/cases/{world.case_a.id}/plans/new",
                       _plan_form(**{"goals-0-goal": "Join one club"})).status_code == 303
    page = w.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert "Come to school every day" in page and "Awaiting review" in page
    with app.app_context():
        v2 = db.session.query(CasePlan).filter_by(number=2).one()
    login(world.assistant).post_form(f"/cases/{world.case_a.id}/plans/{v2.id}/decide",
                                     {"decision": "approve", "version": v2.version_id})
    with app.app_context():
        assert [p.status for p in db.session.query(CasePlan).order_by(CasePlan.number)] == ["superseded", "approved"]


def test_review_queue_query_count_is_constant(app, world, login, count_queries, make):
    _new_record(app, world, login)
    sup = login(world.mentor)
    sup.get("/review")
    with count_queries() as small:
        sup.get("/review")
    for i in range(6):
        s = make.student(world.a, "Lu", f"R{i}")
        case = make.case(s, world.worker)
        login(world.worker).post_form(f"/cases/{case.id}/records/new", _record_form())
    with count_queries() as large:
        assert sup.get("/review").status_code == 200
    assert len(large) == len(small), (len(small), len(large))


def _escalate(client, world, reason="The family refuses every contact; I need advice."):
    return client.post_form(f"/cases/{world.case_a.id}/escalate", {"reason": reason})


def test_escalation_up_the_line_and_take_over(app, world, login):
    from portal.models import Case, Escalation
    w = login(world.worker)
    assert _escalate(w, world, reason="").status_code == 422
    assert _escalate(w, world).status_code == 303
    again = _escalate(w, world)
    assert again.status_code == 303 and "already waiting" in w.get(again.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        esc = db.session.query(Escalation).one()
        assert esc.to_user_id == world.assistant.id and esc.level == 1
        assert db.session.get(Case, world.case_a.id).escalation_level == 1
    queue = login(world.assistant).get("/review?tab=escalations").get_data(as_text=True)
    assert "The family refuses every contact" in queue and "Escalated cases" in queue
    # the assistant sends it further up; the practice supervisor takes it over
    resp = login(world.assistant).post_form(f"/escalations/{esc.id}/respond",
                                            {"action": "forward", "response": "Beyond my experience",
                                             "version": esc.version_id})
    assert resp.status_code == 303
    with app.app_context():
        second = db.session.query(Escalation).filter_by(status="open").one()
        assert second.to_user_id == world.practice.id and second.level == 2
    resp = login(world.practice).post_form(f"/escalations/{second.id}/respond",
                                           {"action": "take_over", "response": "", "from": "queue",
                                            "version": second.version_id}, htmx=True)
    assert resp.status_code == 200 and "Taken over" in resp.get_data(as_text=True)
    with app.app_context():
        case = db.session.get(Case, world.case_a.id)
        assert case.worker_id == world.practice.id and case.escalation_level == 2
        assert world.worker.id in {m.user_id for m in case.members}, "the former worker stays on the team"
    page = login(world.worker).get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert "took the case over" in page and "Case escalated to" in page
    with app.app_context():
        assert db.session.query(Notification).filter_by(user_id=world.worker.id,
                                                        kind="escalation_answered").count() == 1


def test_advice_needs_words_and_only_the_line_answers(app, world, login):
    from portal.models import Escalation
    _escalate(login(world.worker), world)
    with app.app_context():
        esc = db.session.query(Escalation).one()
    assert login(world.assistant_b).post_form(f"/escalations/{esc.id}/respond",
                                              {"action": "advise", "response": "x"}).status_code == 403
    resp = login(world.assistant).post_form(f"/escalations/{esc.id}/respond",
                                            {"action": "advise", "response": "", "version": esc.version_id})
    assert resp.status_code == 303
    with app.app_context():
        assert db.session.get(Escalation, esc.id).status == "open"
    login(world.mentor).post_form(f"/escalations/{esc.id}/respond",  # a higher tier may answer too
                                  {"action": "advise", "response": "Try a home visit with a colleague",
                                   "version": esc.version_id})
    with app.app_context():
        assert db.session.get(Escalation, esc.id).status == "advised"
    assert "Try a home visit" in login(world.worker).get(f"/cases/{world.case_a.id}").get_data(as_text=True)


def test_closing_needs_approval_and_a_closed_case_can_reopen(app, world, login):
    from portal.models import Case, Closure
    w = login(world.worker)
    page = w.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert 'value="closed"' not in page, "no direct way to close"
    resp = w.post_form(f"/cases/{world.case_a.id}/closure", {"reason": "goals_met", "goals_met": "all", "summary": ""})
    assert resp.status_code == 422 and "Write the closing summary" in resp.get_data(as_text=True)
    assert w.post_form(f"/cases/{world.case_a.id}/closure",
                       {"reason": "goals_met", "goals_met": "partly",
                        "summary": "Attends daily; still anxious before tests"}).status_code == 303
    with app.app_context():
        closure = db.session.query(Closure).one()
        assert db.session.get(Case, world.case_a.id).status == "intake", "still open until approved"
    assert w.post_form(f"/closures/{closure.id}/decide", {"decision": "approve"}).status_code == 403
    queue = login(world.assistant).get("/review?tab=closures").get_data(as_text=True)
    assert "still anxious before tests" in queue
    resp = login(world.assistant).post_form(f"/closures/{closure.id}/decide",
                                            {"decision": "approve", "version": closure.version_id,
                                             "from": "queue"}, htmx=True)
    assert resp.status_code == 200 and "Approved" in resp.get_data(as_text=True)
    with app.app_context():
        case = db.session.get(Case, world.case_a.id)
        assert case.status == "closed" and case.closed_at is not None
        assert db.session.query(Notification).filter_by(user_id=world.worker.id, kind="closure_decided").count() == 1
    resp = w.post_form(f"/cases/{world.case_a.id}/reopen", {"reason": "", "version": 0})
    assert resp.status_code == 422
    with app.app_context():
        v = db.session.get(Case, world.case_a.id).version_id
    assert w.post_form(f"/cases/{world.case_a.id}/reopen",
                       {"reason": "New disclosure this week", "version": v}).status_code == 303
    page = w.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert "Case reopened" in page and "New disclosure this week" in page


AREAS = ("family", "school", "peers", "emotional", "behaviour", "health", "safety", "strengths")


def _assessment_form(**kw):
    data = {"assessed_on": TODAY().isoformat(), "overall_risk": "moderate"}
    data.update({f"rating_{a}": "2" for a in AREAS})
    data.update({"rating_family": "4", "narrative_family": "Parents separating; father left in May",
                 "rating_strengths": "1", "narrative_strengths": "Loves drawing; close to her aunt"})
    data.update(kw)
    return data


def test_assessment_sets_the_risk_and_keeps_narratives_encrypted(app, world, login):
    from portal.models import Assessment, Case
    w = login(world.worker)
    resp = w.post_form(f"/cases/{world.case_a.id}/assessments/new", _assessment_form(rating_peers=""))
    assert resp.status_code == 422 and "Rate this area." in resp.get_data(as_text=True)
    assert "Parents separating" in resp.get_data(as_text=True), "input kept"
    resp = w.post_form(f"/cases/{world.case_a.id}/assessments/new", _assessment_form())
    assert resp.status_code == 303
    page = w.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Parents separating" in page and "Serious concern" in page
    with app.app_context():
        a = db.session.query(Assessment).one()
        assert b"separating" not in a.narratives_ct and a.ratings["family"] == 4
        assert db.session.get(Case, world.case_a.id).risk_level == "moderate", "the case takes the assessed risk"
    case_page = w.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert "Assessment recorded (overall risk: Moderate)" in case_page
    assert login(world.teacher).get(resp.headers["Location"]).status_code == 403


def test_my_day(app, world, login, count_queries, make):
    from portal.casework import services as work
    from portal.models import Case
    w = login(world.worker)
    rid = _new_record(app, world, login)
    login(world.assistant).post_form(f"/cases/{world.case_a.id}/records/{rid}/review",
                                     {"decision": "return", "comment": "More detail",
                                      "version": _version(app, ServiceRecord, rid)})
    with app.app_context(), app.test_request_context():
        case = db.session.get(Case, world.case_a.id)
        plan = work.submit_plan(db.session.get(User, world.worker.id), case, review_on=TODAY() + timedelta(days=3),
                                goals=[{"goal": "g", "target": TODAY() + timedelta(days=9), "measure": "m"}],
                                interventions=[{"what": "w", "who": "x", "how_often": "y"}])
        work.decide_plan(db.session.get(User, world.assistant.id), plan, "approve", "")
        db.session.commit()
    html = w.get("/my-day").get_data(as_text=True)
    assert "Service record of" in html and "due " in html and world.student_a.given_name in html
    with count_queries() as small:
        w.get("/my-day")
    for i in range(5):
        s = make.student(world.a, "Ma", f"D{i}")
        c = make.case(s, world.worker, status="active")
        login(world.worker).post_form(f"/cases/{c.id}/records/new", _record_form())
    with count_queries() as large:
        assert w.get("/my-day").status_code == 200
    assert len(large) == len(small), (len(small), len(large))


def test_a_returned_plan_or_closure_is_answered_by_the_next_one(app, world, login):
    from portal.models import Closure
    w = login(world.worker)
    w.post_form(f"/cases/{world.case_a.id}/plans/new", _plan_form())
    with app.app_context():
        plan = db.session.query(CasePlan).one()
    login(world.assistant).post_form(f"/cases/{world.case_a.id}/plans/{plan.id}/decide",
                                     {"decision": "return", "comment": "Make the goal measurable",
                                      "version": plan.version_id})
    assert "Case plan, version 1" in w.get("/my-day").get_data(as_text=True)
    w.post_form(f"/cases/{world.case_a.id}/plans/new", _plan_form(**{"goals-0-goal": "Better goal"}))
    assert "Case plan, version 1" not in w.get("/my-day").get_data(as_text=True)
    w.post_form(f"/cases/{world.case_a.id}/closure", {"reason": "other", "goals_met": "none", "summary": "s"})
    with app.app_context():
        closure = db.session.query(Closure).one()
    login(world.assistant).post_form(f"/closures/{closure.id}/decide",
                                     {"decision": "return", "comment": "Not yet", "version": closure.version_id})
    assert "Closure request" in w.get("/my-day").get_data(as_text=True)
    w.post_form(f"/cases/{world.case_a.id}/closure", {"reason": "other", "goals_met": "none", "summary": "s2"})
    assert "Closure request" not in w.get("/my-day").get_data(as_text=True)
    with app.app_context():
        assert sorted(c.status for c in db.session.query(Closure)) == ["submitted", "superseded"]


def test_a_refused_decision_in_the_queue_keeps_the_card_and_what_was_typed(app, world, login):
    """A comment too long to keep: the item comes back in place with the text and the reason, not
    as a dead end."""
    rid = _new_record(app, world, login)
    long = "Bitte " * 2000
    resp = login(world.assistant).post_form(
        f"/cases/{world.case_a.id}/records/{rid}/review",
        {"decision": "return", "comment": long, "version": _version(app, ServiceRecord, rid), "from": "queue"},
        htmx=True)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and long.strip() in html and 'aria-invalid="true"' in html
    assert f'id="review-records-{rid}"' in html and 'value="return"' in html and "<html" not in html
