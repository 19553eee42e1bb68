"""Referrals: the agency directory, consent rules, sending, the status path to an outcome, follow-up
of referrals without news, agency figures, the letter and the disclosure log."""
from datetime import date, timedelta

import pytest

from portal import clock
from portal.extensions import db
from portal.i18n import local_today
from portal.models import Agency, Consent, Disclosure, Guardian, Notification, Referral, TimelineEntry


@pytest.fixture
def frozen():
    clock.freeze(clock.now().replace(microsecond=0))
    yield clock.freeze
    clock.freeze(None)


def _today(app):
    with app.app_context():
        return local_today()


def _agency(client, name="Lakeside CAMHS", **kw):
    data = {"name": name, "type": "mental_health", "languages": "普通话, English", "area": "East district",
            "services": "Assessment and therapy for children", "waiting_weeks": "6"}
    data.update(kw)
    resp = client.post_form("/agencies/new", data)
    assert resp.status_code == 303, resp.get_data(as_text=True)[:400]
    return int(resp.headers["Location"].rsplit("/", 1)[1])


def _guardian(app, world, name="Li Mei", restricted=False):
    from portal.crypto import new_uid
    with app.app_context():
        from portal.models import Student
        g = Guardian(uid=new_uid(), student=db.session.get(Student, world.student_a.id), name=name,
                     relationship_to_student="mother", contact_restricted=restricted)
        g.phone = "13800001111"
        db.session.add(g)
        db.session.commit()
        return g.id


def _consent(client, app, world, agency_id, given_by, **kw):
    today = _today(app)
    data = {"agency_id": agency_id, "given_by": str(given_by), "method": "signed_form",
            "given_on": today.isoformat(), "expires_on": (today + timedelta(days=90)).isoformat(),
            "scope": ["identity", "reason"], "purpose": "Assessment of low mood"}
    data.update(kw)
    return client.post_form(f"/cases/{world.case_a.id}/consents", data)


def _referral(client, world, agency_id, items=("identity", "reason"), reason="Low mood for two months"):
    resp = client.post_form(f"/cases/{world.case_a.id}/referrals/new",
                            {"agency_id": agency_id, "urgency": "soon", "items": list(items), "reason": reason})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:400]
    return int(resp.headers["Location"].rsplit("/", 1)[1])


def _version(app, ref_id):
    with app.app_context():
        return db.session.get(Referral, ref_id).version_id


def _send(client, app, ref_id, **kw):
    return client.post_form(f"/referrals/{ref_id}/send", {"version": _version(app, ref_id), **kw})


def _status(client, app, ref_id, status, **kw):
    return client.post_form(f"/referrals/{ref_id}/status", {"version": _version(app, ref_id), "status": status, **kw})


@pytest.fixture
def setup(app, world, login):
    agency = _agency(login(world.supervisor))
    other = _agency(login(world.supervisor), name="Westside Family Services", type="family_services",
                    languages="粤语", area="West district")
    mother = _guardian(app, world)
    return {"agency": agency, "other": other, "mother": mother}


# -- the directory ---------------------------------------------------------------------------------------------

def test_directory_is_searchable_and_kept_by_supervisors(app, world, login, setup):
    w = login(world.worker)
    assert "Westside" not in w.get("/agencies?type=mental_health").get_data(as_text=True)
    assert "Westside" in w.get("/agencies?language=粤语").get_data(as_text=True)
    assert "Lakeside" not in w.get("/agencies?area=West").get_data(as_text=True)
    assert "Lakeside" in w.get("/agencies?q=therapy").get_data(as_text=True)
    assert w.post_form(f"/agencies/{setup['agency']}", {"name": "X", "type": "other"}).status_code == 403
    assert login(world.teacher).get("/agencies").status_code == 403


def test_a_deactivated_agency_stays_for_its_referrals_but_is_not_offered(app, world, login, setup):
    ref = _referral(login(world.worker), world, setup["agency"])
    sup = login(world.supervisor)
    sup.post_form(f"/agencies/{setup['agency']}/active", {"active": "0"})
    assert "Lakeside" not in login(world.worker).get(f"/cases/{world.case_a.id}/referrals/new").get_data(as_text=True)
    assert "Lakeside" in login(world.worker).get(f"/referrals/{ref}").get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Agency, setup["agency"]) is not None


# -- consent ----------------------------------------------------------------------------------------------------

def test_no_consent_no_sending(app, world, login, setup):
    w = login(world.worker)
    ref = _referral(w, world, setup["agency"])
    resp = _send(w, app, ref)
    assert resp.status_code == 422 and "No consent in force covers this agency" in resp.get_data(as_text=True)
    assert _consent(w, app, world, setup["agency"], setup["mother"]).status_code == 303
    assert _send(w, app, ref).status_code == 303
    with app.app_context():
        r = db.session.get(Referral, ref)
        assert r.status == "sent" and r.consent_id is not None
        d = db.session.query(Disclosure).one()
        assert d.recipient == "Lakeside CAMHS" and d.items == ["identity", "reason"] and d.basis == "consent"
    assert "Disclosure log" in w.get(f"/cases/{world.case_a.id}").get_data(as_text=True)


@pytest.mark.parametrize("case", ["expired", "wrong_agency", "revoked", "narrow_scope"])
def test_consent_that_does_not_cover_the_referral(app, world, login, setup, case):
    w = login(world.worker)
    agency = setup["other"] if case == "wrong_agency" else setup["agency"]
    scope = ["identity"] if case == "narrow_scope" else ["identity", "reason"]
    assert _consent(w, app, world, agency, setup["mother"], scope=scope).status_code == 303
    with app.app_context():
        consent = db.session.query(Consent).one()
        if case == "expired":
            consent.given_on, consent.expires_on = date(2020, 1, 1), date(2020, 6, 1)
        db.session.commit()
        consent_id, version = consent.id, consent.version_id
    if case == "revoked":
        assert w.post_form(f"/consents/{consent_id}/revoke", {"version": version, "reason": "Mother changed her mind"}
                           ).status_code == 303
    ref = _referral(w, world, setup["agency"])
    assert _send(w, app, ref).status_code == 422


def test_an_exemption_needs_a_reason_and_is_shown_to_the_supervisor(app, world, login, setup):
    w = login(world.worker)
    ref = _referral(w, world, setup["agency"])
    resp = _send(w, app, ref, exemption="emergency", exemption_reason="")
    assert resp.status_code == 422 and "Give the reason the exemption applies" in resp.get_data(as_text=True)
    assert _send(w, app, ref, exemption="emergency",
                 exemption_reason="Threatened to end her life tonight; hospital crisis team").status_code == 303
    with app.app_context():
        assert db.session.query(Notification).filter_by(user_id=world.assistant.id, kind="referral_exemption").count() == 1
        assert db.session.query(Disclosure).one().basis == "emergency"
        assert b"hospital" not in db.session.get(Referral, ref).exemption_reason_ct


def test_a_restricted_family_member_cannot_consent(app, world, login, setup):
    banned = _guardian(app, world, name="Wang Gang", restricted=True)
    resp = _consent(login(world.worker), app, world, setup["agency"], banned)
    assert resp.status_code == 422 and "cannot give consent" in resp.get_data(as_text=True)
    assert "Contact restriction: Wang Gang" in resp.get_data(as_text=True)


def test_the_student_consents_only_where_the_law_allows(app, world, login, setup, make):
    w = login(world.worker)
    resp = _consent(w, app, world, setup["agency"], "student")
    assert resp.status_code == 422, "the world's student is 11: a guardian must consent"
    with app.app_context():
        from portal.models import Student
        s = db.session.get(Student, world.student_a.id)
        s.date_of_birth = _today(app).replace(year=_today(app).year - 15) - timedelta(days=1)
        db.session.commit()
    assert _consent(w, app, world, setup["agency"], "student").status_code == 303


@pytest.mark.parametrize("override,message", [
    ({"expires_on": "2000-01-01"}, "must end after it was given"),
    ({"scope": []}, "Tick the information the consent covers"),
    ({"method": "verbal_witnessed", "witness": ""}, "This field is required"),
    ({"given_by": ""}, "This field is required"),
])
def test_consent_bad_input(app, world, login, setup, override, message):
    override = dict(override)
    given_by = override.pop("given_by", setup["mother"])
    resp = _consent(login(world.worker), app, world, setup["agency"], given_by, **override)
    assert resp.status_code == 422 and message in resp.get_data(as_text=True)


# -- status path ---------------------------------------------------------------------------------------------------

def test_the_path_to_an_outcome_is_dated_and_on_the_timeline(app, world, login, setup):
    w = login(world.worker)
    _consent(w, app, world, setup["agency"], setup["mother"])
    ref = _referral(w, world, setup["agency"])
    _send(w, app, ref)
    assert _status(w, app, ref, "in_service").status_code == 422, "not straight to in service"
    assert _status(w, app, ref, "accepted").status_code == 303
    resp = _status(w, app, ref, "first_appointment")
    assert resp.status_code == 422 and "This field is required" in resp.get_data(as_text=True)
    appointment = _today(app) + timedelta(days=10)
    assert _status(w, app, ref, "first_appointment", first_appointment_on=appointment.isoformat()).status_code == 303
    assert _status(w, app, ref, "in_service").status_code == 303
    resp = _status(w, app, ref, "closed", outcome="did_not_engage")
    assert resp.status_code == 422, "an outcome other than helped needs a note"
    assert _status(w, app, ref, "closed", outcome="did_not_engage",
                   note="Went twice, then stopped; family moving").status_code == 303
    with app.app_context():
        r = db.session.get(Referral, ref)
        assert [e.status for e in r.events] == ["draft", "sent", "accepted", "first_appointment", "in_service", "closed"]
        assert r.outcome == "did_not_engage" and b"moving" not in r.outcome_note_ct
        kinds = [e.kind for e in db.session.query(TimelineEntry).filter_by(case_id=world.case_a.id)]
        assert kinds.count("referral_status") == 5 and "consent_recorded" in kinds


def test_agency_figures(app, world, login, setup, make):
    w = login(world.worker)
    _consent(w, app, world, setup["agency"], setup["mother"])
    for days in (7, 21):
        ref = _referral(w, world, setup["agency"])
        _send(w, app, ref)
        _status(w, app, ref, "accepted")
        _status(w, app, ref, "first_appointment", first_appointment_on=(_today(app) + timedelta(days=days)).isoformat())
    ref = _referral(w, world, setup["agency"])
    _send(w, app, ref)
    _status(w, app, ref, "declined")
    _status(w, app, ref, "closed", outcome="transferred", note="Sent on to the hospital service")
    page = w.get(f"/agencies/{setup['agency']}").get_data(as_text=True)
    assert ">3<" in page and ">2<" in page, "3 sent, 2 accepted"
    assert ">14<" in page or ">14.0<" in page, "median of 7 and 21 days to the first appointment"
    assert "33%" in page, "one of three closed with a known outcome"


# -- follow-up -------------------------------------------------------------------------------------------------------

def test_a_referral_without_news_goes_to_my_day_then_the_supervisor(app, world, login, setup, frozen):
    start = clock.now()
    w = login(world.worker)
    _consent(w, app, world, setup["agency"], setup["mother"])
    ref = _referral(w, world, setup["agency"])
    _send(w, app, ref)
    frozen(start + timedelta(days=13))
    assert "Referrals to follow up" not in login(world.worker).get("/my-day").get_data(as_text=True)
    frozen(start + timedelta(days=15))
    assert "Referrals to follow up" in login(world.worker).get("/my-day").get_data(as_text=True)
    assert f"review-referrals-{ref}" not in login(world.assistant).get("/review?tab=referrals").get_data(as_text=True)
    frozen(start + timedelta(days=29))
    assert f"review-referrals-{ref}" in login(world.assistant).get("/review?tab=referrals").get_data(as_text=True)
    assert f"review-referrals-{ref}" not in login(world.assistant_b).get("/review?tab=referrals").get_data(as_text=True)
    w = login(world.worker)
    assert _status(w, app, ref, "acknowledged").status_code == 303
    assert "Referrals to follow up" not in w.get("/my-day").get_data(as_text=True), "news resets the clock"


# -- the letter -------------------------------------------------------------------------------------------------------

def test_the_letter_holds_only_what_was_ticked(app, world, login, setup):
    banned = _guardian(app, world, name="Wang Gang", restricted=True)
    w = login(world.worker)
    ref = _referral(w, world, setup["agency"], items=("identity", "reason"), reason="Low mood since spring")
    letter = w.get(f"/referrals/{ref}/letter").get_data(as_text=True)
    assert "王小明" in letter and "Low mood since spring" in letter and "data-print" in letter
    assert "13800001111" not in letter and "Li Mei" not in letter, "guardian contact was not ticked"
    ref2 = _referral(w, world, setup["agency"], items=("identity", "guardian_contact"), reason="Second")
    letter = w.get(f"/referrals/{ref2}/letter").get_data(as_text=True)
    assert "13800001111" in letter and "Second" not in letter, "the reason was not ticked"
    assert "Wang Gang" not in letter, "a restricted person is never on a letter"
    assert banned


def test_referral_reason_is_encrypted_and_the_team_only_reads_it(app, world, login, setup):
    ref = _referral(login(world.worker), world, setup["agency"])
    with app.app_context():
        assert b"Low mood" not in db.session.get(Referral, ref).reason_ct
    assert login(world.worker_b).get(f"/referrals/{ref}").status_code == 403
    assert login(world.admin).get(f"/referrals/{ref}").status_code == 403


def test_identity_is_always_on_a_referral(world, login, setup):
    resp = login(world.worker).post_form(f"/cases/{world.case_a.id}/referrals/new", {
        "agency_id": setup["agency"], "urgency": "soon", "items": ["reason"], "reason": "x"})
    assert resp.status_code == 422 and "keep the first item ticked" in resp.get_data(as_text=True)


def test_the_first_appointment_date_must_make_sense(app, world, login, setup):
    w = login(world.worker)
    _consent(w, app, world, setup["agency"], setup["mother"])
    ref = _referral(w, world, setup["agency"])
    _send(w, app, ref)
    _status(w, app, ref, "accepted")
    resp = _status(w, app, ref, "first_appointment", first_appointment_on="2001-01-01")
    assert resp.status_code == 422 and "cannot be before the referral was sent" in resp.get_data(as_text=True)


# -- review fixes --------------------------------------------------------------------------------------------------

def test_the_supervisor_reads_what_the_exemption_was(app, world, login, setup):
    w = login(world.worker)
    ref = _referral(w, world, setup["agency"])
    assert _send(w, app, ref, exemption="mandated_report",
                 exemption_reason="Bruises; reported to the police child unit").status_code == 303
    page = login(world.assistant).get("/notifications").get_data(as_text=True)
    assert "sent referral F" in page and "without consent (Mandated report" in page
    assert "referral_exemption" not in page and "Bruises" not in page


def test_nothing_is_sent_to_a_deactivated_agency_or_about_a_closed_case(app, world, login, setup):
    w = login(world.worker)
    _consent(w, app, world, setup["agency"], setup["mother"])
    ref = _referral(w, world, setup["agency"])
    with app.app_context():
        agency = db.session.get(Agency, setup["agency"])
        agency.active = False
        db.session.commit()
    resp = _send(w, app, ref)
    assert resp.status_code == 422 and "Choose an active agency" in resp.get_data(as_text=True)
    with app.app_context():
        db.session.get(Agency, setup["agency"]).active = True
        from portal.models import Case
        db.session.get(Case, world.case_a.id).status = "closed"
        db.session.commit()
    resp = _send(w, app, ref)
    assert resp.status_code == 422 and "The case is closed" in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(Disclosure).count() == 0


def test_a_draft_can_be_withdrawn_and_leaves_every_list(app, world, login, setup, frozen):
    start = clock.now()
    w = login(world.worker)
    ref = _referral(w, world, setup["agency"])
    frozen(start + timedelta(days=30))
    w = login(world.worker)
    assert "Referrals to follow up" in w.get("/my-day").get_data(as_text=True), "an unsent draft is the worker's to act on"
    assert f"review-referrals-{ref}" not in login(world.assistant).get("/review?tab=referrals").get_data(as_text=True), \
        "a draft is not the supervisor's business"
    w = login(world.worker)
    assert "Withdraw the draft" in w.get(f"/referrals/{ref}").get_data(as_text=True)
    assert _status(w, app, ref, "withdrawn", note="Family found a private counsellor").status_code == 303
    assert "Referrals to follow up" not in w.get("/my-day").get_data(as_text=True)
    assert "Withdrawn before sending" in w.get(f"/referrals/{ref}").get_data(as_text=True)
    assert _send(w, app, ref).status_code == 422


def test_the_status_form_cannot_send(app, world, login, setup):
    w = login(world.worker)
    ref = _referral(w, world, setup["agency"])
    resp = _status(w, app, ref, "sent")
    assert resp.status_code == 422 and "Send the referral with its own button" in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Referral, ref).status == "draft" and db.session.query(Disclosure).count() == 0


def test_the_timeline_dates_a_change_when_it_happened(app, world, login, setup):
    w = login(world.worker)
    _consent(w, app, world, setup["agency"], setup["mother"], given_on=(_today(app) - timedelta(days=10)).isoformat())
    ref = _referral(w, world, setup["agency"])
    assert _send(w, app, ref).status_code == 303
    with app.app_context():  # sent a week ago
        r = db.session.get(Referral, ref)
        r.sent_at = clock.now() - timedelta(days=7)
        for e in r.events:
            e.on = _today(app) - timedelta(days=7)
        db.session.commit()
    three_days_ago = _today(app) - timedelta(days=3)
    assert _status(w, app, ref, "accepted", on=three_days_ago.isoformat()).status_code == 303
    resp = _status(w, app, ref, "first_appointment", on=(three_days_ago - timedelta(days=1)).isoformat(),
                   first_appointment_on=_today(app).isoformat())
    assert resp.status_code == 422 and "last recorded step" in resp.get_data(as_text=True)
    appointment = _today(app) + timedelta(days=5)
    assert _status(w, app, ref, "first_appointment", first_appointment_on=appointment.isoformat()).status_code == 303
    with app.app_context():
        from portal.i18n import local_date
        entries = {e.params["status"]: e for e in db.session.query(TimelineEntry).filter_by(kind="referral_status")}
        assert local_date(entries["accepted"].occurred_at) == three_days_ago
        assert entries["first_appointment"].params["date"] == appointment.isoformat()
    assert "first appointment on" in w.get(f"/cases/{world.case_a.id}").get_data(as_text=True)


def test_my_day_drops_referrals_of_a_case_the_author_left(app, world, login, setup, make, frozen):
    start = clock.now()
    w = login(world.worker)
    ref = _referral(w, world, setup["agency"])
    with app.app_context():  # the case goes to a colleague; the worker is off its team
        from portal.models import Case
        db.session.get(Case, world.case_a.id).worker_id = world.peer.id
        db.session.commit()
    frozen(start + timedelta(days=20))
    page = login(world.worker).get("/my-day").get_data(as_text=True)
    assert f"/referrals/{ref}" not in page
    assert f"/referrals/{ref}" in login(world.peer).get("/my-day").get_data(as_text=True)


def test_consent_comes_from_someone_with_parental_responsibility(app, world, login, setup):
    aunt = _guardian(app, world, name="Zhao Lan")
    with app.app_context():
        db.session.get(Guardian, aunt).legal_responsibility = False
        db.session.commit()
    resp = _consent(login(world.worker), app, world, setup["agency"], aunt)
    assert resp.status_code == 422 and "parental responsibility" in resp.get_data(as_text=True)


def test_a_guardian_of_another_student_cannot_consent(app, world, login, setup):
    from portal.crypto import new_uid
    from portal.models import Student
    with app.app_context():
        g = Guardian(uid=new_uid(), student=db.session.get(Student, world.student_b.id), name="Zhang San",
                     relationship_to_student="father")
        db.session.add(g)
        db.session.commit()
        other = g.id
    assert _consent(login(world.worker), app, world, setup["agency"], other).status_code == 422
    with app.app_context():
        assert db.session.query(Consent).count() == 0


def test_a_guardian_restricted_after_consenting_no_longer_covers_a_referral(app, world, login, setup):
    w = login(world.worker)
    assert _consent(w, app, world, setup["agency"], setup["mother"]).status_code == 303
    with app.app_context():
        db.session.get(Guardian, setup["mother"]).contact_restricted = True
        db.session.commit()
    ref = _referral(w, world, setup["agency"])
    assert _send(w, app, ref).status_code == 422


def test_revocation_is_dated_and_audited(app, world, login, setup):
    from portal.models import AuditEvent
    w = login(world.worker)
    given = _today(app) - timedelta(days=20)
    _consent(w, app, world, setup["agency"], setup["mother"], given_on=given.isoformat())
    with app.app_context():
        consent = db.session.query(Consent).one()
        cid, version = consent.id, consent.version_id
    w.post_form(f"/consents/{cid}/revoke", {"version": version, "reason": "Changed her mind",
                                            "revoked_on": (given - timedelta(days=1)).isoformat()})
    with app.app_context():
        assert db.session.get(Consent, cid).revoked_on is None, "not before it was given"
    withdrawn = _today(app) - timedelta(days=2)
    assert w.post_form(f"/consents/{cid}/revoke", {"version": version, "reason": "Changed her mind",
                                                   "revoked_on": withdrawn.isoformat()}).status_code == 303
    with app.app_context():
        assert db.session.get(Consent, cid).revoked_on == withdrawn
        assert db.session.query(AuditEvent).filter_by(action="consent.revoked").count() == 1
    page = w.get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert "Revoked because: Changed her mind" in page and "Purpose: Assessment of low mood" in page


def test_status_changes_and_deactivation_are_audited_once(app, world, login, setup):
    from portal.models import AuditEvent
    w = login(world.worker)
    _consent(w, app, world, setup["agency"], setup["mother"])
    ref = _referral(w, world, setup["agency"])
    _send(w, app, ref)
    assert _status(w, app, ref, "acknowledged").status_code == 303
    sup = login(world.supervisor)
    with app.app_context():
        version = db.session.get(Agency, setup["agency"]).version_id
    for _ in range(2):
        sup.post_form(f"/agencies/{setup['agency']}/active", {"active": "0", "version": version})
    with app.app_context():
        assert db.session.query(AuditEvent).filter_by(action="referral.acknowledged").count() == 1
        assert db.session.query(AuditEvent).filter_by(action="agency.deactivated").count() == 1


def test_follow_up_days_are_configuration(make_app, world, frozen):
    app = make_app(REFERRAL_STALE_DAYS=3)
    start = clock.now()
    with app.test_request_context(), app.app_context():
        from portal.models import Case, User
        from portal.referrals import services
        actor = db.session.get(User, world.worker.id)
        case = db.session.get(Case, world.case_a.id)
        agency = Agency(name="Quick", type="other", active=True)
        db.session.add(agency)
        db.session.flush()
        ref = services.create_referral(actor, case, agency=agency, urgency="soon", items=["identity"], reason="x")
        db.session.commit()
        frozen(start + timedelta(days=2))
        assert services.my_stale(actor) == []
        frozen(start + timedelta(days=4))
        assert [r.id for r in services.my_stale(actor)] == [ref.id]


def test_the_disclosure_log_is_on_the_student_record_for_the_team(app, world, login, setup):
    w = login(world.worker)
    _consent(w, app, world, setup["agency"], setup["mother"])
    _send(w, app, _referral(w, world, setup["agency"]))
    page = w.get(f"/students/{world.student_a.id}").get_data(as_text=True)
    assert 'id="disclosures"' in page and "Lakeside CAMHS" in page
    assert "Lakeside" not in login(world.peer).get(f"/students/{world.student_a.id}").get_data(as_text=True)


@pytest.mark.parametrize("role,allowed", [("worker", False), ("peer", False), ("worker_b", False), ("teacher", False),
                                          ("assistant", True), ("supervisor", True), ("admin", True)])
def test_who_may_edit_an_agency(app, world, login, setup, role, allowed):
    with app.app_context():
        version = db.session.get(Agency, setup["agency"]).version_id
    resp = login(getattr(world, role)).post_form(f"/agencies/{setup['agency']}", {
        "name": "Lakeside CAMHS (renamed)", "type": "mental_health", "version": version})
    assert (resp.status_code == 303) is allowed and (resp.status_code == 403) is not allowed


def test_no_consent_is_recorded_on_a_closed_case(app, world, login, setup):
    from portal.models import Case
    with app.app_context():
        db.session.get(Case, world.case_a.id).status = "closed"
        db.session.commit()
    assert _consent(login(world.worker), app, world, setup["agency"], setup["mother"]).status_code == 403
