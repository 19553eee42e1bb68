"""Student record requests: produced by a supervisor, audited and on the disclosure log; a readable
document and a JSON file of the same snapshot; restricted notes and third-party information held
back (counted) or marked for review."""
import json
import re

import pytest
from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.models import AuditEvent, Case, Disclosure, Notification, RecordRequest, Student, User

SHARED = "She says school feels safer since the plan started"
RESTRICTED = "RESTRICTED: the worker suspects the uncle"
CONCERN = "The teacher saw bruises on her arm"
SAFETY = "Call grandmother on 138"


def _populate(app, w):
    from portal.concerns.services import file_concern, link_to_open_case
    from portal.crisis import services as crisis
    from portal.family import services as family
    from portal.notes import services as notes
    with app.app_context(), app.test_request_context():
        case = db.session.get(Case, w.case_a.id)
        worker = db.session.get(User, w.worker.id)
        student = db.session.get(Student, w.student_a.id)
        notes.add_note(worker, case, SHARED)
        notes.add_note(worker, case, RESTRICTED, restricted=True)
        family.save_guardian(worker, student, name="Li Mei", relationship="mother", legal_responsibility=True,
                             lives_with_student=True, language="普通话", interpreter_needed=False,
                             phone="13800009999", email="", address="1 Lake Road", contact_times="")
        banned = family.save_guardian(worker, student, name="Wang Gang", relationship="father",
                                      legal_responsibility=True, lives_with_student=False, language="",
                                      interpreter_needed=False, phone="13700007777", email="", address="",
                                      contact_times="")
        family.add_restriction(worker, banned, kinds=["no_contact"], basis="court_order", details="Order of 1 May")
        concern, _ = file_concern(db.session.get(User, w.teacher.id), student_id=student.id, categories=["abuse"],
                                  urgency="today", observed_at=clock.now(), description=CONCERN, token="t-r")
        link_to_open_case(worker, concern)
        c = crisis.start_crisis(worker, student, crisis_type="suicide_self_harm", account="Said she wanted to die",
                                occurred_at=clock.now())
        crisis.save_safety_plan(worker, c, {k: SAFETY for k in crisis.SAFETY_PLAN_REQUIRED})
        crisis.record_step(worker, c, "safe_now", "done", occurred_at=clock.now(),
                           note="Stayed with her until her mother came")
        db.session.commit()


def _produce(client, w, **data):
    """A guardian's request names one of the family (Li Mei, who is created if the test has none);
    anyone else's is typed."""
    form = {"requester_kind": "guardian", "received_on": clock.now().date().isoformat()}
    form.update(data)
    if form["requester_kind"] == "guardian" and "guardian_id" not in form:
        from portal.crypto import new_uid
        from portal.models import Guardian
        with client.application.app_context():
            g = db.session.scalar(select(Guardian).where(Guardian.student_id == w.student_a.id,
                                                         Guardian.name == "Li Mei"))
            if g is None:
                g = Guardian(uid=new_uid(), student_id=w.student_a.id, name="Li Mei", relationship_to_student="mother")
                db.session.add(g)
                db.session.commit()
            form["guardian_id"] = str(g.id)
    return client.post_form(f"/students/{w.student_a.id}/record-request", form)


def test_a_supervisor_produces_the_record_audited_and_logged(app, world, login):
    _populate(app, world)
    c = login(world.assistant)
    student_page = c.get(f"/students/{world.student_a.id}").get_data(as_text=True)
    assert "Produce the record for a request" in student_page
    assert c.get(f"/students/{world.student_a.id}/record-request").status_code == 200
    resp = _produce(c, world)
    assert resp.status_code == 303
    request_id = int(re.search(r"/record-requests/(\d+)$", resp.headers["Location"]).group(1))
    summary = c.get(resp.headers["Location"]).get_data(as_text=True)
    assert "marked for review" in summary and "Restricted notes" in summary
    with app.app_context():
        req = db.session.get(RecordRequest, request_id)
        assert req.reference.startswith("R") and req.produced_by_id == world.assistant.id
        ev = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "student.record_exported")).one()
        assert ev.actor_id == world.assistant.id and ev.object_id == str(world.student_a.id)
        assert ev.details["ref"] == req.reference and "Li Mei" not in json.dumps(ev.details)
        log = db.session.scalars(select(Disclosure).where(Disclosure.basis == "record_request")).one()
        assert log.student_id == world.student_a.id and log.recipient == "guardian" and log.items == ["student_record"]
        assert db.session.scalar(select(Notification).where(Notification.user_id == world.worker.id,
                                                            Notification.kind == "record_request"))
        # The export is stored encrypted: the raw row holds no note text.
        raw = db.session.execute(select(RecordRequest.content_ct)).scalar()
        assert SHARED.encode() not in raw
    case_page = login(world.worker).get(f"/cases/{world.case_a.id}").get_data(as_text=True)
    assert "Record request (right of access)" in case_page, "on the student's disclosure log"


def test_what_the_record_holds_and_what_it_holds_back(app, world, login):
    _populate(app, world)
    c = login(world.assistant)
    location = _produce(c, world).headers["Location"]
    data = c.get(location + "/record.json")
    assert data.mimetype == "application/json" and "attachment" in data.headers["Content-Disposition"]
    record = data.json
    doc = c.get(location + "/document").get_data(as_text=True)
    for text in (json.dumps(record, ensure_ascii=False), doc):
        assert SHARED in text and "王小明" in text and "Li Mei" in text and SAFETY in text
        for secret in (RESTRICTED, "Wang Gang", "13700007777", "13800009999", "1 Lake Road", CONCERN,
                       "Stayed with her", world.teacher.display_name, "Order of 1 May"):
            assert secret not in text, secret
    assert record["format"] == "portal-student-record/1" and record["request"]["requester"] == "Li Mei"
    case = record["cases"][0]
    assert case["notes"][0] == {**case["notes"][0], "text": SHARED, "review": True}
    withheld = {w["what"]: w["count"] for w in record["withheld"]}
    assert withheld["restricted_notes"] == 1 and withheld["restricted_family_members"] == 1
    assert withheld["family_contact_details"] == 1 and withheld["concern_accounts"] == 1
    assert withheld["crisis_protective_steps"] >= 1
    assert record["concerns"][0]["categories"] == ["abuse"] and "description" not in record["concerns"][0]
    assert "For review" in doc and "Held back" in doc
    with app.app_context():
        reads = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "record_request.read")).all()
        assert {e.details["as"] for e in reads} == {"json", "document"}


def test_cases_outside_the_producers_line_are_held_back(app, world, make, login):
    """A supervisor of both schools on another line sees the student but not the case."""
    other = make.user("practice_supervisor", (world.a, world.b), world.supervisor, username="other_line")
    _populate(app, world)
    c = login(other)
    record = c.get(_produce(c, world).headers["Location"] + "/record.json").json
    assert record["cases"] == [] and {"what": "cases_outside_line", "count": 1} in record["withheld"]
    assert SHARED not in json.dumps(record, ensure_ascii=False)


def test_only_supervisors_of_the_school_produce_or_read_it(app, world, login):
    _populate(app, world)
    location = _produce(login(world.assistant), world).headers["Location"]
    for who in (world.worker, world.teacher, world.admin, world.practice_b):
        c = login(who)
        assert _produce(c, world).status_code == 403, who.username
        assert c.get(location).status_code == 403, who.username
        assert c.get(location + "/record.json").status_code == 403, who.username
    assert "record-request" not in login(world.worker).get(f"/students/{world.student_a.id}").get_data(as_text=True)


def test_a_request_needs_who_asks_and_when(app, world, login):
    c = login(world.assistant)
    resp = _produce(c, world, requester_kind="legal_representative", requester="")
    assert resp.status_code == 422 and "This is required" in resp.get_data(as_text=True)
    resp = _produce(c, world, received_on="")
    assert resp.status_code == 422 and "Give the date" in resp.get_data(as_text=True)
    future = _produce(c, world, received_on="2999-01-01")
    assert future.status_code == 422 and "in the future" in future.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(RecordRequest.id)) is None


# -- security review ---------------------------------------------------------------------------------------

def test_an_export_is_read_by_its_producer_and_the_line_above_only(app, world, make, login):
    other = make.user("practice_supervisor", (world.a,), world.supervisor, username="other_line")
    _populate(app, world)
    location = _produce(login(world.assistant), world).headers["Location"]
    c = login(other)
    assert c.get(f"/cases/{world.case_a.id}").status_code == 403
    for path in ("", "/document", "/record.json"):
        assert c.get(location + path).status_code == 403, path
    assert login(world.practice).get(location + "/record.json").status_code == 200, "the producer's line above"


def _mandated_report(app, w):
    from portal.referrals import services as referrals
    with app.app_context(), app.test_request_context():
        case = db.session.get(Case, w.case_a.id)
        worker = db.session.get(User, w.worker.id)
        agency = referrals.save_agency(db.session.get(User, w.supervisor.id), name="Eastlake Police Child Unit",
                                       type="child_protection")
        ref = referrals.create_referral(worker, case, agency=agency, urgency="urgent", items=["identity", "reason"],
                                        reason="Father hits her")
        referrals.send(worker, ref, exemption="mandated_report", exemption_reason="Suspected abuse by father")
        db.session.commit()


@pytest.mark.parametrize("producer", ["assistant", "other_line"])
def test_an_export_never_tells_the_family_of_a_mandated_report(app, world, make, login, producer):
    _mandated_report(app, world)
    make.user("practice_supervisor", (world.a,), world.supervisor, username="other_line")
    with app.app_context():
        person = db.session.query(User).filter_by(username=producer).one()
    c = login(person)
    record = c.get(_produce(c, world).headers["Location"] + "/record.json").json
    dumped = json.dumps(record["disclosures"], ensure_ascii=False)
    assert "mandated_report" not in dumped and "Police" not in dumped
    assert {"what": "protective_disclosures", "count": 1} in record["withheld"]


def test_the_requesters_name_stays_encrypted(app, world, login, raw_scan):
    _produce(login(world.assistant), world, requester_kind="legal_representative", requester="PROBE-REQ Wang Gang")
    assert raw_scan("PROBE-REQ") == set()
    page = login(world.assistant).get(f"/students/{world.student_a.id}").get_data(as_text=True)
    assert "A legal representative" in page, "the disclosure log names the kind of requester"


def test_a_restricted_parent_cannot_be_given_the_record(app, world, login):
    """The court order says no information: the father's request is refused, with the banner
    on the page. (UX review.)"""
    _populate(app, world)
    from portal.models import Guardian
    with app.app_context():
        father = db.session.scalar(select(Guardian).where(Guardian.name == "Wang Gang")).id
    c = login(world.assistant)
    assert "Contact restriction: Wang Gang" in c.get(f"/students/{world.student_a.id}/record-request").get_data(as_text=True)
    resp = _produce(c, world, guardian_id=str(father))
    assert resp.status_code == 422 and "under a contact restriction" in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(RecordRequest.id)) is None
    resp = _produce(c, world, guardian_id="")
    assert resp.status_code == 422
