"""Family liaison: family members, contact restrictions (enforced at every entry point), the contact
log, parent sessions and home visits with check-in."""
from datetime import timedelta, timezone
from zoneinfo import ZoneInfo

import re

import pytest

from portal import clock
from portal.extensions import db
from portal.i18n import local_today
from portal.models import (Alert, AuditEvent, ContactRestriction, FamilyContact, Guardian, HomeVisit, Notification,
                           ServiceRecord, TimelineEntry)

NOW = lambda: clock.now().replace(microsecond=0)  # noqa: E731


def LOCAL(moment=None):  # noqa: N802
    """A datetime-local form value on the school's clock (Asia/Shanghai by default)."""
    return (moment or NOW()).replace(tzinfo=timezone.utc).astimezone(ZoneInfo("Asia/Shanghai")).strftime(
        "%Y-%m-%dT%H:%M")


@pytest.fixture
def frozen():
    clock.freeze(NOW())
    yield clock.freeze
    clock.freeze(None)


def _today(app):
    """Today on the school's clock (the app's time zone)."""
    with app.app_context():
        return local_today()


def _add_guardian(client, world, **kw):
    data = {"name": "Li Mei", "relationship": "mother", "legal_responsibility": "y", "lives_with_student": "y",
            "phone": "13800001111", "email": "mei@example.cn", "address": "3 Lake Road, flat 12",
            "contact_times": "after 7 pm"}
    data.update(kw)
    resp = client.post_form(f"/students/{world.student_a.id}/guardians/new", data)
    assert resp.status_code == 303, resp.get_data(as_text=True)[:500]
    return int(resp.headers["Location"].rsplit("/", 1)[1])


def _restrict(client, guardian_id, kinds=("no_contact",), basis="court_order", details="Order of 1 May 2026"):
    return client.post_form(f"/guardians/{guardian_id}/restrictions",
                            {"kinds": list(kinds), "basis": basis, "details": details})


@pytest.fixture
def family(app, world, login):
    """Mother (may be contacted) and father (court order: no contact) of student A."""
    w = login(world.worker)
    mother = _add_guardian(w, world)
    father = _add_guardian(w, world, name="Wang Gang", relationship="father", phone="13900002222", address="")
    assert _restrict(w, father).status_code == 303
    return {"mother": mother, "father": father}


def _contact(client, world, people, **kw):
    data = {"people": people, "occurred_at": LOCAL(), "method": "phone", "reached": "yes",
            "initiated_by": "school", "purpose": "update", "duration": "10",
            "summary": "Told her about the plan; she agreed to come on Friday"}
    data.update(kw)
    htmx = data.pop("htmx", False)
    return client.post_form(f"/cases/{world.case_a.id}/contacts", {f"contact-{k}": v for k, v in data.items()},
                            htmx=htmx)


# -- family members ------------------------------------------------------------------------------------

def test_contact_details_are_encrypted_at_rest(app, world, login):
    gid = _add_guardian(login(world.worker), world)
    with app.app_context():
        g = db.session.get(Guardian, gid)
        for col in (g.phone_ct, g.email_ct, g.address_ct):
            assert col and b"1380000" not in col and b"mei@" not in col and b"Lake" not in col
        assert g.address == "3 Lake Road, flat 12" and g.contact_times == "after 7 pm"
    page = login(world.worker).get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert "13800001111" in page and "after 7 pm" in page


def test_bad_guardian_input_keeps_what_was_typed(world, login):
    resp = login(world.worker).post_form(f"/students/{world.student_a.id}/guardians/new",
                                         {"name": "", "relationship": "aunt", "email": "not-an-email"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "Give the person's name." in html and 'value="aunt"' in html
    assert 'value="not-an-email"' in html


def test_concurrent_guardian_edits_do_not_overwrite(app, world, login, family):
    w = login(world.worker)
    with app.app_context():
        version = db.session.get(Guardian, family["mother"]).version_id
    data = {"name": "Li Mei", "relationship": "mother", "version": version}
    assert w.post_form(f"/guardians/{family['mother']}", {**data, "phone": "1"}).status_code == 303
    resp = w.post_form(f"/guardians/{family['mother']}", {**data, "phone": "2"})
    assert resp.status_code == 409 and "Someone else changed this" in resp.get_data(as_text=True)


# -- restrictions everywhere ---------------------------------------------------------------------------

def test_restriction_shows_wherever_the_student_appears(app, world, login, family):
    w = login(world.worker)
    for url in (f"/students/{world.student_a.id}", f"/cases/{world.case_a.id}",
                f"/cases/{world.case_a.id}/family", f"/cases/{world.case_a.id}/visits/new"):
        html = w.get(url).get_data(as_text=True)
        assert "Contact restriction: Wang Gang" in html and "No contact (Court order)" in html, url
    case_page = w.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert "13900002222" not in case_page, "a restricted person's number is withheld"
    with app.app_context():
        r = db.session.query(ContactRestriction).one()
        assert b"1 May" not in r.details_ct and db.session.get(Guardian, family["father"]).contact_restricted
        assert "restriction_added" in [e.kind for e in db.session.query(TimelineEntry)]


def test_restriction_needs_a_kind(world, login, family):
    resp = _restrict(login(world.worker), family["mother"], kinds=())
    assert resp.status_code == 422 and "Tick at least one restriction" in resp.get_data(as_text=True)


def test_logging_a_contact_with_a_restricted_person_is_refused(app, world, login, family):
    resp = _contact(login(world.worker), world, [family["father"]], summary="Called the father", htmx=True)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "Wang Gang must not be contacted" in html
    assert "Called the father" in html, "what was typed is kept"
    with app.app_context():
        assert db.session.query(FamilyContact).count() == 0


def test_a_supervisor_can_override_with_a_reason_audited(app, world, login, family):
    sup = login(world.assistant)
    resp = _contact(sup, world, [family["father"]])
    assert resp.status_code == 422 and "Give the reason for your override" in resp.get_data(as_text=True)
    resp = _contact(sup, world, [family["father"]], override_reason="Police asked us to pass on the court date")
    assert resp.status_code == 303
    with app.app_context():
        c = db.session.query(FamilyContact).one()
        assert c.override_by_id == world.assistant.id and b"Police" not in c.override_reason_ct
        assert db.session.query(AuditEvent).filter_by(action="restriction.overridden").count() == 1
    assert "restriction overridden by" in login(world.worker).get(f"/cases/{world.case_a.id}/family").get_data(
        as_text=True)


def test_crisis_guardian_step_respects_restrictions_and_the_supervisor_override(app, world, login, family):
    from portal.models import CrisisStep
    w = login(world.worker)
    resp = w.post_form(f"/students/{world.student_a.id}/crisis/new", {
        "crisis_type": "family_crisis", "occurred_at": LOCAL(), "account": "Mother in hospital"})
    crisis_id = int(resp.headers["Location"].rsplit("/", 1)[1])

    def notify(client, **extra):
        with app.app_context():
            version = db.session.query(CrisisStep).filter_by(crisis_id=crisis_id, code="guardian").one().version_id
        data = {"guardian-version": version, "action": "done", "guardian-occurred_at": LOCAL(),
                "guardian-guardian_id": family["father"], "guardian-method": "phone", "guardian-reached": "yes"}
        data.update({f"guardian-{k}": v for k, v in extra.items()})
        return client.post_form(f"/crisis/{crisis_id}/steps/guardian", data)
    resp = notify(w)
    assert resp.status_code == 422 and "must not be contacted" in resp.get_data(as_text=True)
    sup = login(world.assistant)
    assert notify(sup).status_code == 422
    assert notify(sup, override_reason="The only adult able to collect her today; order allows emergencies"
                  ).status_code == 303
    assert "restriction overridden" in w.get(f"/crisis/{crisis_id}").get_data(as_text=True)


def test_lifting_a_restriction_takes_a_supervisor_and_a_reason(app, world, login, family):
    with app.app_context():
        rid = db.session.query(ContactRestriction).one().id
    assert login(world.worker).post_form(f"/restrictions/{rid}/lift", {"reason": "x"}).status_code == 403
    sup = login(world.assistant)
    resp = sup.post_form(f"/restrictions/{rid}/lift", {f"lift{rid}-reason": ""})
    assert resp.status_code == 422 and "Say why the restriction is lifted" in resp.get_data(as_text=True)
    assert sup.post_form(f"/restrictions/{rid}/lift",
                         {f"lift{rid}-reason": "Order expired; court confirmed"}).status_code == 303
    with app.app_context():
        assert not db.session.get(Guardian, family["father"]).contact_restricted
    assert _contact(login(world.worker), world, [family["father"]]).status_code == 303


def test_restriction_document_is_an_encrypted_case_attachment(app, world, login, family):
    w = login(world.worker)
    from io import BytesIO
    resp = w.post_form(f"/guardians/{family['mother']}/restrictions", {
        "kinds": ["no_pickup"], "basis": "safeguarding", "details": "Not to collect from school",
        "document": (BytesIO(b"%PDF-1.4 order"), "order.pdf")}, content_type="multipart/form-data")
    assert resp.status_code == 303
    with app.app_context():
        r = db.session.query(ContactRestriction).filter_by(guardian_id=family["mother"]).one()
        assert r.attachment_id is not None
        assert not db.session.get(Guardian, family["mother"]).contact_restricted, "no pick-up alone allows contact"
    assert "No pick-up" in w.get(f"/students/{world.student_a.id}").get_data(as_text=True)


# -- the contact log ---------------------------------------------------------------------------------------

def test_log_a_contact_in_place_with_a_follow_up_in_my_day(app, world, login, family):
    w = login(world.worker)
    tomorrow = (_today(app) + timedelta(days=1)).isoformat()
    resp = _contact(w, world, [family["mother"]], follow_up_on=tomorrow, next_steps="Call back on Friday",
                    htmx=True)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and html.lstrip().startswith('<section id="family"') and "<html" not in html
    assert "Told her about the plan" in html and "Call back on Friday" in html
    with app.app_context():
        c = db.session.query(FamilyContact).one()
        assert b"Friday" not in c.summary_ct and b"Friday" not in c.next_steps_ct
        assert "family_contact" in [e.kind for e in db.session.query(TimelineEntry)]
    my_day = w.get("/my-day").get_data(as_text=True)
    assert "Family follow-ups" in my_day and "王小明" in my_day
    assert "Phone call with Li Mei" in w.get(f"/cases/{world.case_a.id}").get_data(as_text=True)


def test_an_attempt_is_recorded_as_not_reached(app, world, login, family):
    assert _contact(login(world.worker), world, [family["mother"]], reached="no",
                    summary="No answer; left a message").status_code == 303
    tab = login(world.worker).get(f"/cases/{world.case_a.id}/family").get_data(as_text=True)
    assert "not reached" in tab


@pytest.mark.parametrize("override,message", [
    ({"people": []}, "Tick who the contact was with"),
    ({"summary": ""}, "This field is required"),
    ({"occurred_at": "2099-01-01T10:00"}, "in the future"),
    ({"follow_up_on": "2000-01-01"}, "in the past"),
])
def test_contact_bad_input(world, login, family, override, message):
    override = dict(override)
    resp = _contact(login(world.worker), world, override.pop("people", [family["mother"]]), **override)
    assert resp.status_code == 422 and message in resp.get_data(as_text=True)


def test_family_tab_filters_and_pages_without_more_queries(app, world, login, family, count_queries):
    w = login(world.worker)
    _contact(w, world, [family["mother"]], method="letter", summary="Letter about attendance")
    _contact(w, world, [family["mother"]], method="video", summary="Video call about the plan")
    url = f"/cases/{world.case_a.id}/family"
    assert "Letter about attendance" not in w.get(f"{url}?method=video").get_data(as_text=True)
    assert "Video call" in w.get(f"{url}?method=video").get_data(as_text=True)
    w.get(url)
    with count_queries() as few:
        w.get(url)
    for i in range(6):
        _contact(w, world, [family["mother"]], summary=f"Call {i}", follow_up_on=_today(app).isoformat())
    with count_queries() as many:
        html = w.get(url).get_data(as_text=True)
    assert "Call 5" in html
    assert len(many) == len(few), (len(few), len(many))
    assert login(world.worker_b).get(url).status_code == 403


def test_parent_session_with_attendance_becomes_a_service_record(app, world, login, family, make):
    w = login(world.worker)
    grandma = _add_guardian(w, world, name="Zhao Lan", relationship="grandmother")
    resp = _contact(w, world, [family["mother"], grandma], method="parent_training", duration="90",
                    attended=[family["mother"]], as_service_record="y", summary="Positive parenting, session 2")
    assert resp.status_code == 303
    with app.app_context():
        c = db.session.query(FamilyContact).one()
        assert {p.guardian_id: p.attended for p in c.people} == {family["mother"]: True, grandma: False}
        rec = db.session.get(ServiceRecord, c.service_record_id)
        assert rec.kind == "family" and rec.status == "submitted" and rec.duration_minutes == 90


# -- home visits -----------------------------------------------------------------------------------------

def _plan(client, world, **kw):
    data = {"visitor": world.worker.id, "companion": "0", "checkin_contact": world.peer.id,
            "planned_at": LOCAL(), "expected_return_at": LOCAL(NOW() + timedelta(hours=2)),
            "address": "3 Lake Road, flat 12", "purpose": "Meet the mother at home"}
    data.update(kw)
    return client.post_form(f"/cases/{world.case_a.id}/visits/new", data)


def test_a_lone_visit_needs_a_check_in_colleague(world, login):
    resp = _plan(login(world.worker), world, checkin_contact="0")
    assert resp.status_code == 422 and "A lone visit needs a check-in colleague" in resp.get_data(as_text=True)
    assert _plan(login(world.worker), world, checkin_contact="0", companion=world.peer.id).status_code == 303


def test_overdue_visit_alerts_the_check_in_colleague_and_the_supervisor(app, world, login, frozen):
    from portal.alerts.services import sweep
    start = NOW()
    w = login(world.worker)
    resp = _plan(w, world)
    assert resp.status_code == 303
    visit_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    with app.app_context():
        v = db.session.get(HomeVisit, visit_id)
        assert b"Lake" not in v.address_ct
        assert db.session.query(Notification).filter_by(user_id=world.peer.id, kind="visit_checkin_contact").count() == 1
    assert login(world.peer).get(f"/visits/{visit_id}").status_code == 200, "the check-in colleague sees where"
    assert login(world.worker_b).get(f"/visits/{visit_id}").status_code == 403

    def run(minutes):
        frozen(start + timedelta(minutes=minutes))
        with app.app_context(), app.test_request_context():
            n = sweep()
            db.session.commit()
        return n
    assert run(120 + 29) == 0, "within the grace period"
    assert run(120 + 31) == 1
    with app.app_context():
        alert = db.session.query(Alert).filter_by(kind="visit_overdue").one()
        assert {r.user_id for r in alert.recipients} == {world.peer.id, world.assistant.id}
    run(120 + 31 + 11)  # nobody on the visitor's line has acknowledged: it climbs, like a crisis alert
    with app.app_context():
        alert = db.session.query(Alert).filter_by(kind="visit_overdue").one()  # still one alert
        assert {r.user_id for r in alert.recipients} == {world.peer.id, world.assistant.id, world.practice.id}
    sup = login(world.practice)
    assert sup.get(f"/visits/{visit_id}").status_code == 200, "whoever is alerted can open the visit"
    assert "Cancel the visit" not in sup.get(f"/visits/{visit_id}").get_data(as_text=True)
    with app.app_context():
        version = db.session.get(HomeVisit, visit_id).version_id
    w = login(world.worker)
    resp = w.post_form(f"/visits/{visit_id}/cancel", {"version": version})
    assert "only checking in" in w.get(resp.headers["Location"]).get_data(as_text=True)
    live = login(world.peer).htmx_get("/live").get_data(as_text=True)
    assert "has not checked in after a home visit" in live and "Lake" not in live and "王小明" not in live
    w = login(world.worker)
    with app.app_context():
        assert db.session.get(HomeVisit, visit_id).status == "planned", "an overdue visit cannot be cancelled"
    # a page opened before the alert (an old version) still checks in: being safe is never stale
    assert w.post_form(f"/visits/{visit_id}/check-in", {"version": "1"}).status_code == 303
    assert "has not checked in" not in login(world.peer).htmx_get("/live").get_data(as_text=True)
    with app.app_context():
        assert db.session.get(HomeVisit, visit_id).status == "returned"
        assert "visit_returned" in [e.kind for e in db.session.query(TimelineEntry)]


def test_visit_times_must_make_sense(world, login):
    resp = _plan(login(world.worker), world, expected_return_at=LOCAL(NOW() - timedelta(hours=1)))
    assert resp.status_code == 422 and "after the start" in resp.get_data(as_text=True)


def test_teacher_and_admin_see_no_family_content(app, world, login, family):
    for user in (world.teacher, world.admin):
        c = login(user)
        assert c.get(f"/guardians/{family['mother']}").status_code == 403
        assert c.get(f"/cases/{world.case_a.id}/family").status_code == 403


def test_restricted_person_checks_use_the_active_restrictions(app, world, login, family):
    """A restriction with an end date in the past no longer blocks."""
    with app.app_context():
        r = db.session.query(ContactRestriction).one()
        r.ends_on = (clock.now() - timedelta(days=1)).date()
        g = db.session.get(Guardian, family["father"])
        from portal.family.services import _sync_flag
        _sync_flag(g)
        db.session.commit()
        assert not db.session.get(Guardian, family["father"]).contact_restricted
    assert _contact(login(world.worker), world, [family["father"]]).status_code == 303



def test_a_visit_is_recorded_as_a_contact_afterwards(app, world, login, family):
    w = login(world.worker)
    resp = _plan(w, world)
    visit_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    with app.app_context():
        version = db.session.get(HomeVisit, visit_id).version_id
    w.post_form(f"/visits/{visit_id}/check-in", {"version": version})
    page = w.get(f"/visits/{visit_id}").get_data(as_text=True)
    assert f"/cases/{world.case_a.id}?visit={visit_id}#family" in page
    case_page = w.get(f"/cases/{world.case_a.id}?visit={visit_id}").get_data(as_text=True)
    assert 'selected value="home_visit"' in case_page
    assert re.search(rf'name="contact-visit_id" type="hidden" value="{visit_id}"', case_page)
    assert _contact(w, world, [family["mother"]], method="home_visit", visit_id=str(visit_id),
                    summary="Visited; the flat is warm and tidy").status_code == 303
    with app.app_context():
        assert db.session.query(FamilyContact).one().home_visit_id == visit_id


def test_the_check_in_colleague_must_be_a_case_worker_of_the_school(world, login):
    resp = _plan(login(world.worker), world, checkin_contact=world.worker_b.id)
    assert resp.status_code == 422 and "Choose a case worker of this school" in resp.get_data(as_text=True)
    resp = _plan(login(world.worker), world, checkin_contact=world.teacher.id)
    assert resp.status_code == 422


def test_a_call_from_a_restricted_person_is_logged_and_the_line_told(app, world, login, family):
    w = login(world.worker)
    resp = _contact(w, world, [family["father"]], initiated_by="family",
                    summary="He phoned asking where she lives; told him nothing")
    assert resp.status_code == 303
    with app.app_context():
        assert db.session.query(Notification).filter_by(user_id=world.assistant.id, kind="restricted_contact").count() == 1
        assert db.session.query(AuditEvent).filter_by(action="restriction.incoming_contact").count() == 1
    assert _contact(w, world, [family["father"]], initiated_by="school").status_code == 422, "calling him is not"


def test_family_details_stay_with_the_team(app, world, login, family):
    """A case worker of the school outside the open case's team cannot read or edit them."""
    assert login(world.peer).get(f"/guardians/{family['mother']}").status_code == 403
    assert login(world.worker).get(f"/guardians/{family['mother']}").status_code == 200


def test_only_the_line_above_the_worker_lifts_a_restriction(app, world, login, family, make):
    other = make.user("assistant_supervisor", (world.a,), world.practice, username="assistant_other")
    with app.app_context():
        rid = db.session.query(ContactRestriction).one().id
    assert login(other).post_form(f"/restrictions/{rid}/lift", {"reason": "x"}).status_code == 403
    assert login(world.assistant).post_form(f"/restrictions/{rid}/lift",
                                            {f"lift{rid}-reason": "Order ended"}).status_code == 303
    with app.app_context():
        assert db.session.query(Notification).filter_by(user_id=world.worker.id, kind="restriction_lifted").count() == 1


def test_guardian_edits_must_say_their_version(world, login, family):
    resp = login(world.worker).post_form(f"/guardians/{family['mother']}", {"name": "X", "relationship": "mother"})
    assert resp.status_code == 409


def test_a_parent_session_says_who_came(app, world, login, family):
    """Nobody ticked is a mistake, not "everyone"; a session the family never reached had nobody."""
    w = login(world.worker)
    resp = _contact(w, world, [family["mother"]], method="parent_interview", duration="40",
                    summary="Interview about routines")
    assert resp.status_code == 422 and "Tick who attended the session." in resp.get_data(as_text=True)
    assert "Interview about routines" in resp.get_data(as_text=True), "what was typed stays"
    assert _contact(w, world, [family["mother"]], method="parent_interview", duration="40", reached="no",
                    summary="She did not come; phoned, no answer").status_code == 303
    with app.app_context():
        assert [p.attended for p in db.session.query(FamilyContact).one().people] == [False]
    page = w.get(f"/cases/{world.case_a.id}/family").get_data(as_text=True)
    assert "did not attend: Li Mei" in page


def test_checking_in_stops_the_overdue_alert_climbing(app, world, login, frozen):
    from portal.alerts.services import sweep
    start = NOW()
    w = login(world.worker)
    visit_id = int(_plan(w, world).headers["Location"].rsplit("/", 1)[1])

    def run(minutes):
        frozen(start + timedelta(minutes=minutes))
        with app.app_context(), app.test_request_context():
            n = sweep()
            db.session.commit()
        return n
    assert run(151) == 1
    assert login(world.worker).post_form(f"/visits/{visit_id}/check-in", {"version": "1"}).status_code == 303
    for minutes in (165, 200, 300):
        run(minutes)
    with app.app_context():
        alert = db.session.query(Alert).filter_by(kind="visit_overdue").one()
        assert {r.user_id for r in alert.recipients} == {world.peer.id, world.assistant.id}
        assert alert.settled_at is not None and all(r.acknowledged_at for r in alert.recipients)
    for user in (world.peer, world.assistant, world.practice):
        assert "has not checked in" not in login(user).htmx_get("/live").get_data(as_text=True)


@pytest.mark.parametrize("method", ["home_visit", "parent_interview", "parent_training"])
def test_saying_the_family_initiated_it_opens_no_restriction_for_outgoing_contact(app, world, login, family, method):
    """A visit or a session is the school's doing: calling it the family's initiative is no way round
    a no-contact order."""
    resp = _contact(login(world.worker), world, [family["father"]], method=method, initiated_by="family",
                    duration="30", attended=[family["father"]])
    assert resp.status_code == 422 and "must not be contacted" in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(FamilyContact).count() == 0


def test_a_contact_from_a_restricted_person_is_flagged_on_the_log(app, world, login, family):
    w = login(world.worker)
    assert _contact(w, world, [family["father"]], initiated_by="family", method="school_meeting",
                    summary="Came to the gate asking for her; sent away").status_code == 303
    assert _contact(w, world, [family["mother"]], initiated_by="family").status_code == 303
    with app.app_context():
        flags = {c.people[0].guardian_id: c.restricted_incoming for c in db.session.query(FamilyContact)}
        assert flags == {family["father"]: True, family["mother"]: False}
    assert "contact from a person under a restriction" in w.get(f"/cases/{world.case_a.id}/family").get_data(as_text=True)


def test_a_visit_is_recorded_once_and_as_a_visit(app, world, login, family):
    w = login(world.worker)
    visit_id = int(_plan(w, world).headers["Location"].rsplit("/", 1)[1])
    w.post_form(f"/visits/{visit_id}/check-in", {"version": "1"})
    resp = _contact(w, world, [family["mother"]], method="phone", visit_id=str(visit_id))
    assert resp.status_code == 422 and "home visit" in resp.get_data(as_text=True)
    assert _contact(w, world, [family["mother"]], method="home_visit", visit_id=str(visit_id)).status_code == 303
    resp = _contact(w, world, [family["mother"]], method="home_visit", visit_id=str(visit_id))
    assert resp.status_code == 422 and "already been recorded" in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(FamilyContact).count() == 1


def test_my_day_drops_follow_ups_of_a_case_the_author_left(app, world, login, family):
    from portal.models import CaseMember
    p = login(world.peer)
    with app.app_context():
        db.session.add(CaseMember(case_id=world.case_a.id, user_id=world.peer.id, added_by_id=world.worker.id))
        db.session.commit()
    assert _contact(p, world, [family["mother"]], follow_up_on=_today(app).isoformat()).status_code == 303
    assert f"/cases/{world.case_a.id}" in p.get("/my-day").get_data(as_text=True)
    with app.app_context():
        db.session.query(CaseMember).filter_by(case_id=world.case_a.id, user_id=world.peer.id).delete()
        db.session.commit()
    assert f"/cases/{world.case_a.id}" not in p.get("/my-day").get_data(as_text=True)


def test_guardian_phone_numbers_are_for_the_family_keepers(app, world, login, family):
    assert "13800001111" in login(world.worker).get(f"/students/{world.student_a.id}").get_data(as_text=True)
    page = login(world.peer).get(f"/students/{world.student_a.id}").get_data(as_text=True)
    assert "Li Mei" in page and "13800001111" not in page


def test_no_family_text_reaches_the_database_in_clear(app, world, login, family, raw_scan):
    """Every confidential family field, written through the pages, is absent from the raw rows."""
    w = login(world.worker)
    mark = {"phone": "MARKPHONE55501", "email": "markmail@example.cn", "address": "MARKADDR Lake Road",
            "order": "MARKORDER court", "summary": "MARKSUMMARY said", "outcome": "MARKOUTCOME agreed",
            "next": "MARKNEXT steps", "visit_addr": "MARKVISIT Road", "purpose": "MARKPURPOSE visit",
            "override": "MARKOVERRIDE reason", "lift": "MARKLIFT reason"}
    gid = _add_guardian(w, world, name="Zhou Min", phone=mark["phone"], email=mark["email"], address=mark["address"])
    assert _restrict(w, gid, details=mark["order"]).status_code == 303
    assert _contact(w, world, [family["mother"]], summary=mark["summary"], outcome=mark["outcome"],
                    next_steps=mark["next"]).status_code == 303
    assert _plan(w, world, address=mark["visit_addr"], purpose=mark["purpose"]).status_code == 303
    assert _contact(login(world.assistant), world, [gid], override_reason=mark["override"]).status_code == 303
    with app.app_context():
        rid = db.session.query(ContactRestriction).filter_by(guardian_id=gid).one().id
    assert login(world.assistant).post_form(f"/restrictions/{rid}/lift",
                                            {f"lift{rid}-reason": mark["lift"]}).status_code == 303
    assert raw_scan(*mark.values()) == set()
    assert "guardians" in raw_scan("Zhou Min"), "the scan does find what is stored in clear (names are)"


def _form_html(page, action):
    """The HTML of the form posting to `action` (the restriction must show in the form itself)."""
    start = page.index(f'action="{action}"')
    return page[start:page.index("</form>", start)]


def test_the_restriction_shows_in_the_crisis_step_and_the_consent_form(app, world, login, family):
    w = login(world.worker)
    resp = w.post_form(f"/students/{world.student_a.id}/crisis/new", {
        "crisis_type": "family_crisis", "occurred_at": LOCAL(), "account": "Mother in hospital"})
    crisis_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    step = _form_html(w.get(f"/crisis/{crisis_id}").get_data(as_text=True), f"/crisis/{crisis_id}/steps/guardian")
    assert "Contact restriction: Wang Gang" in step and "Court order" in step
    consent = _form_html(w.get(f"/cases/{world.case_a.id}").get_data(as_text=True),
                         f"/cases/{world.case_a.id}/consents")
    assert "Contact restriction: Wang Gang" in consent
    contact = _form_html(w.get(f"/cases/{world.case_a.id}").get_data(as_text=True),
                         f"/cases/{world.case_a.id}/contacts")
    assert "Wang Gang · Do not contact" in contact
