"""Group work: groups, members linked to their cases, sessions with attendance and observations
that land on each member's own case and nowhere else, and the sessions' review up the line."""
import struct
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.models import (AuditEvent, Case, GroupMember, GroupSession, Notification, ReviewEntry,
                           Student, StudentGroup, TimelineEntry, User)

TODAY = lambda: clock.now().date()  # noqa: E731
OBS = {"a": "Spoke first today and helped a quieter child",
       "a2": "Sat near the door and left early",
       "c": "Talked about missing his grandfather"}


@pytest.fixture
def trio(world, make):
    """Three students of school A: student_a (case_a, worker), student_a2 (no case), student_c
    (a case of the peer's, whose team the worker is not on)."""
    world.student_c = make.student(world.a, "Zhao", "Lei", number="EPS0003")
    world.case_c = make.case(world.student_c, world.peer)
    return world


def _group_form(world, **kw):
    data = {"school_id": world.a.id, "name": "Friendship group, grade 5", "kind": "friendship",
            "purpose": "Making and keeping friends after a term of fallings-out", "planned_sessions": "6",
            "starts_on": TODAY().isoformat(), "meets": "Tuesdays 15:30, room 104", "facilitators": [world.worker.id]}
    data.update(kw)
    return data


def _new_group(app, client, world):
    resp = client.post_form("/groups/new", _group_form(world))
    assert resp.status_code == 303, resp.get_data(as_text=True)[:800]
    with app.app_context():
        return db.session.scalars(select(StudentGroup).order_by(StudentGroup.id.desc())).first().id


def _members(app, gid):
    with app.app_context():
        return {m.student_id: m.id for m in db.session.scalars(select(GroupMember).where(GroupMember.group_id == gid))}


def _session_form(world, members, marks, token="t-1", **kw):
    """marks: student -> (status, observation)"""
    data = {"token": token, "occurred_on": TODAY().isoformat(), "duration": "50", "topic": "Joining in",
            "summary": "Games in pairs, then a circle about what makes a good friend"}
    for i, (student, (status, obs)) in enumerate(marks.items()):
        data[f"attendance-{i}-member_id"] = str(members[student.id])
        if status:
            data[f"attendance-{i}-status"] = status
        data[f"attendance-{i}-observation"] = obs
    data.update(kw)
    return data


@pytest.fixture
def grouped(app, trio, login):
    """A group run by the worker with the three students, and its first session recorded."""
    w = trio
    c = login(w.worker)
    w.group_id = _new_group(app, c, w)
    resp = c.post_form(f"/groups/{w.group_id}/members",
                       {"student_ids": [w.student_a.id, w.student_a2.id, w.student_c.id]})
    assert resp.status_code == 303
    w.members = _members(app, w.group_id)
    resp = c.post_form(f"/groups/{w.group_id}/sessions/new", _session_form(w, w.members, {
        w.student_a: ("present", OBS["a"]), w.student_a2: ("present", OBS["a2"]), w.student_c: ("present", OBS["c"])}))
    assert resp.status_code == 303, resp.get_data(as_text=True)[:1500]
    with app.app_context():
        w.session_id = db.session.scalar(select(GroupSession.id).where(GroupSession.group_id == w.group_id))
    return w


def _key_id(blob):
    return struct.unpack_from(">BI", blob)[1]


def _version(app, sid):
    with app.app_context():
        return db.session.get(GroupSession, sid).version_id


# -- groups and members -------------------------------------------------------------------------------

def test_worker_sets_up_a_group_with_students_linked_to_their_cases(app, grouped):
    w = grouped
    with app.app_context():
        g = db.session.get(StudentGroup, w.group_id)
        assert g.school_id == w.a.id and [f.user_id for f in g.facilitators] == [w.worker.id]
        assert b"fallings-out" not in g.purpose_ct and g.purpose.startswith("Making")
        links = {m.student_id: m.case_id for m in g.members}
        assert links == {w.student_a.id: w.case_a.id, w.student_a2.id: None, w.student_c.id: w.case_c.id}
        assert db.session.query(AuditEvent).filter_by(action="group.members_added").count() == 1


@pytest.mark.parametrize("override,message", [
    ({"name": ""}, "Give the group a name."),
    ({"kind": ""}, "Choose one."),
    ({"planned_sessions": "0"}, "Between 1 and 100 sessions."),
    ({"facilitators": []}, "Choose at least one facilitator."),
])
def test_group_bad_input_keeps_what_was_typed(trio, login, override, message):
    resp = login(trio.worker).post_form("/groups/new", _group_form(trio, **override))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and message in html
    assert "Tuesdays 15:30, room 104" in html


def test_facilitators_come_from_the_groups_school_and_include_the_author(trio, login):
    c = login(trio.worker)
    resp = c.post_form("/groups/new", _group_form(trio, facilitators=[trio.worker_b.id]))
    assert resp.status_code == 422 and "active case workers of the group" in resp.get_data(as_text=True)
    resp = c.post_form("/groups/new", _group_form(trio, facilitators=[trio.peer.id]))
    assert resp.status_code == 422 and "Include yourself" in resp.get_data(as_text=True)
    # a supervisor may set up a group for the people they supervise
    assert login(trio.assistant).post_form("/groups/new", _group_form(trio)).status_code == 303


def test_only_students_of_the_groups_school_join(app, grouped, login):
    w = grouped
    resp = login(w.worker).post_form(f"/groups/{w.group_id}/members", {"student_ids": [w.student_b.id]})
    assert resp.status_code == 303
    assert w.student_b.id not in _members(app, w.group_id)


def test_student_search_offers_the_schools_students_outside_the_group(app, grouped, login):
    w = grouped
    c = login(w.worker)
    assert c.get(f"/groups/{w.group_id}/student-options?q=Amy").status_code == 303, "plain requests get the page"
    html = c.htmx_get(f"/groups/{w.group_id}/student-options?q=EPS").get_data(as_text=True)
    assert "No student of Eastlake Primary outside the group" in html, "all three are in already"
    with app.app_context():
        db.session.add(Student(school_id=w.a.id, student_number="EPS0009", family_name="Liu", given_name="Mei",
                               grade="5", date_of_birth=TODAY() - timedelta(days=4000)))
        db.session.add(Student(school_id=w.b.id, student_number="WMS0009", family_name="Liu", given_name="Bo",
                               grade="7", date_of_birth=TODAY() - timedelta(days=4800)))
        db.session.commit()
    html = c.htmx_get(f"/groups/{w.group_id}/student-options?q=liu").get_data(as_text=True)
    assert "Mei Liu" in html and "Bo Liu" not in html


def test_a_member_who_leaves_is_not_marked_again_but_keeps_their_history(app, grouped, login):
    w = grouped
    c = login(w.worker)
    member = w.members[w.student_a2.id]
    with app.app_context():
        v = db.session.get(StudentGroup, w.group_id).version_id
    assert c.post_form(f"/groups/{w.group_id}/members/{member}/remove", {}).status_code == 303
    with app.app_context():
        assert db.session.get(GroupMember, member).left_on is None, "without the version the page showed, nothing"
    assert c.post_form(f"/groups/{w.group_id}/members/{member}/remove", {"version": v}).status_code == 303
    assert "Amy Chen left the group" in c.get(f"/groups/{w.group_id}").get_data(as_text=True)
    page = c.get(f"/groups/{w.group_id}/sessions/new").get_data(as_text=True)
    assert "Amy Chen" not in page and "王小明" in page
    assert "Amy Chen" in c.get(f"/groups/{w.group_id}/sessions/{w.session_id}").get_data(as_text=True)


def test_an_ended_group_takes_no_more_sessions(app, grouped, login):
    w = grouped
    c = login(w.worker)
    with app.app_context():
        v = db.session.get(StudentGroup, w.group_id).version_id
    assert c.post_form(f"/groups/{w.group_id}/end", {"version": v}).status_code == 303
    assert c.get(f"/groups/{w.group_id}/sessions/new").status_code == 403
    assert "Ended" in c.get(f"/groups/{w.group_id}").get_data(as_text=True)


def test_the_list_shows_the_line_its_groups(grouped, login):
    w = grouped
    assert "Friendship group, grade 5" in login(w.worker).get("/groups").get_data(as_text=True)
    assert "Friendship group, grade 5" in login(w.mentor).get("/groups").get_data(as_text=True)
    assert "Friendship group, grade 5" not in login(w.peer).get("/groups").get_data(as_text=True)
    assert login(w.peer).get(f"/groups/{w.group_id}").status_code == 403
    assert login(w.teacher).get("/groups").status_code == 403


# -- sessions: attendance and observations on the right cases ------------------------------------------

def test_attendance_and_observations_land_on_the_right_cases_and_nowhere_else(app, grouped):
    w = grouped
    with app.app_context():
        s = db.session.get(GroupSession, w.session_id)
        g = s.group
        assert s.number == 1 and s.status == "submitted"
        assert _key_id(s.summary_ct) == g.data_key_id, "the summary is the group's"
        rows = {a.student_id: a for a in s.attendance}
        assert {sid: a.case_id for sid, a in rows.items()} == {
            w.student_a.id: w.case_a.id, w.student_a2.id: None, w.student_c.id: w.case_c.id}
        case_a, case_c = db.session.get(Case, w.case_a.id), db.session.get(Case, w.case_c.id)
        student_a2 = db.session.get(Student, w.student_a2.id)
        assert _key_id(rows[w.student_a.id].observation_ct) == case_a.data_key_id
        assert _key_id(rows[w.student_c.id].observation_ct) == case_c.data_key_id
        assert _key_id(rows[w.student_a2.id].observation_ct) == student_a2.data_key_id, "no case: the student's key"
        for a in rows.values():
            assert b"grandfather" not in a.observation_ct and b"quieter" not in a.observation_ct
        entries = db.session.scalars(select(TimelineEntry).where(TimelineEntry.kind == "group_attendance")).all()
        assert {e.case_id: e.detail for e in entries} == {w.case_a.id: OBS["a"], w.case_c.id: OBS["c"]}
        for e in entries:
            assert e.params == {"group": "Friendship group, grade 5", "number": 1, "status": "present",
                                "topic": "Joining in"}
        # the case of the student in school B, and every other case, got nothing
        assert db.session.scalar(select(TimelineEntry.id).where(TimelineEntry.case_id == w.case_b.id,
                                                                TimelineEntry.kind.like("group%"))) is None
        # the peer (case C's worker) is told; the worker wrote about their own case A
        notes = db.session.scalars(select(Notification).where(Notification.kind == "group_observation")).all()
        assert [(n.user_id, n.params["case"]) for n in notes] == [(w.peer.id, case_c.reference)]


def test_a_students_case_page_never_lists_the_other_members(app, grouped, login):
    w = grouped
    page = login(w.worker).get(f"/cases/{w.case_a.id}").get_data(as_text=True)
    assert 'id="groups"' in page and "Friendship group, grade 5" in page and OBS["a"] in page
    assert "attended 1 of 1 session" in page
    for other in ("Amy Chen", "Lei Zhao", OBS["a2"], OBS["c"], "what makes a good friend"):
        assert other not in page, other
    page = login(w.peer).get(f"/cases/{w.case_c.id}").get_data(as_text=True)
    assert OBS["c"] in page and "Friendship group, grade 5" in page
    for other in ("王小明", "Amy Chen", OBS["a"], OBS["a2"], "what makes a good friend"):
        assert other not in page, other
    assert f'href="/groups/{w.group_id}"' not in page, "the peer is not on the group's team: no link"
    timeline = login(w.peer).htmx_get(f"/cases/{w.case_c.id}/timeline?page=1").get_data(as_text=True)
    assert OBS["c"] in timeline and "Amy Chen" not in timeline and OBS["a"] not in timeline


def test_a_case_opened_later_shows_the_students_earlier_group_work(app, grouped, login, make):
    w = grouped
    case = make.case(w.student_a2, w.peer)
    page = login(w.peer).get(f"/cases/{case.id}").get_data(as_text=True)
    assert OBS["a2"] in page and OBS["a"] not in page and "王小明" not in page


def test_the_group_team_reads_the_whole_session_and_the_read_is_logged(app, grouped, login):
    w = grouped
    page = login(w.assistant).get(f"/groups/{w.group_id}/sessions/{w.session_id}").get_data(as_text=True)
    for text in ("Amy Chen", "Lei Zhao", OBS["a"], OBS["c"], "what makes a good friend"):
        assert text in page
    with app.app_context():
        ev = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "group_session.read")).all()[-1]
        assert ev.actor_id == w.assistant.id and ev.details["cases"] == sorted([w.case_a.id, w.case_c.id])
    assert login(w.peer).get(f"/groups/{w.group_id}/sessions/{w.session_id}").status_code == 403
    assert login(w.teacher).get(f"/groups/{w.group_id}/sessions/{w.session_id}").status_code == 403
    assert login(w.admin).get(f"/groups/{w.group_id}").status_code == 403


def test_every_member_must_be_marked_and_the_form_keeps_its_input(app, grouped, login):
    w = grouped
    resp = login(w.worker).post_form(f"/groups/{w.group_id}/sessions/new", _session_form(w, w.members, {
        w.student_a: ("present", "Fine"), w.student_a2: (None, "Quiet today"), w.student_c: ("absent", "")},
        token="t-2", summary="Second meeting: a story about being left out"))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "Mark whether this student came." in html
    assert "Second meeting: a story about being left out" in html and "Quiet today" in html
    with app.app_context():
        assert db.session.query(GroupSession).count() == 1


def test_a_student_who_joined_while_the_form_was_open_gets_a_row(app, grouped, login, make):
    w = grouped
    newcomer = make.student(w.a, "Qian", "Yu", number="EPS0004")
    c = login(w.worker)
    form = _session_form(w, w.members, {s: ("present", "") for s in (w.student_a, w.student_a2, w.student_c)},
                         token="t-3")
    assert c.post_form(f"/groups/{w.group_id}/members", {"student_ids": [newcomer.id]}).status_code == 303
    resp = c.post_form(f"/groups/{w.group_id}/sessions/new", form)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "Yu Qian" in html and "Mark whether this student came." in html


def test_a_double_submit_records_one_session(app, grouped, login):
    w = grouped
    c = login(w.worker)
    form = _session_form(w, w.members, {s: ("present", "") for s in (w.student_a, w.student_a2, w.student_c)},
                         token="same-token")
    first, again = c.post_form(f"/groups/{w.group_id}/sessions/new", form), \
        c.post_form(f"/groups/{w.group_id}/sessions/new", form)
    assert first.status_code == again.status_code == 303
    assert first.headers["Location"] == again.headers["Location"]
    with app.app_context():
        assert db.session.query(GroupSession).count() == 2


# -- review: the same queue and thread as service records -------------------------------------------------

def test_group_session_records_reach_the_review_queue(app, grouped, login):
    w = grouped
    html = login(w.assistant).get("/review?tab=groups").get_data(as_text=True)
    assert f"review-groups-{w.session_id}" in html and "Friendship group, grade 5" in html
    assert "3 of 3 present" in html and "Group sessions awaiting review" in html
    assert f"review-groups-{w.session_id}" in login(w.mentor).get("/review?tab=groups").get_data(as_text=True)
    assert f"review-groups-{w.session_id}" not in login(w.assistant_b).get("/review?tab=groups").get_data(as_text=True)
    assert "1 group session to review" in login(w.assistant).get("/my-day").get_data(as_text=True)
    resp = login(w.assistant).post_form(f"/groups/{w.group_id}/sessions/{w.session_id}/review",
                                        {"decision": "accept", "comment": "", "from": "queue",
                                         "version": _version(app, w.session_id)}, htmx=True)
    assert resp.status_code == 200 and "Accepted" in resp.get_data(as_text=True)
    with app.app_context():
        thread = db.session.scalars(select(ReviewEntry).order_by(ReviewEntry.id)).all()
        assert [(e.action, e.author_id, e.case_id, e.group_id) for e in thread] == [
            ("submitted", w.worker.id, None, w.group_id), ("accepted", w.assistant.id, None, w.group_id)]
        assert db.session.get(GroupSession, w.session_id).status == "accepted"
        n = db.session.scalars(select(Notification).where(Notification.kind == "group_session_reviewed")).one()
        assert n.user_id == w.worker.id and n.params["status"] == "accepted"
    assert f"review-groups-{w.session_id}" not in login(w.assistant).get("/review?tab=groups").get_data(as_text=True)


def test_nobody_reviews_their_own_session_or_outside_their_line(app, grouped, login):
    w = grouped
    url = f"/groups/{w.group_id}/sessions/{w.session_id}/review"
    assert login(w.worker).post_form(url, {"decision": "accept"}).status_code == 403
    assert login(w.assistant_b).post_form(url, {"decision": "accept"}).status_code == 403
    resp = login(w.assistant).post_form(url, {"decision": "return", "comment": "", "version": _version(app, w.session_id)})
    assert resp.status_code == 422 and "Write a comment when you return a record." in resp.get_data(as_text=True)


def test_two_supervisors_at_once(app, grouped, login):
    w = grouped
    url = f"/groups/{w.group_id}/sessions/{w.session_id}/review"
    v = _version(app, w.session_id)
    assert login(w.assistant).post_form(url, {"decision": "accept", "version": v}).status_code == 303
    resp = login(w.practice).post_form(url, {"decision": "return", "comment": "No", "version": v,
                                             "from": "queue"}, htmx=True)
    assert resp.status_code == 409


def test_returned_then_revised_corrects_the_case_and_keeps_the_original_in_the_thread(app, grouped, login):
    w = grouped
    url = f"/groups/{w.group_id}/sessions/{w.session_id}"
    assert login(w.assistant).post_form(url + "/review", {
        "decision": "return", "comment": "Lei was not there: check the register.",
        "version": _version(app, w.session_id)}).status_code == 303
    c = login(w.worker)
    assert "Group session 1 of" in c.get("/my-day").get_data(as_text=True)
    page = c.get(url).get_data(as_text=True)
    assert "Lei was not there" in page and "Revise and resubmit" in page
    with app.app_context():
        order = [a.student_id for a in db.session.get(GroupSession, w.session_id).attendance]
    students = {s.id: s for s in (w.student_a, w.student_a2, w.student_c)}
    marks = {w.student_a.id: ("present", "Helped a quieter child to join the game"),
             w.student_a2.id: ("present", OBS["a2"]), w.student_c.id: ("absent", "")}
    resp = c.post_form(url + "/revise", _session_form(
        w, w.members, {students[sid]: marks[sid] for sid in order}, token="",
        reply="Register checked", version=_version(app, w.session_id)))
    assert resp.status_code == 303, resp.get_data(as_text=True)[:1500]
    with app.app_context():
        s = db.session.get(GroupSession, w.session_id)
        assert s.status == "submitted" and s.revision == 2
        by_case = {}
        for e in db.session.scalars(select(TimelineEntry).where(TimelineEntry.kind.like("group%"))
                                    .order_by(TimelineEntry.id)):
            by_case.setdefault(e.case_id, []).append((e.kind, e.params["status"], e.detail))
        assert by_case[w.case_a.id] == [("group_attendance", "present", "Helped a quieter child to join the game"),
                                        ("group_attendance_revised", "present", None)]
        assert by_case[w.case_c.id] == [("group_attendance", "absent", None),
                                        ("group_attendance_revised", "absent", None)], "the misfiled text is gone"
        first = db.session.scalars(select(ReviewEntry).order_by(ReviewEntry.id)).first()
        assert "what makes a good friend" in first.snapshot and OBS["c"] not in first.snapshot
        assert [e.action for e in db.session.scalars(select(ReviewEntry).order_by(ReviewEntry.id))] == [
            "submitted", "returned", "revised"]
    assert OBS["c"] not in login(w.peer).get(f"/cases/{w.case_c.id}").get_data(as_text=True)


def test_only_the_author_revises(app, grouped, login):
    w = grouped
    url = f"/groups/{w.group_id}/sessions/{w.session_id}/revise"
    assert login(w.assistant).post_form(url, {}).status_code == 403
    resp = login(w.worker).post_form(url, _session_form(w, w.members, {
        s: ("present", "") for s in (w.student_a, w.student_a2, w.student_c)}, version=_version(app, w.session_id)))
    assert resp.status_code == 409, "not returned: nothing to revise"


# -- pages that do not grow with the data ------------------------------------------------------------------

def _more_sessions(app, w, n):
    from portal.groups import services
    with app.app_context(), app.test_request_context():
        group = db.session.get(StudentGroup, w.group_id)
        worker = db.session.get(User, w.worker.id)
        for _ in range(n):
            services.record_session(worker, group, occurred_on=TODAY(), duration=40, topic="More", summary="More",
                                    marks={m.id: ("present", "obs") for m in group.current_members})
        db.session.commit()


def _more_members(app, w, make, n):
    from portal.groups import services
    students = [make.student(w.a, "Sun", f"Kid{i}") for i in range(n)]
    for st in students[: n // 2]:
        make.case(st, w.peer)
    with app.app_context():
        group = db.session.get(StudentGroup, w.group_id)
        services.add_members(db.session.get(User, w.worker.id), group,
                             [db.session.get(Student, s.id) for s in students])
        db.session.commit()


def test_group_page_query_count_does_not_grow(app, grouped, login, make, count_queries):
    w = grouped
    c = login(w.worker)
    c.get(f"/groups/{w.group_id}")
    with count_queries() as few:
        assert c.get(f"/groups/{w.group_id}").status_code == 200
    _more_members(app, w, make, 8)
    _more_sessions(app, w, 4)
    with count_queries() as many:
        assert c.get(f"/groups/{w.group_id}").status_code == 200
    assert len(many) == len(few), (len(few), len(many))


def test_session_page_and_queue_query_counts_do_not_grow(app, grouped, login, make, count_queries):
    w = grouped
    sup = login(w.assistant)
    with count_queries() as few_session:
        assert sup.get(f"/groups/{w.group_id}/sessions/{w.session_id}").status_code == 200
    with count_queries() as few_queue:
        assert sup.get("/review?tab=groups").status_code == 200
    _more_members(app, w, make, 8)
    _more_sessions(app, w, 4)
    with app.app_context():
        last = db.session.scalar(select(GroupSession.id).order_by(GroupSession.id.desc()))
    with count_queries() as many_session:
        assert sup.get(f"/groups/{w.group_id}/sessions/{last}").status_code == 200
    with count_queries() as many_queue:
        assert sup.get("/review?tab=groups").status_code == 200
    assert len(many_session) == len(few_session), (len(few_session), len(many_session))
    assert len(many_queue) == len(few_queue), (len(few_queue), len(many_queue))


def test_case_page_query_count_does_not_grow_with_sessions(app, grouped, login, count_queries):
    w = grouped
    c = login(w.worker)
    with count_queries() as few:
        assert c.get(f"/cases/{w.case_a.id}").status_code == 200
    _more_sessions(app, w, 5)
    with count_queries() as many:
        assert c.get(f"/cases/{w.case_a.id}").status_code == 200
    assert len(many) == len(few), (len(few), len(many))


def test_retention_erases_a_student_who_was_in_a_group_and_a_case_leaves_its_observation(app, grouped, raw_scan):
    """Erasure must not stop at a group: the student's place and observations go, the group stays.
    (Security review.)"""
    from datetime import timedelta as _td

    from portal import clock
    from portal.i18n import local_today
    from portal.models import Case, GroupAttendance, Student
    w = grouped
    with app.app_context(), app.test_request_context():
        for sid in (w.student_a2.id, w.student_a.id):
            st = db.session.get(Student, sid)
            st.left_on, st.active = local_today(), False
        db.session.get(Case, w.case_a.id).status = "closed"
        db.session.get(Case, w.case_a.id).closed_at = clock.now()
        db.session.commit()
    clock.freeze(clock.now().replace(year=clock.now().year + 7) + _td(days=2))
    try:
        result = app.test_cli_runner().invoke(args=["retention", "run", "--apply"])
    finally:
        clock.freeze(None)
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.get(Student, w.student_a2.id) is None
        left = db.session.scalars(select(GroupAttendance).where(GroupAttendance.session_id == w.session_id)).all()
        assert {a.student_id for a in left} >= {w.student_c.id} and w.student_a2.id not in {a.student_id for a in left}
    assert raw_scan(OBS["a2"]) == set() and raw_scan(OBS["a"]) == set()
