"""The supervision line: the policy as data, ratio and caseload warnings, moving people, and
handing a person's work over in one step with nothing left orphaned."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.i18n import local_today
from portal.models import ActionItem, AuditEvent, Case, Escalation, HomeVisit, LinePolicy, Notification, User


def _tree(app, root_id, **policy):
    from portal.supervision import line
    with app.test_request_context():
        if policy:
            line.save_policy(db.session.get(User, root_id), **policy)
        nodes = line.tree(db.session.get(User, root_id))
        return {n.user.username: n for n in line.walk(nodes)}


def _full_line(make, school):
    """1 supervisor : 2 practice : 4 assistants : 14 workers, exactly the seed's ratio."""
    sup = make.user("supervisor", (school,), username="sup")
    people = {"sup": sup}
    workers = iter(range(14))
    for p in range(2):
        practice = make.user("practice_supervisor", (school,), sup, username=f"p{p}")
        for a in range(2):
            assistant = make.user("assistant_supervisor", (school,), practice, username=f"a{p}{a}")
            for _ in range(4 if a == 0 else 3):
                w = next(workers)
                people[f"w{w}"] = make.user("social_worker", (school,), assistant, username=f"w{w}")
    return people


SEED_RATIO = {"supervisor": 1, "practice_supervisor": 2, "assistant_supervisor": 4, "social_worker": 14,
              "supervisor_mentor": None}


def test_a_line_that_keeps_the_ratio_has_no_ratio_warning(app, make):
    school = make.school()
    people = _full_line(make, school)
    nodes = _tree(app, people["sup"].id, ratio=SEED_RATIO, caseload_limit=20, shares={"social_worker": 100})
    assert [w for n in nodes.values() for w in n.warnings] == []
    # 14 workers to 4 assistant supervisors is 3 or 4 each: both pass
    assert nodes["a00"].counts["social_worker"] == 4 and nodes["a01"].counts["social_worker"] == 3


def test_ratio_warnings_name_the_tier_the_count_and_the_range(app, make, login):
    school = make.school()
    people = _full_line(make, school)
    with app.app_context():
        for name in ("w0", "w1", "w2"):  # one assistant loses three of their four workers
            u = db.session.scalar(select(User).where(User.username == name))
            u.active = False
        db.session.commit()
    nodes = _tree(app, people["sup"].id, ratio=SEED_RATIO, caseload_limit=20, shares={})
    assert nodes["a00"].warnings == [{"kind": "ratio", "role": "social_worker", "actual": 1, "low": 3, "high": 4}]
    assert nodes["p0"].warnings == [{"kind": "ratio", "role": "social_worker", "actual": 4, "low": 7, "high": 7}]
    assert nodes["sup"].warnings == [{"kind": "ratio", "role": "social_worker", "actual": 11, "low": 14, "high": 14}]
    html = login(people["sup"]).get("/supervision/line").get_data(as_text=True)
    assert "Social worker: 1 in this line, where the policy&#39;s ratio expects 3–4" in html
    assert "Social worker: 11 in this line, where the policy&#39;s ratio expects 14" in html


def test_the_ratio_is_data_another_organisation_has_another(app, make):
    school = make.school()
    people = _full_line(make, school)
    # One organisation's rule: 1 supervisor to 7 assistant supervisors, no practice tier.
    nodes = _tree(app, people["sup"].id, ratio={"supervisor": 1, "assistant_supervisor": 7},
                  caseload_limit=20, shares={})
    assert nodes["sup"].warnings == [{"kind": "ratio", "role": "assistant_supervisor", "actual": 4, "low": 7,
                                      "high": 7}]
    assert nodes["p0"].warnings == []  # practice supervisors are not in this rule


def test_caseload_limits_come_from_the_policy_and_the_tier_share(app, world, make):
    for _ in range(3):
        make.case(make.student(world.a), world.worker)          # the worker: 4 open cases
    for _ in range(2):
        make.case(make.student(world.a), world.assistant)       # the assistant: 2
    nodes = _tree(app, world.supervisor.id, ratio={"supervisor": 1, "social_worker": 2}, caseload_limit=3,
                  shares={"social_worker": 100, "assistant_supervisor": 50})
    assert nodes["worker"].limit == 3 and nodes["assistant"].limit == 1
    assert {"kind": "caseload", "actual": 4, "limit": 3} in nodes["worker"].warnings
    assert {"kind": "caseload", "actual": 2, "limit": 1} in nodes["assistant"].warnings
    assert not any(w["kind"] == "caseload" for w in nodes["peer"].warnings)
    assert nodes["practice"].limit is None  # no share configured: no limit


def test_without_a_saved_policy_the_configured_defaults_apply(app, world, make):
    from portal.supervision import line
    for _ in range(21):
        make.case(make.student(world.a), world.worker)
    with app.test_request_context():
        policy = line.current_policy()
        assert policy.ratio == [("supervisor", 1), ("practice_supervisor", 2), ("assistant_supervisor", 4),
                                ("social_worker", 14)]
        assert policy.limit_for("social_worker") == 20 and policy.limit_for("assistant_supervisor") == 14
        nodes = {n.user.username: n for n in line.walk(line.tree(db.session.get(User, world.assistant.id)))}
    assert {"kind": "caseload", "actual": 22, "limit": 20} in nodes["worker"].warnings


def test_admin_and_top_tier_keep_the_policy_others_cannot(app, world, login):
    form = {"caseload_limit": "12", "ratio_supervisor": "1", "ratio_assistant_supervisor": "3",
            "ratio_social_worker": "9", "share_social_worker": "100", "share_assistant_supervisor": "70"}
    assert login(world.practice).post_form("/supervision/policy", form).status_code == 403
    assert login(world.worker).get("/supervision/policy").status_code == 403
    resp = login(world.admin).post_form("/supervision/policy", form)
    assert resp.status_code == 303
    with app.app_context():
        row = db.session.scalar(select(LinePolicy))
        assert row.ratio == [["supervisor", 1], ["assistant_supervisor", 3], ["social_worker", 9]]
        assert row.caseload_limit == 12 and row.load_shares == {"social_worker": 100, "assistant_supervisor": 70}
        assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "line.policy_saved"))
    html = login(world.supervisor).get("/supervision/line").get_data(as_text=True)
    assert "Assistant supervisor 8" in html  # 70% of 12
    bad = dict(form, ratio_social_worker="2")  # fewer workers than assistant supervisors
    resp = login(world.mentor).post_form("/supervision/policy", bad)
    assert resp.status_code == 422 and "cannot have fewer people" in resp.get_data(as_text=True)


def test_supervisors_see_their_own_line_with_figures(app, world, make, login):
    html = login(world.assistant).get("/supervision/line").get_data(as_text=True)
    assert world.worker.display_name in html and world.peer.display_name in html
    assert world.worker_b.display_name not in html and world.practice.display_name not in html
    assert "1 open case" in html
    admin_html = login(world.admin).get("/admin/line").get_data(as_text=True)
    assert world.worker_b.display_name in admin_html and "1 open case" in admin_html
    assert world.student_a.family_name + world.student_a.given_name not in admin_html  # counts, never cases


# -- moving ---------------------------------------------------------------------------------------------

def test_top_tier_moves_someone_within_their_line_after_a_handover(app, world, make, login):
    other = make.user("assistant_supervisor", (world.a,), world.practice, username="assistant2")
    sup = login(world.supervisor)
    assert login(world.practice).get(f"/supervision/line/{world.peer.id}/move").status_code == 403
    resp = sup.post_form(f"/supervision/line/{world.worker.id}/move", {"supervisor": other.id})
    assert resp.status_code == 422 and "Hand their work over first" in resp.get_data(as_text=True)
    resp = sup.post_form(f"/supervision/line/{world.peer.id}/move", {"supervisor": other.id})
    assert resp.status_code == 303
    with app.app_context():
        assert db.session.get(User, world.peer.id).supervisor_id == other.id
        kinds = {(n.user_id, n.kind) for n in db.session.scalars(select(Notification))}
        assert {(world.assistant.id, "line_changed"), (other.id, "line_changed"),
                (world.peer.id, "line_changed")} <= kinds
    outside = make.user("assistant_supervisor", (world.b,), world.practice_b, username="assistant_b2")
    resp = login(world.practice).post_form(f"/supervision/line/{world.peer.id}/move", {"supervisor": outside.id})
    assert resp.status_code == 403


def test_a_move_outside_the_movers_line_is_refused(app, world, make, login):
    stranger = make.user("supervisor", (world.a,), world.mentor, username="other_sup")
    resp = login(world.supervisor).post_form(f"/supervision/line/{world.peer.id}/move", {"supervisor": stranger.id})
    assert resp.status_code == 422
    with app.app_context():
        assert db.session.get(User, world.peer.id).supervisor_id == world.assistant.id


# -- handing over ---------------------------------------------------------------------------------------

@pytest.fixture
def busy_worker(app, world, make):
    """The worker holds case A and another case, is on the peer's case team, goes on a home visit,
    is the check-in colleague for the peer's visit, and owns a supervision action."""
    from portal.family import services as family
    from portal.supervision import sessions
    second = make.case(make.student(world.a), world.worker, risk="high")
    peers_case = make.case(make.student(world.a), world.peer, members=(world.worker,))
    with app.test_request_context():
        worker, peer = db.session.get(User, world.worker.id), db.session.get(User, world.peer.id)
        case_a, theirs = db.session.get(Case, world.case_a.id), db.session.get(Case, peers_case.id)
        when = clock.now() + timedelta(days=1)
        family.plan_visit(worker, case_a, visitor=worker, companion=None, checkin_contact=peer, planned_at=when,
                          expected_return_at=when + timedelta(hours=1), address="1 Lake Road", purpose="")
        family.plan_visit(peer, theirs, visitor=peer, companion=None, checkin_contact=worker, planned_at=when,
                          expected_return_at=when + timedelta(hours=1), address="2 Lake Road", purpose="")
        s = sessions.record_session(db.session.get(User, world.assistant.id), kind="individual",
                                    held_on=local_today(), duration=45, attendee_ids=[worker.id],
                                    topics="Caseload")
        sessions.add_action(db.session.get(User, world.assistant.id), s, owner=worker,
                            due_on=local_today() + timedelta(days=3), text="Read the attendance policy")
        db.session.commit()
    return {"second": second, "peers_case": peers_case}


def test_handover_leaves_nothing_orphaned(app, world, make, login, busy_worker):
    from portal.supervision import line
    new_worker = make.user("social_worker", (world.a,), world.assistant, username="newcomer")
    c = login(world.assistant)
    page = c.get(f"/supervision/line/{world.worker.id}/handover").get_data(as_text=True)
    assert world.case_a.reference in page and busy_worker["second"].reference in page
    resp = c.post_form(f"/supervision/line/{world.worker.id}/handover",
                       {"default_worker": world.peer.id, f"worker_{busy_worker['second'].id}": new_worker.id})
    assert resp.status_code == 303, resp.get_data(as_text=True)
    with app.test_request_context():
        worker = db.session.get(User, world.worker.id)
        assert line.orphans(worker) == {"cases": 0, "memberships": 0, "escalations": 0, "visits": 0, "actions": 0}
        assert db.session.get(Case, world.case_a.id).worker_id == world.peer.id
        assert db.session.get(Case, busy_worker["second"].id).worker_id == new_worker.id
        theirs = db.session.get(Case, busy_worker["peers_case"].id)
        assert theirs.worker_id == world.peer.id and world.worker.id not in {m.user_id for m in theirs.members}
        visits = {v.case_id: v for v in db.session.scalars(select(HomeVisit))}
        mine = visits[world.case_a.id]
        assert mine.visitor_id == world.peer.id and mine.checkin_contact_id == world.assistant.id
        # the peer's own visit: the check-in colleague cannot be the visitor, so the supervisor steps in
        assert visits[theirs.id].visitor_id == world.peer.id
        assert visits[theirs.id].checkin_contact_id == world.assistant.id
        action = db.session.scalar(select(ActionItem))
        assert action.owner_id == world.assistant.id  # not on a case: back to the session's supervisor
        told = {(n.user_id, n.kind) for n in db.session.scalars(select(Notification))}
        assert (world.peer.id, "handover_received") in told and (new_worker.id, "handover_received") in told
        assert (world.worker.id, "handover_line") in told
        ev = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "line.handed_over"))
        assert ev.details["counts"] == {"cases": 2, "memberships": 1, "escalations": 0, "visits": 2, "actions": 1}
    # Now the administrator may deactivate or move the person: nothing is left with them.
    resp = login(world.admin).post_form(f"/admin/users/{world.worker.id}/deactivate", {})
    assert resp.status_code == 303
    with app.app_context():
        assert db.session.get(User, world.worker.id).active is False


def test_handover_of_a_supervisor_sends_escalations_up(app, world, make, login):
    from portal.casework import services as work
    from portal.supervision import line
    with app.test_request_context():
        esc = work.escalate(db.session.get(User, world.worker.id), db.session.get(Case, world.case_a.id), "Advice")
        db.session.commit()
        esc_id = esc.id
    resp = login(world.practice).post_form(f"/supervision/line/{world.assistant.id}/handover", {})
    assert resp.status_code == 303
    with app.test_request_context():
        assert db.session.get(Escalation, esc_id).to_user_id == world.practice.id
        assert line.orphans(db.session.get(User, world.assistant.id))["escalations"] == 0


def test_handover_needs_a_worker_for_every_case_and_one_of_the_school(app, world, make, login):
    c = login(world.assistant)
    resp = c.post_form(f"/supervision/line/{world.worker.id}/handover", {})
    assert resp.status_code == 422 and "Choose who takes over each case" in resp.get_data(as_text=True)
    resp = c.post_form(f"/supervision/line/{world.worker.id}/handover", {"default_worker": world.worker_b.id})
    assert resp.status_code == 422
    with app.app_context():
        assert db.session.get(Case, world.case_a.id).worker_id == world.worker.id  # nothing half done
    assert login(world.peer).get(f"/supervision/line/{world.worker.id}/handover").status_code == 403
    assert login(world.assistant_b).get(f"/supervision/line/{world.worker.id}/handover").status_code == 403


def test_deactivation_is_refused_while_work_waits_on_the_person(app, world, make, login):
    from portal.supervision import sessions
    idle = make.user("social_worker", (world.a,), world.assistant, username="idle")
    with app.test_request_context():
        s = sessions.record_session(db.session.get(User, world.assistant.id), kind="individual",
                                    held_on=local_today(), duration=30, attendee_ids=[idle.id], topics="Intro")
        sessions.add_action(db.session.get(User, world.assistant.id), s, owner=db.session.get(User, idle.id),
                            due_on=local_today(), text="Shadow a home visit")
        db.session.commit()
    admin = login(world.admin)
    resp = admin.post_form(f"/admin/users/{idle.id}/deactivate", {})
    assert "supervision actions still wait on this person" in admin.get(resp.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, idle.id).active is True
    assert login(world.assistant).post_form(f"/supervision/line/{idle.id}/handover", {}).status_code == 303
    admin.post_form(f"/admin/users/{idle.id}/deactivate", {})
    with app.app_context():
        assert db.session.get(User, idle.id).active is False
