import re
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Case, Guardian, School, Student, User

ROOT = Path(__file__).resolve().parents[2]


def test_migrations_match_the_models(app):
    """The schema the migrations build is the schema the models describe (SQLite and PostgreSQL)."""
    with app.app_context():
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == [], f"models and migrations differ; run `flask db migrate`: {diff}"


def test_demo_data_builds_a_district(app, monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "demo pass phrase")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo-data", "--students", "20"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        names = set(db.session.scalars(select(User.username)))
        assert {"teacher", "worker", "assistant", "practice", "supervisor", "mentor", "admin"} <= names
        roles = dict(db.session.execute(select(User.role, func.count()).group_by(User.role)).all())
        assert roles["supervisor_mentor"] == 1 and roles["supervisor"] == 1
        assert roles["practice_supervisor"] == 2 and roles["assistant_supervisor"] == 4
        assert roles["social_worker"] >= 8
        assert db.session.scalar(select(func.count()).select_from(School)) == 2
        assert db.session.scalar(select(func.count()).select_from(Student)) == 40
        assert db.session.scalar(select(func.count()).select_from(Guardian)) >= 40
        statuses = set(db.session.scalars(select(Case.status).where(
            Case.worker.has(username="worker"))))
        assert statuses == {"intake", "assessment", "planning", "active", "review", "closed"}
        # every supervisor is of a higher tier than the person they supervise
        for u in db.session.scalars(select(User).where(User.supervisor_id.is_not(None))):
            assert u.supervisor.tier > u.tier
    again = runner.invoke(args=["demo-data", "--if-empty"])
    assert again.exit_code == 0 and "not loaded" in again.output
    logins = runner.invoke(args=["demo-logins"])
    assert "demo pass phrase" in logins.output and "mentor" in logins.output


def test_demo_password_signs_in(app, monkeypatch):
    import re as _re
    app.test_cli_runner().invoke(args=["demo-data", "--students", "5"])
    c = app.test_client()
    token = _re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                       c.get("/login").get_data(as_text=True)).group(1)
    resp = c.post("/login", data={"username": "supervisor", "password": "portal-demo", "csrf_token": token})
    assert resp.status_code == 303


def test_templates_have_no_inline_script_or_handlers():
    """The CSP forbids inline code; a template that needs it would break silently in browsers."""
    bad = []
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) or re.search(r"\son[a-z]+\s*=", text) \
                or re.search(r"\shx-on[:-]", text) or re.search(r"\sstyle\s*=", text) \
                or "javascript:" in text:
            bad.append(str(path.relative_to(ROOT)))
    assert not bad, f"inline script, handler or style in: {bad}"


def test_htmx_is_vendored_and_configured():
    assert (ROOT / "static/vendor/htmx-2.0.11.min.js").stat().st_size > 30000
    base = (ROOT / "templates/base.html").read_text(encoding="utf-8")
    for setting in ('"selfRequestsOnly":true', '"allowEval":false', '"includeIndicatorStyles":false',
                    '"historyCacheSize":0', '"historyRestoreAsHxRequest":false'):
        assert setting in base


def test_server_error_page(app, world, login):
    @app.route("/boom-for-test")
    def boom():
        raise RuntimeError("boom")
    app.testing = False  # let the 500 handler answer instead of raising in the test
    app.config["PROPAGATE_EXCEPTIONS"] = False
    resp = login(world.worker).get("/boom-for-test")
    assert resp.status_code == 500 and "Something went wrong" in resp.get_data(as_text=True)
