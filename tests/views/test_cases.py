import re

import pytest

from portal.extensions import db
from portal.models import AuditEvent, Case, TimelineEntry


def _version(app, case_id):
    with app.app_context():
        return db.session.get(Case, case_id).version_id


def test_case_page_shows_the_case_and_timeline(world, login):
    html = login(world.worker).get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert world.case_a.reference in html and "王小明" in html
    assert "Case opened and assigned to" in html


def test_htmx_gets_a_fragment_and_everyone_else_a_page(world, login):
    c = login(world.worker)
    full = c.get(f"/cases/{world.case_a.id}")
    frag = c.htmx_get(f"/cases/{world.case_a.id}")
    assert "<html" in full.get_data(as_text=True)
    assert "<html" not in frag.get_data(as_text=True) and 'id="case"' in frag.get_data(as_text=True)
    assert "HX-Request" in full.headers["Vary"] and "HX-Request" in frag.headers["Vary"]
    boosted = c.get(f"/cases/{world.case_a.id}", headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert "<html" in boosted.get_data(as_text=True)


def test_open_a_case_from_the_student_page(app, world, login):
    c = login(world.worker)
    page = c.get(f"/students/{world.student_a2.id}").get_data(as_text=True)
    assert f"/cases/open/{world.student_a2.id}" in page
    resp = c.post_form(f"/cases/open/{world.student_a2.id}", {"worker": world.worker.id, "risk_level": "moderate"})
    assert resp.status_code == 303
    case_url = resp.headers["Location"]
    html = c.get(case_url).get_data(as_text=True)
    assert "opened" in html and "Moderate" in html


def test_open_case_refuses_a_second_open_case(world, login):
    resp = login(world.worker).post_form(f"/cases/open/{world.student_a.id}",
                                         {"worker": world.worker.id, "risk_level": "low"})
    assert resp.status_code == 422 and "already has an open case" in resp.get_data(as_text=True)


def test_open_case_rejects_a_worker_from_another_school(world, login):
    resp = login(world.worker).post_form(f"/cases/open/{world.student_a2.id}",
                                         {"worker": world.worker_b.id, "risk_level": "low"})
    assert resp.status_code == 422 and "Not a valid choice" in resp.get_data(as_text=True)


def test_status_change_by_htmx(app, world, login):
    c = login(world.worker)
    v = _version(app, world.case_a.id)
    resp = c.post_form(f"/cases/{world.case_a.id}/status", {"st-status": "assessment", "st-version": v}, htmx=True)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and 'id="case"' in html and "<html" not in html
    assert "Status changed from Intake to Assessment" in html
    assert "portal:toast" in resp.headers["HX-Trigger"]
    with app.app_context():
        assert db.session.get(Case, world.case_a.id).status == "assessment"
        assert db.session.query(AuditEvent).filter_by(action="case.status_changed").count() == 1


def test_status_change_without_javascript_redirects(world, login, app):
    c = login(world.worker)
    resp = c.post_form(f"/cases/{world.case_a.id}/status",
                       {"st-status": "assessment", "st-version": _version(app, world.case_a.id)})
    assert resp.status_code == 303 and resp.headers["Location"] == f"/cases/{world.case_a.id}"
    assert "Status updated." in c.get(resp.headers["Location"]).get_data(as_text=True)


def test_illegal_status_is_refused(app, world, login):
    resp = login(world.worker).post_form(f"/cases/{world.case_a.id}/status",
                                         {"st-status": "active", "st-version": _version(app, world.case_a.id)},
                                         htmx=True)
    assert resp.status_code == 422 and "Not a valid choice" in resp.get_data(as_text=True)


def test_risk_change_without_reason_keeps_input(app, world, login):
    resp = login(world.worker).post_form(
        f"/cases/{world.case_a.id}/risk",
        {"rk-risk_level": "high", "rk-reason": "", "rk-version": _version(app, world.case_a.id)}, htmx=True)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "Say why the risk level changes." in html
    assert re.search(r'<option selected value="high">|<option value="high" selected>', html)


def test_risk_reason_is_shown_to_the_team(app, world, login):
    c = login(world.worker)
    resp = c.post_form(f"/cases/{world.case_a.id}/risk",
                       {"rk-risk_level": "high", "rk-reason": "Talked about hurting herself",
                        "rk-version": _version(app, world.case_a.id)})
    assert resp.status_code == 303
    assert "Talked about hurting herself" in login(world.assistant).get(f"/cases/{world.case_a.id}").get_data(as_text=True)


def test_concurrent_edit_is_not_silently_lost(app, world, login):
    """Two people open the case; the second to save is told and shown the latest version."""
    first, second = login(world.worker), login(world.assistant)
    v = _version(app, world.case_a.id)
    assert first.post_form(f"/cases/{world.case_a.id}/status",
                           {"st-status": "assessment", "st-version": v}).status_code == 303
    resp = second.post_form(f"/cases/{world.case_a.id}/risk",
                            {"rk-risk_level": "high", "rk-reason": "r", "rk-version": v}, htmx=True)
    assert resp.status_code == 409
    assert "changed this case while you were looking" in resp.get_data(as_text=True)
    with app.app_context():
        case = db.session.get(Case, world.case_a.id)
        assert case.status == "assessment" and case.risk_level == "low"


def test_team_management_and_reassignment(app, world, login):
    c = login(world.worker)
    resp = c.post_form(f"/cases/{world.case_a.id}/members",
                       {"mb-member": world.peer.id, "mb-version": _version(app, world.case_a.id)})
    assert resp.status_code == 303
    assert login(world.peer).get(f"/cases/{world.case_a.id}").status_code == 200
    resp = c.post_form(f"/cases/{world.case_a.id}/members/remove",
                       {"rm-user_id": world.peer.id, "rm-version": _version(app, world.case_a.id)})
    assert resp.status_code == 303
    assert login(world.peer).get(f"/cases/{world.case_a.id}").status_code == 403
    sup = login(world.assistant)
    resp = sup.post_form(f"/cases/{world.case_a.id}/assign",
                         {"as-worker": world.peer.id, "as-version": _version(app, world.case_a.id)})
    assert resp.status_code == 303
    assert login(world.peer).get(f"/cases/{world.case_a.id}").status_code == 200
    assert login(world.worker).get(f"/cases/{world.case_a.id}").status_code == 403


def test_case_list_is_scoped(world, login):
    html = login(world.worker).get("/cases/").get_data(as_text=True)
    assert world.case_a.reference in html and world.case_b.reference not in html
    html = login(world.supervisor).get("/cases/").get_data(as_text=True)
    assert world.case_a.reference in html and world.case_b.reference in html
    html = login(world.peer).get("/cases/").get_data(as_text=True)
    assert world.case_a.reference not in html


def test_case_list_filters(world, login, make):
    make.case(world.student_a2, world.worker, status="closed")
    c = login(world.worker)
    assert "No cases match" not in c.get("/cases/?status=intake").get_data(as_text=True)
    assert "No cases match" in c.get("/cases/?status=active").get_data(as_text=True)
    open_list = c.get("/cases/").get_data(as_text=True)
    all_list = c.get("/cases/?status=all").get_data(as_text=True)
    assert all_list.count("<tr>") == open_list.count("<tr>") + 1


def _grow(make, world, n):
    """n more students with a case each (in school A, worked by `worker`), with timeline entries."""
    for i in range(n):
        s = make.student(world.a, "Zhao", f"Kid{i}")
        make.case(s, world.worker, members=(world.peer,), status="active")


@pytest.mark.parametrize("url_of", [
    lambda w: "/cases/",
    lambda w: "/home",
    lambda w: f"/cases/{w.case_a.id}",
    lambda w: "/students/?q=Zhao",
])
def test_query_count_does_not_grow_with_data(world, make, login, count_queries, url_of):
    c = login(world.supervisor)
    _grow(make, world, 2)
    c.get(url_of(world))
    with count_queries() as small:
        assert c.get(url_of(world)).status_code == 200
    _grow(make, world, 12)
    with count_queries() as large:
        assert c.get(url_of(world)).status_code == 200
    assert len(large) == len(small), (len(small), len(large))


def test_case_page_query_count_with_a_long_timeline(app, world, make, login, count_queries):
    from portal.cases import services
    from portal.models import User
    c = login(world.worker)

    def add_reasons(rng):
        with app.app_context():
            case, worker = db.session.get(Case, world.case_a.id), db.session.get(User, world.worker.id)
            for i in rng:
                services.change_risk(worker, case, "high" if i % 2 == 0 else "low", f"reason {i}")
            db.session.commit()
    add_reasons(range(1))
    c.get(f"/cases/{world.case_a.id}")
    with count_queries() as small:
        c.get(f"/cases/{world.case_a.id}")
    add_reasons(range(1, 30))
    with app.app_context():
        assert db.session.query(TimelineEntry).count() > 30
    with count_queries() as large:
        html = c.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert "reason 29" in html and "Page 1 of 2" in html
    assert len(large) == len(small), __import__("collections").Counter(q[:70] for q in large) - __import__("collections").Counter(q[:70] for q in small)


def test_every_read_of_a_case_is_audited(app, world, login):
    from portal import audit
    login(world.assistant).get(f"/cases/{world.case_a.id}")
    login(world.worker).htmx_get(f"/cases/{world.case_a.id}/timeline?page=1")
    login(world.worker).get(f"/students/{world.student_a.id}")
    with app.app_context():
        reads = db.session.query(AuditEvent).filter(AuditEvent.action.in_(
            ["case.viewed", "student.viewed"])).order_by(AuditEvent.seq).all()
        assert [(e.action, e.actor_id) for e in reads] == [
            ("case.viewed", world.assistant.id), ("case.viewed", world.worker.id),
            ("student.viewed", world.worker.id)]
        assert audit.verify()[0]


def test_nobody_is_preselected_to_take_a_case_over(app, world, login):
    """One unconsidered click on Reassign must not hand the case to the first name in the list."""
    sup = login(world.assistant)
    page = sup.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    select = page[page.index('name="as-worker"'):]
    select = select[:select.index("</select>")]
    assert '<option selected value="">' in select and select.count("selected") == 1, "only the placeholder"
    resp = sup.post_form(f"/cases/{world.case_a.id}/assign", {"as-worker": "", "as-version": "1"})
    assert resp.status_code == 422
    from portal.extensions import db
    from portal.models import Case
    with app.app_context():
        assert db.session.get(Case, world.case_a.id).worker_id == world.worker.id


def test_a_refused_form_far_down_the_case_page_is_announced_at_the_top(app, world, login):
    """A consent without its end date: the page says so at the top and links to the form. (UX review.)"""
    resp = login(world.worker).post_form(f"/cases/{world.case_a.id}/consents", {"method": "signed_form"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    top = html.index("Not saved: a form below needs your attention.")
    assert top < html.index('id="referrals"') and 'href="#referrals"' in html
