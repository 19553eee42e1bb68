"""Retention: a dry run lists and keeps, --apply erases (crypto-erasure, then the rows), a legal hold
stops it, and afterwards the raw database holds none of the case's content; the audit chain
still verifies."""
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from portal import audit, clock
from portal.extensions import db
from portal.i18n import local_today
from portal.models import (Attachment, AuditEvent, Case, Concern, DataKey, Disclosure, Erasure, Guardian, LegalHold,
                           Note, Student, TimelineEntry, User)

MARKS = {  # every piece of the case's content, to look for in the raw database afterwards
    "note": "RETAIN-NOTE the student said her uncle hits her",
    "file": b"%PDF-1.4 RETAIN-FILE the signed form",
    "record": "RETAIN-RECORD talked about the weekend",
    "contact": "RETAIN-CONTACT mother called back",
    "reason": "RETAIN-REASON low mood for months",
    "purpose": "RETAIN-PURPOSE assessment",
    "crisis": "RETAIN-CRISIS found crying in the toilets",
    "phone": "13912345678",
    "guardian": "Li Meimei",
}


@pytest.fixture
def rich_case(app, world):
    """Case A with a note, a file, a service record, a family contact, a consent and a referral sent
    (on the disclosure log), a crisis; then closed, and its student has left the school today."""
    from portal.cases import services as cases
    from portal.casework import services as work
    from portal.crisis import services as crisis
    from portal.family import services as family
    from portal.notes import services as notes
    from portal.referrals import services as referrals
    with app.app_context(), app.test_request_context():
        case = db.session.get(Case, world.case_a.id)
        worker = db.session.get(User, world.worker.id)
        student = db.session.get(Student, world.student_a.id)
        notes.add_note(worker, case, MARKS["note"])
        notes.add_attachment(worker, case, "RETAIN-NAME.pdf", MARKS["file"])
        work.add_service_record(worker, case, occurred_on=clock.now().date(), duration=30, kind="individual",
                                participants="", summary=MARKS["record"], progress="")
        g = family.save_guardian(worker, student, name=MARKS["guardian"], relationship="mother",
                                 legal_responsibility=True, lives_with_student=True, language="",
                                 interpreter_needed=False, phone=MARKS["phone"], email="", address="", contact_times="")
        family.log_contact(worker, case, guardian_ids=[g.id], occurred_at=clock.now(), method="phone",
                           initiated_by="family", purpose="update", reached=True, duration=5,
                           interpreter_used=False, summary=MARKS["contact"])
        agency = referrals.save_agency(db.session.get(User, world.supervisor.id), name="Lakeside CAMHS",
                                       type="mental_health")
        referrals.record_consent(worker, case, agency=agency, given_by=g, method="signed_form",
                                 given_on=local_today(), expires_on=local_today() + timedelta(days=90),
                                 scope=["identity", "reason"], purpose=MARKS["purpose"])
        ref = referrals.create_referral(worker, case, agency=agency, urgency="soon", items=["identity", "reason"],
                                        reason=MARKS["reason"])
        referrals.send(worker, ref)
        crisis.start_crisis(worker, student, crisis_type="family_crisis", account=MARKS["crisis"],
                            occurred_at=clock.now())
        notes.break_glass(db.session.get(User, world.practice_b.id), case, "RETAIN-GLASS the student is missing")
        cases.close_case(worker, case)
        student.left_on, student.active = local_today(), False
        db.session.commit()
    return world


@pytest.fixture
def years_later(app):
    """Move the clock to the day the case and the student's record fall due (7 years after leaving)."""
    def move(years=7, days=1):
        clock.freeze(clock.now().replace(year=clock.now().year + years) + timedelta(days=days))
    yield move
    clock.freeze(None)


def _run(app, *args):
    result = app.test_cli_runner().invoke(args=["retention", "run", *args])
    assert result.exit_code == 0, result.output
    return result.output


def _raw_scan(app):
    """Every value of every row of every table, as the database hands it out."""
    found = []
    needles = [m.encode() if isinstance(m, str) else m for m in MARKS.values()]
    needles += ["王小明".encode(), "小明".encode(), b"EPS0001", b"RETAIN"]
    with app.app_context():
        with db.engine.connect() as conn:
            for table in db.metadata.sorted_tables:
                for row in conn.execute(table.select()):
                    for value in row:
                        blob = value if isinstance(value, bytes) else str(value).encode()
                        found += [(table.name, n) for n in needles if n in blob]
    return found


def test_a_dry_run_lists_what_is_due_and_erases_nothing(app, rich_case, years_later):
    out = _run(app)
    assert "Nothing is due" in out, "a student who left today: nothing is due yet"
    years_later(days=-2)
    assert "Nothing is due" in _run(app)
    years_later()
    out = _run(app)
    assert "case" in out and "C" in out and "student" in out and "Dry run" in out
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Case)) == 2
        assert db.session.get(Student, rich_case.student_a.id) is not None
        assert db.session.scalar(select(func.count()).select_from(Erasure)) == 0


def test_apply_erases_and_the_raw_database_holds_none_of_the_content(app, rich_case, years_later):
    with app.app_context():
        case = db.session.get(Case, rich_case.case_a.id)
        key_id, student_key_id, reference = case.data_key_id, case.student.data_key_id, case.reference
        uid = db.session.scalar(select(Attachment.uid))
    store = Path(app.instance_path, "attachments", uid)
    assert store.exists()
    assert _raw_scan(app), "the markers are findable before (the scan works)"
    years_later()
    out = _run(app, "--apply")
    assert "Erased 2 item(s)" in out
    with app.app_context():
        assert db.session.get(Case, rich_case.case_a.id) is None
        assert db.session.get(Student, rich_case.student_a.id) is None
        for model in (Note, Attachment, Guardian, Disclosure, Concern):
            assert db.session.scalar(select(func.count()).select_from(model)) == 0, model
        assert not db.session.scalar(select(func.count()).select_from(TimelineEntry)
                                     .where(TimelineEntry.case_id == rich_case.case_a.id))
        # Crypto-erasure: the data keys are destroyed, so any copy of the ciphertext (a backup) is dead.
        assert db.session.get(DataKey, key_id).wrapped is None
        assert db.session.get(DataKey, student_key_id).wrapped is None
        erased = db.session.scalars(select(Erasure).order_by(Erasure.id)).all()
        assert [(e.kind, e.reference) for e in erased] == [("case", reference),
                                                          ("student", f"student:{rich_case.student_a.id}")]
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "retention.erased")).all()
        assert len(events) == 2 and events[0].actor_username == "system"
        ok, count, problem = audit.verify()
        assert ok, problem
        assert db.session.get(Case, rich_case.case_b.id) is not None, "the other school's case is untouched"
        from portal.models import Alert, Notification
        links = list(db.session.scalars(select(Alert.link))) + list(db.session.scalars(select(Notification.link)))
        assert not [x for x in links if f"/cases/{rich_case.case_a.id}" in x or "/crisis/" in x], links
    assert not store.exists(), "the encrypted file is removed too"
    assert _raw_scan(app) == [], "no content of the case or the student anywhere in the database"
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        path = app.config["SQLALCHEMY_DATABASE_URI"][len("sqlite:///"):]
        raw = b"".join(Path(p).read_bytes() for p in (path, path + "-wal") if Path(p).exists())
        for needle in ("王小明".encode(), MARKS["guardian"].encode(), b"EPS0001"):
            assert needle not in raw, "deleted pages are zeroed, not left in the file"


def test_a_legal_hold_stops_erasure(app, rich_case, years_later, login):
    supervisor = login(rich_case.assistant)
    page = supervisor.get(f"/cases/{rich_case.case_a.id}").get_data(as_text=True)
    assert "Place a legal hold" in page
    empty = supervisor.post_form(f"/cases/{rich_case.case_a.id}/legal-hold", {"reason": ""})
    assert empty.status_code == 422
    assert login(rich_case.worker).post_form(f"/cases/{rich_case.case_a.id}/legal-hold",
                                             {"reason": "x"}).status_code == 403
    resp = supervisor.post_form(f"/cases/{rich_case.case_a.id}/legal-hold", {"reason": "Family court case 2026-17"})
    assert resp.status_code == 303
    assert "Under legal hold" in login(rich_case.worker).get(f"/cases/{rich_case.case_a.id}").get_data(as_text=True)
    years_later(years=30)
    out = _run(app, "--apply")
    assert "HELD" in out and "Erased 0 item(s)" in out
    with app.app_context():
        assert db.session.get(Case, rich_case.case_a.id) is not None
        assert db.session.get(Student, rich_case.student_a.id) is not None, "the student's record stays with it"
        assert db.session.scalars(select(Note)).one().current.body == MARKS["note"]
    clock.freeze(None)
    lifted = supervisor.post_form(f"/cases/{rich_case.case_a.id}/legal-hold/lift", {"reason": "Proceedings ended"})
    assert lifted.status_code == 303
    with app.app_context():
        hold = db.session.scalars(select(LegalHold)).one()
        assert hold.lifted_at is not None and hold.lifted_by_id == rich_case.assistant.id
        actions = set(db.session.scalars(select(AuditEvent.action)))
        assert {"case.legal_hold_placed", "case.legal_hold_lifted"} <= actions
    years_later(years=30)
    assert "Erased 2 item(s)" in _run(app, "--apply")


def test_the_command_line_holds_and_releases(app, rich_case, years_later):
    with app.app_context():
        reference = db.session.get(Case, rich_case.case_a.id).reference
    runner = app.test_cli_runner()
    assert runner.invoke(args=["retention", "hold", reference, "--reason", "Subject access dispute"]).exit_code == 0
    years_later()
    assert "HELD" in _run(app, "--apply")
    assert runner.invoke(args=["retention", "release", reference, "--reason", "Settled"]).exit_code == 0
    assert "Erased 2 item(s)" in _run(app, "--apply")


def test_child_protection_cases_are_kept_to_the_configured_age(app, world, years_later):
    from portal.cases import services as cases
    from portal.crisis import services as crisis
    with app.app_context(), app.test_request_context():
        case = db.session.get(Case, world.case_a.id)
        worker = db.session.get(User, world.worker.id)
        crisis.start_crisis(worker, case.student, crisis_type="abuse_neglect", account="Bruises",
                            occurred_at=clock.now())
        cases.close_case(worker, case)
        case.student.left_on = local_today()
        born = case.student.date_of_birth
        db.session.commit()
    years_later()
    assert "Nothing is due" in _run(app, "--apply"), "7 years after leaving is not enough for child protection"
    clock.freeze(clock.now().replace(year=born.year + app.config["RETENTION"]["child_protection"],
                                     month=born.month, day=born.day) + timedelta(days=1))
    out = _run(app)
    assert "child_protection" in out


def test_concerns_closed_without_action_expire_on_their_own(app, world, years_later):
    from portal.concerns.services import file_concern, no_further_action
    with app.app_context(), app.test_request_context():
        concern, _ = file_concern(db.session.get(User, world.teacher.id), student_id=world.student_a2.id,
                                  categories=["attendance"], urgency="week", observed_at=clock.now(),
                                  description="RETAIN-CONCERN late every day", token="tok")
        no_further_action(db.session.get(User, world.worker.id), concern, "Resolved by the class teacher")
        db.session.commit()
    years_later(years=app.config["RETENTION"]["concern"])
    assert "Erased 1 item(s)" in _run(app, "--apply")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Concern)) == 0
        assert db.session.get(Student, world.student_a2.id) is not None, "a student still at school stays"
        assert not db.session.execute(text("SELECT 1 FROM concerns")).first()


def test_open_cases_and_students_at_school_are_never_due(app, world, years_later):
    years_later(years=50)
    assert "Nothing is due" in _run(app, "--apply")
