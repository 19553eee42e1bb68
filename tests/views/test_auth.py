import re
from datetime import timedelta

import pytest

from portal import clock
from portal.extensions import db
from portal.models import AuditEvent, LoginSession, User
from tests.conftest import PASSWORD


def _login(client, username, password=PASSWORD, next_url=""):
    page = client.get("/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    return client.post("/login", data={"username": username, "password": password, "next": next_url,
                                       "csrf_token": token})


def test_login_page_labels(client):
    html = client.get("/login").get_data(as_text=True)
    assert ">Username</label>" in html and ">Password</label>" in html


def test_login_success_renews_the_session(app, world, client):
    with client.session_transaction() as s:
        s["planted"] = "by an attacker"
    resp = _login(client, "worker")
    assert resp.status_code == 303 and resp.headers["Location"] == "/home"
    with client.session_transaction() as s:
        assert "planted" not in s and s["sid"]
    assert client.get("/home").status_code == 200
    with app.app_context():
        assert db.session.query(AuditEvent).filter_by(action="auth.login").count() == 1
        assert db.session.get(User, world.worker.id).last_login_at is not None


def test_failed_login_keeps_username_and_says_why(app, world, client):
    resp = _login(client, "worker", "wrong password")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "do not match an active account" in html and 'value="worker"' in html
    with app.app_context():
        assert db.session.query(AuditEvent).filter_by(action="auth.login_failed").count() == 1


def test_unknown_user_and_deactivated_user_get_the_same_answer(world, make, client):
    make.user("social_worker", username="gone", active=False)
    a = _login(client, "nobody")
    b = _login(client, "gone")
    assert a.status_code == b.status_code == 422


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example",
                                    "javascript:alert(1)"])
def test_open_redirect_is_refused(world, client, target):
    resp = _login(client, "worker", next_url=target)
    assert resp.headers["Location"] == "/home"


def test_next_is_followed_when_local(world, client):
    resp = _login(client, "worker", next_url="/cases/")
    assert resp.headers["Location"] == "/cases/"


def test_throttle_per_account(app, world, make_app):
    app = make_app(LOGIN_LIMIT_PER_ACCOUNT="3 per 15 minutes")
    for _i in range(3):
        c = app.test_client()
        assert _login(c, "worker", "bad").status_code == 422
    c = app.test_client()
    assert _login(c, "worker").status_code == 429, "even the right password waits"
    assert _login(app.test_client(), "peer").status_code == 303, "other accounts are unaffected"


def test_throttle_per_address(world, make_app):
    app = make_app(LOGIN_LIMIT_PER_ADDRESS="4 per 15 minutes")
    for name in ("a", "b", "c", "d"):
        assert _login(app.test_client(), name, "bad").status_code == 422
    assert _login(app.test_client(), "worker").status_code == 429


def test_successful_logins_do_not_count_against_the_address(world, make_app):
    """A school behind one address: many people signing in at once are not throttled."""
    app = make_app(LOGIN_LIMIT_PER_ADDRESS="2 per 15 minutes")
    for name in ("worker", "peer", "assistant", "practice", "teacher"):
        assert _login(app.test_client(), name).status_code == 303


def test_every_attempt_counts_against_the_account(world, make_app):
    app = make_app(LOGIN_LIMIT_PER_ACCOUNT="3 per 15 minutes")
    for _ in range(3):
        assert _login(app.test_client(), "worker").status_code == 303
    assert _login(app.test_client(), "worker").status_code == 429


def test_logout_ends_the_session_server_side(app, world, client):
    _login(client, "worker")
    with client.session_transaction() as s:
        stolen = dict(s)
    assert client.post_form("/logout").status_code == 303
    thief = app.test_client()
    with thief.session_transaction() as s:
        s.update(stolen)
    assert thief.get("/home").status_code == 303, "a copied cookie is dead after logout"


def test_idle_timeout(app, world, client, login):
    c = login(world.worker)
    assert c.get("/home").status_code == 200
    try:
        clock.freeze(clock.now() + app.config["IDLE_TIMEOUT"] + timedelta(minutes=1))
        resp = c.get("/home")
    finally:
        clock.freeze(None)
    assert resp.status_code == 303 and "/login" in resp.headers["Location"]
    assert "inactivity" in c.get("/login").get_data(as_text=True)
    with app.app_context():
        assert db.session.query(LoginSession).filter_by(end_reason="idle").count() == 1


def test_deactivated_user_is_signed_out(app, world, login):
    c = login(world.peer)
    assert c.get("/home").status_code == 200
    with app.app_context():
        db.session.get(User, world.peer.id).active = False
        db.session.commit()
    assert c.get("/home").status_code == 303


def test_password_change(app, world, login):
    c = login(world.worker)
    other = login(world.worker)
    resp = c.post_form("/account/password", {"current_password": "wrong", "new_password": "x",
                                             "confirm": "y"})
    assert resp.status_code == 422 and "not correct" in resp.get_data(as_text=True)
    resp = c.post_form("/account/password", {"current_password": PASSWORD, "new_password": "password1234",
                                             "confirm": "password1234"})
    assert resp.status_code == 422 and "too common" in resp.get_data(as_text=True)
    resp = c.post_form("/account/password", {"current_password": PASSWORD, "new_password": "short",
                                             "confirm": "short"})
    assert "at least 12" in resp.get_data(as_text=True)
    new = "lantern orchard quietly 42"
    resp = c.post_form("/account/password", {"current_password": PASSWORD, "new_password": new,
                                             "confirm": new})
    assert resp.status_code == 303
    assert c.get("/home").status_code == 200, "this session stays"
    assert other.get("/home").status_code == 303, "other sessions end"
    assert _login(c.application.test_client(), "worker", new).status_code == 303


def test_password_change_htmx_returns_the_form_fragment(world, login):
    c = login(world.worker)
    resp = c.post_form("/account/password", {"current_password": "x", "new_password": "y", "confirm": "z"},
                       htmx=True)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and html.lstrip().startswith("<form") and "<html" not in html
    assert "HX-Request" in resp.headers.get("Vary", "")


def test_csrf_is_required(world, login):
    c = login(world.worker)
    assert c.post("/logout").status_code == 400
    assert c.post("/account/password", data={"current_password": PASSWORD}).status_code == 400


@pytest.mark.parametrize("path", ["/home", "/cases/", "/login"])
def test_security_headers(world, login, path):
    c = login(world.worker) if path != "/login" else world and login(world.worker).application.test_client()
    resp = c.get(path)
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Cache-Control"] == "no-store"


def test_session_cookie_flags(app, world, client):
    resp = _login(client, "worker")
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_secure_cookie_in_production(tmp_path, monkeypatch):
    from portal.config import build_config
    monkeypatch.setenv("PORTAL_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    cfg = build_config(str(tmp_path))
    assert cfg["SESSION_COOKIE_SECURE"] is True and cfg["WTF_CSRF_SSL_STRICT"] is True


def test_language_choice(app, world, login):
    c = login(world.worker)
    assert "Sign out" in c.get("/home").get_data(as_text=True)
    assert c.post_form("/language", {"locale": "zh", "next": "/home"}).status_code == 303
    html = c.get("/home").get_data(as_text=True)
    assert 'lang="zh-Hans"' in html and "退出" in html
    with app.app_context():
        assert db.session.get(User, world.worker.id).locale == "zh"


def test_browser_language_is_the_default(client):
    html = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).get_data(as_text=True)
    assert 'lang="zh-Hans"' in html and "登录" in html


def test_fields_are_not_marked_invalid_until_they_are(client):
    html = client.get("/login").get_data(as_text=True)
    assert "aria-invalid" not in html and '"None"' not in html


def test_polling_does_not_keep_an_idle_session_alive(app, world, login):
    c = login(world.worker)
    start = clock.now()
    try:
        for minutes in range(5, 35, 5):  # the live region polls; the person is away
            clock.freeze(start + timedelta(minutes=minutes))
            c.htmx_get("/live")
        clock.freeze(start + app.config["IDLE_TIMEOUT"] + timedelta(minutes=1))
        resp = c.htmx_get("/live")
    finally:
        clock.freeze(None)
    assert resp.status_code == 204 and "/login" in resp.headers["HX-Redirect"]


def test_throttle_shared_through_redis(world, make_app):
    """With REDIS_URL the limits hold across workers: two app instances share one count."""
    import secrets
    redis = pytest.importorskip("redis")
    url = "redis://127.0.0.1:6379/15"
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        client.close()
        pytest.skip("no Redis on 127.0.0.1:6379")
    prefix = "portal-test-" + secrets.token_hex(6)  # this run's keys only: runs may overlap
    try:
        cfg = {"RATELIMIT_STORAGE_URI": url, "RATELIMIT_KEY_PREFIX": prefix,
               "LOGIN_LIMIT_PER_ACCOUNT": "2 per 15 minutes"}
        first, second = make_app(**cfg), make_app(**cfg)
        assert _login(first.test_client(), "worker", "bad").status_code == 422
        assert _login(second.test_client(), "worker", "bad").status_code == 422
        assert _login(first.test_client(), "worker").status_code == 429
    finally:
        for key in client.scan_iter(f"*{prefix}*"):
            client.delete(key)
        client.close()


def test_signing_out_keeps_the_users_language(app, world, login):
    """A Chinese-speaking user signs out and reads the sign-in page in Chinese. (UX review.)"""
    from portal.extensions import db
    from portal.models import User
    with app.app_context():
        db.session.get(User, world.worker.id).locale = "zh"
        db.session.commit()
    c = login(world.worker)
    resp = c.post_form("/logout", {})
    page = c.get(resp.headers["Location"]).get_data(as_text=True)
    assert 'lang="zh-Hans"' in page and "您已退出登录。" in page
