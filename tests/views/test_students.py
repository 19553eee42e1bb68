from portal.extensions import db
from portal.models import Guardian, Student


def test_search_is_scoped_to_the_users_schools(world, login):
    html = login(world.teacher).get("/students/?q=").get_data(as_text=True)
    assert "王小明" in html and "Amy Chen" in html and "张伟" not in html
    html = login(world.teacher_b).get("/students/?q=").get_data(as_text=True)
    assert "张伟" in html and "王小明" not in html


def test_search_matches_names_and_numbers(world, login):
    c = login(world.worker)
    assert "王小明" in c.get("/students/?q=小明").get_data(as_text=True)
    assert "王小明" in c.get("/students/?q=eps0001").get_data(as_text=True)
    assert "Amy Chen" in c.get("/students/?q=amy ch").get_data(as_text=True)
    html = c.get("/students/?q=%25").get_data(as_text=True)
    assert "No student matches" in html, "a % is a character, not a wildcard"


def test_live_search_returns_the_results_fragment(world, login):
    resp = login(world.worker).htmx_get("/students/?q=王")
    html = resp.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="student-results"') and "<html" not in html
    assert "HX-Request" in resp.headers["Vary"]


def test_teacher_sees_names_but_no_student_record(world, login):
    c = login(world.teacher)
    html = c.get("/students/?q=王").get_data(as_text=True)
    assert "王小明" in html and f"/students/{world.student_a.id}" not in html
    assert c.get(f"/students/{world.student_a.id}").status_code == 403


def test_worker_cannot_open_a_student_of_another_school_by_id(world, login):
    assert login(world.worker).get(f"/students/{world.student_b.id}").status_code == 403


def test_restricted_guardian_is_prominent_and_withheld(app, world, login):
    with app.app_context():
        st = db.session.get(Student, world.student_a.id)
        g1 = Guardian(uid="g1" * 8, name="李母", relationship_to_student="母亲")
        g2 = Guardian(uid="g2" * 8, name="王父", relationship_to_student="父亲", contact_restricted=True)
        st.guardians.extend([g1, g2])
        g1.phone, g2.phone = "13800000001", "13900000002"
        db.session.commit()
    html = login(world.worker).get(f"/students/{world.student_a.id}").get_data(as_text=True)
    assert "Contact restriction" in html and "王父" in html and "Do not contact" in html
    assert "13800000001" in html and "13900000002" not in html


def test_guardian_phone_is_encrypted(app, world):
    from sqlalchemy import text
    with app.app_context():
        st = db.session.get(Student, world.student_a.id)
        g = Guardian(uid="g3" * 8, name="X", relationship_to_student="母亲")
        st.guardians.append(g)
        g.phone = "13512345678"
        db.session.commit()
        raw = db.session.execute(text("SELECT phone_ct FROM guardians")).scalar()
        assert b"13512345678" not in bytes(raw)


def test_search_pagination(world, make, login, app):
    app.config["PAGE_SIZE"] = 5
    for i in range(7):
        make.student(world.a, "Zhou", f"P{i}")
    c = login(world.worker)
    html = c.get("/students/?q=zhou").get_data(as_text=True)
    assert "Page 1 of 2" in html and "7 students found" in html
    html2 = c.get("/students/?q=zhou&page=2").get_data(as_text=True)
    assert html2.count("Zhou</a>") == 2 or html2.count("P") >= 2
