"""De-identified case studies: no name, number, school, address or exact date of the original
survives, checked against the demo district's own people and against free text written to trip
it; the original case is untouched."""
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from portal import clock
from portal.casestudies import services
from portal.casestudies.deidentify import Identifiers, date_forms
from portal.extensions import db
from portal.models import Case, CaseStudy, School, Student, TimelineEntry, User


def _originals(case):
    """What must not survive: the student's names, number, school, family names and details, and
    every date the portal holds for the case."""
    ids = Identifiers(case)
    student = case.student
    names = {student.name, student.family_name + student.given_name, student.student_number}
    if len(student.given_name) >= 2:
        names.add(student.given_name)
    for g in student.guardians:
        names.add(g.name)
        names.update(v for v in (g.phone, g.email, g.address) if v)
    school = db.session.get(School, case.school_id)
    names.update({school.name, case.reference})
    return names, ids.dates, school.code


def _assert_clean(text, case):
    names, dates, code = _originals(case)
    for n in names:
        assert n not in text, f"{n!r} survived in the study of {case.reference}"
    given = case.student.given_name
    if len(given) == 1:  # a one-character given name, standing alone (not inside a Chinese word)
        assert not re.search(rf"(?<![\u3400-\u9fff]){re.escape(given)}(?![\u3400-\u9fff])", text), given
    assert not re.search(rf"\b{code}\b", text), f"school code {code} survived"
    for d in dates:
        for form in date_forms(d):
            assert not re.search(rf"(?<![\d\w]){re.escape(form)}(?!\d)", text), f"date {form} survived"


def test_no_name_number_school_or_date_of_the_demo_cases_survives(app):
    from portal import demo
    with app.test_request_context():
        demo.build("demo pass phrase", students_per_school=30)
        db.session.commit()
        cases = db.session.scalars(select(Case).order_by(Case.id)).all()
        assert len(cases) > 20
        checked = 0
        for case in cases:
            study = services.create(case.worker, case, title=f"{case.student.name} {case.reference}",
                                    sections=list(services.SECTIONS),
                                    question=f"How would you work with {case.student.name}'s family? "
                                             f"And what does {case.student.given_name} want?")
            text = study.title + "\n" + study.body
            _assert_clean(text, case)
            assert services.leaks(study) == [], (case.reference, services.leaks(study))
            checked += 1
            if case.worker.username == "worker" and case.status == "active":
                # the demo worker's active cases have plans, records, crises: content really was scrubbed
                assert re.search(r"- day \d+ · ", study.body), study.body
        db.session.rollback()
    assert checked == len(cases)


@pytest.fixture
def mentioned(app, world):
    """Case A with a guardian and free text that names the student, the family, the school, a
    classmate, a phone number, an address, an e-mail, references and dates in many forms."""
    from portal.casework import services as work
    from portal.family import services as family
    with app.test_request_context():
        worker = db.session.get(User, world.worker.id)
        case = db.session.get(Case, world.case_a.id)
        student = db.session.get(Student, world.student_a.id)
        student.date_of_birth = date(2014, 9, 3)
        family.save_guardian(worker, student, name="李梅", relationship="母亲", legal_responsibility=True,
                             lives_with_student=True, language="", interpreter_needed=False, phone="13812345678",
                             email="li.mei@example.com", address="湖滨路12号3单元301室", contact_times="")
        opened = case.opened_at.date()
        summary = (f"小明 said 王同学 is teased by 张伟 (WMS). 王小明's mother 李梅 (13812345678, li.mei@example.com) "
                   f"lives at 湖滨路12号3单元301室 and came on {opened.year}年{opened.month}月{opened.day}日, "
                   f"again on {opened.isoformat()} and {opened.month}月{opened.day}号; born 3 September 2014 "
                   f"(2014-09-03); 王妈妈 wants a meeting at Eastlake Primary about {case.reference}, "
                   f"student number EPS0001; {world.worker.display_name} will call.")
        work.add_service_record(worker, case, occurred_on=opened, duration=30, kind="individual", participants="",
                                summary=summary, progress="小明 is calmer; 小王 smiles again.")
        db.session.commit()
    return world


def test_free_text_mentions_are_replaced(app, mentioned):
    world = mentioned
    with app.test_request_context():
        case = db.session.get(Case, world.case_a.id)
        study = services.create(db.session.get(User, world.worker.id), case, title="", sections=["records"])
        body = study.body
        _assert_clean(body, case)
        for gone in ("小明", "王同学", "王妈妈", "小王", "李梅", "张伟", "13812345678", "li.mei@example.com",
                     "湖滨路", "Eastlake", "EPS0001", "WMS", world.worker.display_name, "2014-09-03",
                     "3 September 2014"):
            assert gone not in body, gone
        assert "[the student]" in body and "[family member]" in body and "[another student]" in body
        assert "[day 0]" in body and "[phone]" in body and "[address]" in body and "[the school]" in body
        assert services.leaks(study) == []


def test_the_author_cannot_put_a_name_back(app, mentioned, login):
    world = mentioned
    with app.test_request_context():
        study = services.create(db.session.get(User, world.worker.id), db.session.get(Case, world.case_a.id),
                                title="", sections=["records"])
        db.session.commit()
        sid, version = study.id, study.version_id
    c = login(world.worker)
    page = c.get(f"/case-studies/{sid}").get_data(as_text=True)
    body = re.search(r'<textarea[^>]*name="body"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    import html as _html
    body = _html.unescape(body)
    resp = c.post_form(f"/case-studies/{sid}/edit", {"title": "Bullying at the gate", "version": version,
                                                      "body": body + "\nAsk 王小明 on 2014-09-03."})
    assert resp.status_code == 303
    page = c.get(f"/case-studies/{sid}").get_data(as_text=True)
    assert "could still identify the student" in page and "<mark>王小明</mark>" in page
    with app.app_context():
        version = db.session.get(CaseStudy, sid).version_id
    resp = c.post_form(f"/case-studies/{sid}/submit", {"version": version})
    assert resp.status_code == 422 and "could identify the student" in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(CaseStudy, sid).status == "draft"
    resp = c.post_form(f"/case-studies/{sid}/edit", {"title": "Bullying at the gate", "version": version,
                                                      "body": body})
    with app.app_context():
        version = db.session.get(CaseStudy, sid).version_id
    assert c.post_form(f"/case-studies/{sid}/submit", {"version": version}).status_code == 303


def _snapshot(case_id):
    case = db.session.get(Case, case_id)
    return (case.version_id, case.updated_at, case.status, case.risk_level, case.worker_id,
            db.session.scalar(select(func.count()).select_from(TimelineEntry).where(TimelineEntry.case_id == case_id)))


def test_approval_before_download_and_the_case_untouched(app, mentioned, login):
    world = mentioned
    with app.app_context():
        before = _snapshot(world.case_a.id)
    worker = login(world.worker)
    resp = worker.post_form(f"/cases/{world.case_a.id}/case-studies/new",
                            {"title": "", "sections": ["records", "assessment"], "question": "What next?"})
    assert resp.status_code == 303
    with app.app_context():
        study = db.session.scalar(select(CaseStudy))
        sid, version = study.id, study.version_id
        assert b"[the student]" not in study.body_ct  # encrypted
    assert worker.get(f"/case-studies/{sid}/download").status_code == 403      # not before approval
    assert login(world.peer).get(f"/case-studies/{sid}").status_code == 403    # a draft: author and line only
    assert worker.post_form(f"/case-studies/{sid}/submit", {"version": version}).status_code == 303
    # the worker's supervisor finds it in the review queue and approves it there
    sup = login(world.assistant)
    queue = sup.get("/review?tab=studies").get_data(as_text=True)
    assert f"review-studies-{sid}" in queue
    assert "## " not in queue and "## " not in sup.get(f"/case-studies/{sid}").get_data(as_text=True), \
        "section marks read as headings, not as marks"
    assert "<h3>" in sup.get(f"/case-studies/{sid}").get_data(as_text=True)
    with app.app_context():
        version = db.session.get(CaseStudy, sid).version_id
    assert worker.post_form(f"/case-studies/{sid}/decide", {"decision": "approve",
                                                             "version": version}).status_code == 403
    resp = sup.post_form(f"/case-studies/{sid}/decide", {"decision": "approve", "version": version, "from": "queue"},
                         htmx=True)
    assert resp.status_code == 200 and "Approved" in resp.get_data(as_text=True)
    # approved: shared with every case worker, downloadable; never with teachers or administrators
    for person in (world.peer, world.worker_b, world.worker):
        got = login(person).get(f"/case-studies/{sid}/download")
        assert got.status_code == 200 and got.headers["Content-Disposition"].startswith("attachment;")
        assert got.mimetype == "text/markdown"
        with app.test_request_context():
            _assert_clean(got.get_data(as_text=True), db.session.get(Case, world.case_a.id))
    shared = login(world.worker_b).get(f"/case-studies/{sid}").get_data(as_text=True)
    assert f"/cases/{world.case_a.id}" not in shared and world.worker.display_name not in shared
    for person in (world.teacher, world.admin):
        assert login(person).get(f"/case-studies/{sid}/download").status_code == 403
    assert "Case studies" in login(world.peer).get("/case-studies").get_data(as_text=True)
    with app.app_context():
        assert _snapshot(world.case_a.id) == before
        actions = {e.action for e in db.session.scalars(select(__import__("portal.models", fromlist=["AuditEvent"])
                                                               .AuditEvent))}
        assert {"case_study.drafted", "case_study.submitted", "case_study.approved",
                "case_study.downloaded"} <= actions


def test_approval_rechecks_for_names_the_case_learnt_since(app, mentioned, login):
    world = mentioned
    from portal.family import services as family
    with app.test_request_context():
        worker = db.session.get(User, world.worker.id)
        study = services.create(worker, db.session.get(Case, world.case_a.id), title="",
                                sections=["records"], question="Ask about Uncle Bao at the weekend.")
        services.submit(worker, study)
        # a family member added after the draft was checked, who the question names
        family.save_guardian(worker, db.session.get(Student, world.student_a.id), name="Uncle Bao",
                             relationship="uncle", legal_responsibility=False, lives_with_student=False, language="",
                             interpreter_needed=False, phone="", email="", address="", contact_times="")
        db.session.commit()
        sid, version = study.id, study.version_id
    resp = login(world.assistant).post_form(f"/case-studies/{sid}/decide", {"decision": "approve", "version": version})
    assert resp.status_code == 422 and "Uncle Bao" in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(CaseStudy, sid).status == "submitted"
    resp = login(world.assistant).post_form(f"/case-studies/{sid}/decide", {"decision": "return", "version": version,
                                                                             "comment": "Remove the uncle's name"})
    assert resp.status_code == 303
    with app.app_context():
        assert db.session.get(CaseStudy, sid).status == "returned"
    assert "De-identified case study" in login(world.worker).get("/my-day").get_data(as_text=True)


def test_dates_become_days_from_the_opening(app, world):
    with app.test_request_context():
        case = db.session.get(Case, world.case_a.id)
        ids = Identifiers(case)
        opened = case.opened_at.date()
        later = opened + timedelta(days=12)
        text = f"Met on {later.isoformat()}, {later.day}/{later.month}/{later.year} and {later.month}月{later.day}日."
        assert ids.scrub(text) == "Met on [day 12], [day 12] and [day 12]."
        assert ids.day(opened - timedelta(days=3)) == "day -3"
        clock.freeze(None)


def test_a_chinese_name_written_in_pinyin_is_replaced_and_caught(app, world):
    """王小明 written as "Xiaoming Wang" or "Wang Xiao Ming" in an English note. (Security review.)"""
    from portal.casestudies import services
    from portal.casework import services as work
    from portal.models import Case, User
    text = "Xiaoming Wang said his dad hits him; Wang Xiao Ming and xiaoming are the same boy"
    with app.app_context(), app.test_request_context():
        case = db.session.get(Case, world.case_a.id)
        work.add_service_record(db.session.get(User, world.worker.id), case, occurred_on=clock.now().date(),
                                duration=30, kind="individual", participants="", summary=text, progress="")
        study = services.create(db.session.get(User, world.worker.id), case, title="t", sections=["records"])
        assert "xiaoming" not in study.body.lower() and "xiao ming" not in study.body.lower()
        study.body = study.body + " Later Xiaoming Wang came back."
        assert services.leaks(study), "put back by hand, the check refuses it"
        db.session.rollback()
