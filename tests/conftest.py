"""Fixtures in the manner of Flask's tutorial: an app per test, a client per role, factories.

The schema is built once per run by the real migrations (SQLite by default, PostgreSQL when
TEST_DATABASE_URL is set); every test starts from empty tables.
"""
import os
import re
import secrets
from contextlib import contextmanager
from datetime import date

import pytest
from argon2 import PasswordHasher
from flask.testing import FlaskClient
from sqlalchemy import event, text

from portal import create_app
from portal.auth import passwords
from portal.extensions import db

# Cheap hashing in tests: argon2's production cost would dominate the run time.
passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
passwords._DUMMY = passwords._hasher.hash("dummy")
PASSWORD = "correct horse battery staple"
PASSWORD_HASH = passwords._hasher.hash(PASSWORD)

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")


def _base_config(url, instance):
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        "INSTANCE_PATH": instance,
        "SECRET_KEY": "test-secret-" + secrets.token_hex(8),
        "RATELIMIT_STORAGE_URI": "memory://",
        # Page loads do not run the sweep in tests (it would add queries to counted requests at
        # random); the tests that need it turn it on, and the live poll always runs it.
        "SWEEP_ON_PAGES": False,
        "SESSION_COOKIE_SECURE": False,
    }


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """Build the schema once with the migrations themselves (so they are tested on both engines)."""
    import flask_migrate
    base = tmp_path_factory.mktemp("db")
    if TEST_DATABASE_URL:
        url = TEST_DATABASE_URL
        app = create_app(_base_config(url, str(base / "instance")))
        with app.app_context():
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
            db.engine.dispose()
    else:
        url = "sqlite:///" + str(base / "test.db")
    app = create_app(_base_config(url, str(base / "instance")))
    with app.app_context():
        flask_migrate.upgrade()
        db.engine.dispose()
    return url


def _empty_tables():
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for t in tables:
                conn.execute(text(f'DELETE FROM "{t}"'))


@pytest.fixture
def make_app(database_url, tmp_path):
    """Factory for apps on the test database (a test may need two, e.g. a restart)."""
    made = []

    def _make(**overrides):
        cfg = _base_config(database_url, str(tmp_path / "instance"))
        cfg.update(overrides)
        application = create_app(cfg)
        application.test_client_class = PortalClient
        made.append(application)
        return application

    yield _make
    if made:
        with made[0].app_context():
            db.session.remove()
            _empty_tables()
        for a in made:
            with a.app_context():
                db.engine.dispose()


@pytest.fixture
def app(make_app):
    return make_app()


class PortalClient(FlaskClient):
    """A test client that can send the CSRF token (as htmx does) and act as htmx."""

    def csrf(self):
        page = self.get("/login" if not self._signed_in() else "/account/password", follow_redirects=True)
        match = re.search(r'"X-CSRFToken": "([^"]+)"', page.get_data(as_text=True))
        assert match, "no CSRF token on the page"
        return match.group(1)

    def _signed_in(self):
        with self.session_transaction() as s:
            return "sid" in s

    def post_form(self, url, data=None, htmx=False, **kw):
        headers = dict(kw.pop("headers", {}) or {})
        headers["X-CSRFToken"] = self.csrf()
        if htmx:
            headers["HX-Request"] = "true"
        return self.post(url, data=data or {}, headers=headers, **kw)

    def htmx_get(self, url, **kw):
        return self.get(url, headers={"HX-Request": "true"}, **kw)


@pytest.fixture
def client(app):
    return app.test_client()


# -- factories ---------------------------------------------------------------------------------

class Factory:
    """Builds records in their own app context and returns them detached with their columns."""

    def __init__(self, app):
        self.app = app
        self.n = 0

    @contextmanager
    def _ctx(self):
        with self.app.app_context():
            yield db.session
            db.session.commit()

    def _detach(self, *objs):
        for o in objs:
            db.session.refresh(o)
        for o in objs:
            db.session.expunge(o)
        return objs[0] if len(objs) == 1 else objs

    def _next(self):
        self.n += 1
        return self.n

    def school(self, code=None, name=None):
        from portal.models import School
        with self._ctx() as s:
            n = self._next()
            school = School(code=code or f"S{n}", name=name or f"School {n}")
            s.add(school)
            s.flush()
            return self._detach(school)

    def user(self, role, schools=(), supervisor=None, username=None, active=True, **kw):
        from portal.models import School, User
        with self._ctx() as s:
            n = self._next()
            u = User(username=username or f"{role}{n}", display_name=kw.pop("display_name", f"{role.title()} {n}"),
                     role=role, password_hash=PASSWORD_HASH, active=active,
                     supervisor_id=supervisor.id if supervisor else None,
                     schools=[s.get(School, sc.id) for sc in schools], **kw)
            s.add(u)
            s.flush()
            return self._detach(u)

    def student(self, school, family="Li", given=None, number=None, **kw):
        from portal.models import Student
        with self._ctx() as s:
            n = self._next()
            st = Student(school_id=school.id, student_number=number or f"N{n:05d}", family_name=family,
                         given_name=given or f"Student{n}", grade=kw.pop("grade", "5"),
                         class_name=kw.pop("class_name", "5-1"),
                         date_of_birth=kw.pop("date_of_birth", date(2015, 3, 1)), **kw)
            s.add(st)
            s.flush()
            return self._detach(st)

    def case(self, student, worker, members=(), risk="low", status=None):
        from portal.cases import services
        from portal.models import Case, Student, User
        with self._ctx() as s:
            actor = s.get(User, worker.id)
            case = services.open_case(actor, s.get(Student, student.id), worker=actor, risk_level=risk)
            for m in members:
                services.add_member(actor, case, s.get(User, m.id))
            path = ["assessment", "planning", "active", "review"]
            if status and status != "intake":
                for st in path[:path.index(status) + 1] if status != "closed" else path:
                    services.change_status(actor, case, st)
            if status == "closed":
                services.close_case(actor, case)
            s.flush()
            return self._detach(s.get(Case, case.id))


@pytest.fixture
def make(app):
    return Factory(app)


def sign_in(app, user) -> PortalClient:
    """A client signed in as `user` through a real login session row (no password round trip)."""
    from portal.models import LoginSession
    sid = secrets.token_urlsafe(24)
    with app.app_context():
        db.session.add(LoginSession(id=sid, user_id=user.id))
        db.session.commit()
    c = app.test_client()
    with c.session_transaction() as s:
        s["_user_id"] = str(user.id)
        s["_fresh"] = True
        s["sid"] = sid
    return c


@pytest.fixture
def login(app):
    return lambda user: sign_in(app, user)


class World:
    """Two schools and a supervision line, with one case in each school.

    School A: mentor > supervisor > practice > assistant > worker, peer; teacher.
    School B: supervisor > practice_b > assistant_b > worker_b; teacher_b.
    """


@pytest.fixture
def world(make):
    w = World()
    w.a = make.school("EPS", "Eastlake Primary")
    w.b = make.school("WMS", "Westhill Middle")
    both = (w.a, w.b)
    w.mentor = make.user("supervisor_mentor", both, username="mentor")
    w.supervisor = make.user("supervisor", both, w.mentor, username="supervisor")
    w.practice = make.user("practice_supervisor", (w.a,), w.supervisor, username="practice")
    w.assistant = make.user("assistant_supervisor", (w.a,), w.practice, username="assistant")
    w.worker = make.user("social_worker", (w.a,), w.assistant, username="worker")
    w.peer = make.user("social_worker", (w.a,), w.assistant, username="peer")
    w.practice_b = make.user("practice_supervisor", (w.b,), w.supervisor, username="practice_b")
    w.assistant_b = make.user("assistant_supervisor", (w.b,), w.practice_b, username="assistant_b")
    w.worker_b = make.user("social_worker", (w.b,), w.assistant_b, username="worker_b")
    w.teacher = make.user("teacher", (w.a,), username="teacher")
    w.teacher_b = make.user("teacher", (w.b,), username="teacher_b")
    w.admin = make.user("admin", (), username="admin")
    w.student_a = make.student(w.a, "王", "小明", number="EPS0001")
    w.student_a2 = make.student(w.a, "Chen", "Amy", number="EPS0002")
    w.student_b = make.student(w.b, "张", "伟", number="WMS0001")
    w.case_a = make.case(w.student_a, w.worker)
    w.case_b = make.case(w.student_b, w.worker_b)
    return w


@pytest.fixture
def count_queries(app):
    """with count_queries() as q: ...; len(q) is the number of SQL statements run."""
    @contextmanager
    def _count():
        statements = []
        with app.app_context():
            engine = db.engine

        def before(conn, cursor, statement, *args):
            statements.append(statement)
        event.listen(engine, "before_cursor_execute", before)
        try:
            yield statements
        finally:
            event.remove(engine, "before_cursor_execute", before)
    return _count


@pytest.fixture
def raw_scan(app):
    """raw_scan("marker") -> the tables whose raw rows (every column, read by plain SQL, bytes
    included) contain the marker: proof that a confidential text never reached the database."""
    def _scan(*markers):
        found = set()
        with app.app_context():
            with db.engine.connect() as conn:
                for table in db.metadata.sorted_tables:
                    for row in conn.execute(text(f'SELECT * FROM "{table.name}"')):
                        for value in row:
                            if value is None:
                                continue
                            blob = value if isinstance(value, (bytes, memoryview)) else str(value).encode()
                            if any(m.encode() in bytes(blob) for m in markers):
                                found.add(table.name)
        return found
    return _scan
