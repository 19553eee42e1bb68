import io

from portal.extensions import db
from portal.models import AuditEvent, Guardian, LoginSession, Student, User

GOOD_PASSWORD = "sturdy violet harbour 9"


def _user_form(world, **kw):
    data = {"username": "newworker", "display_name": "New Worker", "email": "nw@example.org",
            "role": "social_worker", "schools": [world.a.id], "supervisor": world.assistant.id,
            "password": GOOD_PASSWORD}
    data.update(kw)
    return data


def test_admin_creates_a_user(app, world, login):
    c = login(world.admin)
    resp = c.post_form("/admin/users/new", _user_form(world))
    assert resp.status_code == 303
    with app.app_context():
        u = db.session.query(User).filter_by(username="newworker").one()
        assert u.supervisor_id == world.assistant.id and [s.id for s in u.schools] == [world.a.id]
        assert u.password_hash.startswith("$argon2")
        assert db.session.query(AuditEvent).filter_by(action="user.created").count() == 1


def test_bad_input_is_explained_and_kept(world, login):
    c = login(world.admin)
    resp = c.post_form("/admin/users/new", _user_form(world, username="worker", password="short",
                                                      display_name="Kept Name"))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert 'value="Kept Name"' in html
    assert "at least 12" in html or "already in use" in html


def test_supervisor_must_be_higher_tier(world, login):
    c = login(world.admin)
    resp = c.post_form("/admin/users/new", _user_form(world, role="practice_supervisor",
                                                      supervisor=world.assistant.id))
    assert resp.status_code == 422 and "higher tier" in resp.get_data(as_text=True)


def test_role_change_cannot_break_the_line(world, login):
    c = login(world.admin)
    resp = c.post_form(f"/admin/users/{world.assistant.id}", {
        "display_name": "A", "role": "social_worker", "schools": [world.a.id],
        "supervisor": world.practice.id, "version": 1})
    assert resp.status_code == 422 and "at or below someone" in resp.get_data(as_text=True)


def test_admin_edit_and_password_reset_ends_sessions(app, world, login):
    victim = login(world.peer)
    assert victim.get("/home").status_code == 200
    c = login(world.admin)
    with app.app_context():
        version = db.session.get(User, world.peer.id).version_id
    resp = c.post_form(f"/admin/users/{world.peer.id}", {
        "display_name": "Peer Renamed", "role": "social_worker", "schools": [world.a.id],
        "supervisor": world.assistant.id, "password": GOOD_PASSWORD, "version": version})
    assert resp.status_code == 303
    assert victim.get("/home").status_code == 303
    with app.app_context():
        assert db.session.get(User, world.peer.id).display_name == "Peer Renamed"


def test_stale_user_edit_is_refused(app, world, login):
    c = login(world.admin)
    resp = c.post_form(f"/admin/users/{world.peer.id}", {
        "display_name": "Late", "role": "social_worker", "schools": [world.a.id],
        "supervisor": world.assistant.id, "version": 999})
    assert resp.status_code == 422 and "Someone else changed" in resp.get_data(as_text=True)


def test_deactivation_rules(app, world, login):
    c = login(world.admin)
    resp = c.post_form(f"/admin/users/{world.worker.id}/deactivate")
    assert resp.status_code == 303
    assert "still has open cases" in c.get(resp.headers["Location"]).get_data(as_text=True)
    c.post_form(f"/admin/users/{world.assistant.id}/deactivate")
    with app.app_context():
        assert db.session.get(User, world.assistant.id).active, "still supervises people"
    peer = login(world.peer)
    assert c.post_form(f"/admin/users/{world.peer.id}/deactivate").status_code == 303
    with app.app_context():
        assert not db.session.get(User, world.peer.id).active
        assert db.session.query(LoginSession).filter_by(user_id=world.peer.id, end_reason="deactivated").count()
    assert peer.get("/home").status_code == 303
    c.post_form(f"/admin/users/{world.admin.id}/deactivate")
    with app.app_context():
        assert db.session.get(User, world.admin.id).active, "no self-deactivation"


def test_schools(app, world, login):
    c = login(world.admin)
    assert c.post_form("/admin/schools/new", {"code": "nhs", "name": "North High", "active": "y"}).status_code == 303
    resp = c.post_form("/admin/schools/new", {"code": "NHS", "name": "Dup", "active": "y"})
    assert resp.status_code == 422 and "already in use" in resp.get_data(as_text=True)
    html = c.get("/admin/schools").get_data(as_text=True)
    assert "North High" in html


def test_line_tree(world, login):
    html = login(world.admin).get("/admin/line").get_data(as_text=True)
    assert html.index(world.mentor.display_name) < html.index(world.supervisor.display_name) \
        < html.index(world.worker.display_name)


CSV_HEADER = "school_code,student_number,family_name,given_name,grade,class_name,date_of_birth,guardian_name,guardian_relationship,guardian_phone,interpreter_needed\n"


def _upload(client, text):
    return client.post_form("/admin/students/import",
                            {"file": (io.BytesIO(text.encode("utf-8")), "students.csv")},
                            content_type="multipart/form-data")


def test_import_is_all_or_nothing_with_a_row_report(app, world, login):
    c = login(world.admin)
    csv = CSV_HEADER + (
        "EPS,EPS9001,刘,一,3,3-1,2017-05-01,刘母,母亲,13700000000,no\n"
        "XXX,EPS9002,陈,二,3,3-1,2017-05-01,,,,\n"
        "EPS,EPS9003,,三,3,3-1,2017-13-01,,,,maybe\n"
        "EPS,EPS9001,刘,一,3,3-1,2030-01-01,,,,\n")
    resp = _upload(c, csv)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "Nothing was imported" in html
    for fragment in ("No school has this code", "YYYY-MM-DD", "This value is required",
                     "more than once", "in the future", "Use yes or no"):
        assert fragment in html, fragment
    assert "<td>3</td>" in html and "<td>4</td>" in html  # line numbers of the bad rows
    with app.app_context():
        assert db.session.query(Student).filter(Student.student_number.like("EPS9%")).count() == 0


def test_import_creates_then_updates(app, world, login):
    c = login(world.admin)
    csv = CSV_HEADER + "EPS,EPS9001,刘,一,3,3-1,2017-05-01,刘母,母亲,13700000000,yes\n"
    assert _upload(c, csv).status_code == 200
    csv2 = CSV_HEADER + "EPS,EPS9001,刘,一鸣,4,4-2,2017-05-01,刘母,母亲,13700000001,no\n"
    assert "0 added, 1 updated" in _upload(c, csv2).get_data(as_text=True)
    with app.app_context():
        st = db.session.query(Student).filter_by(student_number="EPS9001").one()
        assert st.given_name == "一鸣" and st.grade == "4"
        g = db.session.query(Guardian).filter_by(student_id=st.id).one()
        assert g.phone == "13700000001" and g.interpreter_needed is False


def test_import_rejects_non_utf8(world, login):
    c = login(world.admin)
    resp = c.post_form("/admin/students/import",
                       {"file": (io.BytesIO(CSV_HEADER.encode() + "EPS,1,刘,一,3,,2017-05-01\n".encode("gbk")),
                                 "s.csv")}, content_type="multipart/form-data")
    assert resp.status_code == 422 and "UTF-8" in resp.get_data(as_text=True)


def test_import_cli(app, world, tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(CSV_HEADER + "EPS,EPS7001,马,小,2,2-1,2018-02-02,,,,\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["import-students", str(path)])
    assert result.exit_code == 0 and "1 added" in result.output
    path.write_text(CSV_HEADER + "EPS,EPS7002,马,小,2,2-1,bad,,,,\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["import-students", str(path)])
    assert result.exit_code == 1 and "line 2: date_of_birth" in result.output


def test_create_user_cli(app, world, monkeypatch):
    monkeypatch.setenv("PORTAL_NEW_PASSWORD", GOOD_PASSWORD)
    result = app.test_cli_runner().invoke(args=["create-user", "NewSup", "--role", "assistant_supervisor",
                                                "--name", "New Sup", "--school", "EPS",
                                                "--supervisor", "practice"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        u = db.session.query(User).filter_by(username="newsup").one()
        assert u.supervisor_id == world.practice.id
    result = app.test_cli_runner().invoke(args=["create-user", "bad", "--role", "supervisor",
                                                "--name", "B", "--supervisor", "worker"])
    assert result.exit_code != 0 and "not_higher" in result.output


def test_import_records_the_day_a_student_left(app, world, login):
    """Retention counts from it; a student who left is no longer on roll."""
    c = login(world.admin)
    header = CSV_HEADER.rstrip("\n") + ",left_on\n"
    bad = _upload(c, header + "EPS,EPS9101,刘,一,3,3-1,2017-05-01,,,,,2999-01-01\n"
                            + "EPS,EPS9102,刘,二,3,3-1,2017-05-01,,,,,last week\n")
    assert bad.status_code == 422 and "left is in the future" in bad.get_data(as_text=True)
    assert _upload(c, header + "EPS,EPS9101,刘,一,3,3-1,2017-05-01,,,,,2025-07-01\n"
                             + "EPS,EPS9102,刘,二,3,3-1,2017-05-01,,,,,\n").status_code == 200
    with app.app_context():
        left = db.session.query(Student).filter_by(student_number="EPS9101").one()
        stays = db.session.query(Student).filter_by(student_number="EPS9102").one()
        assert left.left_on.isoformat() == "2025-07-01" and not left.active
        assert stays.left_on is None and stays.active


def test_deactivating_an_account_takes_a_second_deliberate_click(world, login):
    """The first click only opens the confirmation; the button that acts names the person. (UX review.)"""
    page = login(world.admin).get(f"/admin/users/{world.peer.id}").get_data(as_text=True)
    confirm = page[page.index('<details class="confirm">'):]
    confirm = confirm[:confirm.index("</details>")]
    assert "Yes, deactivate" in confirm and 'type="submit"' in confirm
    assert page.count('type="submit" class="danger"') == page.count('<details class="confirm"><summary class="button danger">')
