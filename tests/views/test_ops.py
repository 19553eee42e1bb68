"""Operations: the health check, request ids, JSON logs without personal data, gunicorn's settings."""
import json
import logging
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_healthz_answers_without_sign_in(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.json == {"status": "ok", "checks": {"database": True, "keys": True}}
    assert resp.headers["Cache-Control"] == "no-store"


def test_healthz_says_unavailable_when_the_database_is_down(app, client, monkeypatch):
    from portal.extensions import db

    def broken(*a, **kw):
        raise RuntimeError("connection refused")
    monkeypatch.setattr(app.logger, "disabled", True)  # the expected failure is logged
    with app.app_context():
        monkeypatch.setattr(db.session, "execute", broken)
        resp = client.get("/healthz")
    assert resp.status_code == 503 and resp.json["status"] == "unavailable"
    assert resp.json["checks"]["database"] is False


def test_every_response_has_a_request_id(client):
    a, b = client.get("/login"), client.get("/login")
    assert len(a.headers["X-Request-ID"]) == 16 and a.headers["X-Request-ID"] != b.headers["X-Request-ID"]
    assert client.get("/login", headers={"X-Request-ID": "proxy-abc-123"}).headers["X-Request-ID"] == "proxy-abc-123"
    odd = client.get("/login", headers={"X-Request-ID": "<script>"}).headers["X-Request-ID"]
    assert odd != "<script>" and len(odd) == 16


@pytest.fixture
def json_logs(make_app):
    """An app logging JSON, and the lines it wrote."""
    app = make_app(LOG_FORMAT="json")
    lines = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(self.format(record))
    handler = Collect()
    handler.setFormatter(logging.getLogger().handlers[0].formatter)
    handler.addFilter(logging.getLogger().handlers[0].filters[0])
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers[:] = [handler]
    yield app, lines
    root.handlers[:] = [h for h in saved if h.formatter is None or not isinstance(h.formatter, type(
        handler.formatter))]  # leave the test run's logging as it was


def test_json_logs_carry_the_request_id_and_no_personal_data(json_logs, world):
    from tests.conftest import sign_in
    app, lines = json_logs
    c = sign_in(app, world.worker)
    resp = c.get(f"/students/?q={world.student_a.family_name}", headers={"X-Forwarded-For": "203.0.113.9"})
    c.get(f"/students/{world.student_a.id}")
    records = [json.loads(line) for line in lines]
    reqs = [r for r in records if r["message"] == "request"]
    assert {r["route"] for r in reqs} >= {"/students/", "/students/<int:student_id>"}
    search = next(r for r in reqs if r["route"] == "/students/")
    assert search["request_id"] == resp.headers["X-Request-ID"] and search["status"] == 200
    assert search["method"] == "GET" and isinstance(search["duration_ms"], float)
    text = "\n".join(lines)
    for personal in (world.student_a.family_name, world.student_a.given_name, "worker", "127.0.0.1",
                     "203.0.113.9", f"/students/{world.student_a.id}", "q="):
        assert personal not in text, personal
    c.get("/healthz")
    assert not any(json.loads(line).get("route") == "/healthz" for line in lines), "health checks are not logged"


def test_an_exception_is_logged_by_type_and_stack_not_its_message(json_logs, world):
    from tests.conftest import sign_in
    app, lines = json_logs

    @app.route("/boom-json")
    def boom():
        raise ValueError("Wang Xiaoming's secret")
    app.testing = False
    app.config["PROPAGATE_EXCEPTIONS"] = False
    resp = sign_in(app, world.worker).get("/boom-json")
    assert resp.status_code == 500
    assert resp.headers["X-Request-ID"] in resp.get_data(as_text=True), "the error page names the request"
    errors = [json.loads(line) for line in lines if '"exc_type"' in line]
    assert errors and errors[0]["exc_type"] == "ValueError" and errors[0]["request_id"] == resp.headers["X-Request-ID"]
    assert "secret" not in "\n".join(lines)


def test_sql_errors_never_quote_values(app):
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    from portal.extensions import db
    with app.app_context():
        with pytest.raises(SQLAlchemyError) as info:
            db.session.execute(text("INSERT INTO no_such_table (x) VALUES (:v)"), {"v": "王小明"})
        db.session.rollback()
    assert "王小明" not in str(info.value)


def test_gunicorn_configuration(monkeypatch):
    plain = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert plain["accesslog"] == "-" and "%(U)s" in plain["access_log_format"] and "%(q)s" not in plain["access_log_format"]
    assert plain["forwarded_allow_ips"] == "127.0.0.1"
    monkeypatch.setenv("PORTAL_LOG_FORMAT", "json")
    as_json = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert as_json["accesslog"] is None
    assert as_json["logconfig_dict"]["formatters"]["json"]["()"] == "portal.ops.logs.JsonFormatter"
    from portal.ops.logs import JsonFormatter
    line = JsonFormatter().format(logging.LogRecord("gunicorn.error", logging.INFO, __file__, 1, "Booting worker",
                                                    (), None))
    assert json.loads(line)["message"] == "Booting worker"
