"""Two-factor sign-in (TOTP, recovery codes), sessions and unused accounts, on a frozen clock."""
import re
from datetime import datetime, timedelta

import pyotp
import pytest
from sqlalchemy import select, text

from portal import clock
from portal.extensions import db
from portal.models import AuditEvent, LoginSession, Notification, RecoveryCode, User
from tests.conftest import PASSWORD

NOON = datetime(2026, 12, 1, 12, 0, 10)


@pytest.fixture
def frozen():
    """Pin the clock at NOON; move it with frozen(seconds=…)."""
    def move(**delta):
        clock.freeze(NOON + timedelta(**delta))
    move()
    yield move
    clock.freeze(None)


def _token(html):
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def _password_step(client, username, password=PASSWORD):
    page = client.get("/login")
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": _token(page.get_data(as_text=True))})


def _code_step(client, code):
    page = client.get("/login/code")
    return client.post("/login/code", data={"code": code, "csrf_token": _token(page.get_data(as_text=True))})


def _enrol(app, client):
    """Through the pages: read the key from the set-up page, confirm with its current code."""
    page = client.get("/account/two-factor").get_data(as_text=True)
    secret = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', page).group(1).replace(" ", "")
    resp = client.post_form("/account/two-factor", {"code": pyotp.TOTP(secret).at(clock.now())})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    codes = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", resp.get_data(as_text=True))
    return secret, codes


def _code(secret, **delta):
    return pyotp.TOTP(secret).at(clock.now() + timedelta(**delta))


def test_enrolment_shows_a_local_qr_code_and_needs_a_right_code(app, world, login, frozen):
    c = login(world.worker)
    page = c.get("/account/two-factor")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'src="data:image/svg+xml' in html, "the QR code is drawn by the portal"
    assert "img-src 'self' data:" in page.headers["Content-Security-Policy"]
    secret = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', html).group(1).replace(" ", "")
    again = c.get("/account/two-factor").get_data(as_text=True)
    assert secret.replace(" ", "") in again.replace(" ", ""), "a reload shows the same key"
    wrong = c.post_form("/account/two-factor", {"code": "000000" if _code(secret) != "000000" else "111111"})
    assert wrong.status_code == 422 and "not right" in wrong.get_data(as_text=True)
    with app.app_context():
        assert not db.session.get(User, world.worker.id).mfa_enabled
    ok = c.post_form("/account/two-factor", {"code": _code(secret)})
    codes = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", ok.get_data(as_text=True))
    assert ok.status_code == 200 and len(codes) == 10 and len(set(codes)) == 10
    with app.app_context():
        user = db.session.get(User, world.worker.id)
        assert user.mfa_enabled and user.mfa_secret == secret
        hashes = db.session.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)).all()
        assert len(hashes) == 10 and all(h.startswith("$argon2") for h in hashes)
        assert not any(code.replace("-", "") in h for code in codes for h in hashes)
        actions = [e.action for e in db.session.scalars(select(AuditEvent))]
        assert "auth.mfa_enabled" in actions and "auth.mfa_code_failed" in actions
        # The secret is encrypted at rest: nothing in the users table holds it.
        raw = db.session.execute(text("SELECT * FROM users WHERE id = :i"), {"i": user.id}).one()
        assert not any(isinstance(v, str) and secret in v for v in raw)
        assert not any(isinstance(v, bytes) and secret.encode() in v for v in raw)


def test_enrolment_signs_out_the_other_sessions(app, world, login, frozen):
    other = login(world.worker)
    c = login(world.worker)
    _enrol(app, c)
    assert other.get("/home").status_code == 303
    assert c.get("/home").status_code == 200


def test_sign_in_with_a_code_on_a_controllable_clock(app, world, login, client, frozen):
    secret, _codes = _enrol(app, login(world.worker))
    frozen(minutes=5)
    first = _password_step(client, "worker")
    assert first.status_code == 303 and first.headers["Location"] == "/login/code"
    assert client.get("/home").status_code == 303, "the password alone signs nobody in"
    with app.app_context():
        assert db.session.query(LoginSession).filter_by(user_id=world.worker.id, ended_at=None).count() == 1
    assert _code_step(client, _code(secret)).headers["Location"] == "/home"
    assert client.get("/home").status_code == 200

    # The same code cannot sign in twice (a code read over a shoulder is already spent) ...
    thief = app.test_client()
    _password_step(thief, "worker")
    assert _code_step(thief, _code(secret)).status_code == 422
    # ... the next one can; a code from two minutes ago cannot.
    frozen(minutes=5, seconds=30)
    late = app.test_client()
    _password_step(late, "worker")
    assert _code_step(late, _code(secret, minutes=-2)).status_code == 422
    assert _code_step(late, _code(secret)).status_code == 303
    # A phone a little out of step (one period either way) still works.
    frozen(minutes=7)
    drift = app.test_client()
    _password_step(drift, "worker")
    assert _code_step(drift, _code(secret, seconds=30)).status_code == 303


def test_the_code_step_expires(app, world, login, client, frozen):
    secret, _ = _enrol(app, login(world.worker))
    frozen(minutes=2)
    _password_step(client, "worker")
    frozen(minutes=2, seconds=app.config["MFA_PENDING_SECONDS"] + 1)
    assert client.get("/login/code").headers["Location"] == "/login"
    token = _token(client.get("/login").get_data(as_text=True))
    resp = client.post("/login/code", data={"code": _code(secret), "csrf_token": token})
    assert resp.status_code == 303 and resp.headers["Location"] == "/login"
    assert client.get("/home").status_code == 303


def test_a_wrong_password_never_reaches_the_code_step(app, world, login, client, frozen):
    _enrol(app, login(world.worker))
    assert _password_step(client, "worker", "wrong password").status_code == 422
    assert client.get("/login/code").headers["Location"] == "/login"


def test_recovery_codes_are_single_use(app, world, login, frozen):
    secret, codes = _enrol(app, login(world.worker))
    c = app.test_client()
    _password_step(c, "worker")
    resp = _code_step(c, codes[0].upper().replace("-", " "))  # typed from paper, any case or spacing
    home = c.get("/home")
    assert resp.status_code == 303 and home.status_code == 200
    assert "9 codes are left" in home.get_data(as_text=True)
    again = app.test_client()
    _password_step(again, "worker")
    assert _code_step(again, codes[0]).status_code == 422, "a used recovery code is spent"
    assert _code_step(again, codes[1]).status_code == 303
    with app.app_context():
        assert db.session.query(RecoveryCode).filter(RecoveryCode.used_at.is_not(None)).count() == 2
        assert db.session.query(AuditEvent).filter_by(action="auth.mfa_recovery_code_used").count() == 2


def test_new_recovery_codes_replace_the_old(app, world, login, frozen):
    c = login(world.worker)
    secret, old = _enrol(app, c)
    frozen(minutes=1)
    resp = c.post_form("/account/two-factor/recovery-codes", {"code": _code(secret)})
    new = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", resp.get_data(as_text=True))
    assert resp.status_code == 200 and len(new) == 10 and not set(new) & set(old)
    signing = app.test_client()
    _password_step(signing, "worker")
    assert _code_step(signing, old[0]).status_code == 422
    assert _code_step(signing, new[0]).status_code == 303


def test_code_attempts_are_throttled_per_account(world, make_app, frozen):
    app = make_app(MFA_LIMIT_PER_ACCOUNT="3 per 15 minutes")
    secret, _ = _enrol(app, _signed_in(app, world.worker))
    frozen(minutes=1)
    c = app.test_client()
    _password_step(c, "worker")
    wrong = "123456" if _code(secret) != "123456" else "654321"
    for _ in range(3):
        assert _code_step(c, wrong).status_code == 422
    assert _code_step(c, _code(secret)).status_code == 429, "even the right code waits"
    fresh = app.test_client()
    _password_step(fresh, "worker")
    assert _code_step(fresh, _code(secret)).status_code == 429, "a new sign-in does not reset the count"
    with app.app_context():
        assert db.session.query(AuditEvent).filter_by(action="auth.mfa_code_failed").count() == 3


def _signed_in(app, user):
    from tests.conftest import sign_in
    return sign_in(app, user)


def test_required_roles_must_enrol_before_anything_else(world, make_app, frozen):
    app = make_app(REQUIRE_MFA=True)
    worker = _signed_in(app, world.worker)
    resp = worker.get("/home")
    assert resp.status_code == 303 and resp.headers["Location"] == "/account/two-factor"
    assert worker.get(f"/cases/{world.case_a.id}").headers["Location"] == "/account/two-factor"
    htmx = worker.htmx_get("/students/?q=a")
    assert htmx.status_code == 204 and htmx.headers["HX-Redirect"] == "/account/two-factor"
    assert worker.get("/account/two-factor").status_code == 200
    assert worker.get("/healthz").status_code == 200
    admin = _signed_in(app, world.admin)
    assert admin.get("/admin/users").headers["Location"] == "/account/two-factor"
    assert _signed_in(app, world.teacher).get("/home").status_code == 200, "optional for teachers"
    _enrol(app, worker)
    assert worker.get("/home").status_code == 200


def test_production_requires_it_and_the_demo_does_not(tmp_path, monkeypatch):
    from portal.config import build_config
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    assert build_config(str(tmp_path))["REQUIRE_MFA"] is False
    monkeypatch.setenv("PORTAL_ENV", "production")
    cfg = build_config(str(tmp_path))
    assert cfg["REQUIRE_MFA"] is True and "teacher" not in cfg["MFA_REQUIRED_ROLES"]
    assert {"social_worker", "supervisor_mentor", "admin"} <= set(cfg["MFA_REQUIRED_ROLES"])


def test_a_teacher_may_turn_it_off_a_required_role_may_not(world, make_app, frozen):
    app = make_app(REQUIRE_MFA=True)
    teacher = _signed_in(app, world.teacher)
    _enrol(app, teacher)
    assert teacher.post_form("/account/two-factor/off", {"password": "nope"}).status_code == 422
    assert teacher.post_form("/account/two-factor/off", {"password": PASSWORD}).status_code == 303
    worker = _signed_in(app, world.worker)
    _enrol(app, worker)
    worker.post_form("/account/two-factor/off", {"password": PASSWORD})
    with app.app_context():
        assert not db.session.get(User, world.teacher.id).mfa_enabled
        assert db.session.get(User, world.worker.id).mfa_enabled


def test_an_administrator_resets_a_lost_second_factor(app, world, login, frozen):
    worker = login(world.worker)
    _enrol(app, worker)
    admin = login(world.admin)
    assert "Reset two-factor sign-in" in admin.get(f"/admin/users/{world.worker.id}").get_data(as_text=True)
    assert login(world.peer).post_form(f"/admin/users/{world.worker.id}/two-factor/reset").status_code == 403
    resp = admin.post_form(f"/admin/users/{world.worker.id}/two-factor/reset")
    assert resp.status_code == 303
    assert worker.get("/home").status_code == 303, "the worker is signed out everywhere"
    with app.app_context():
        user = db.session.get(User, world.worker.id)
        assert not user.mfa_enabled and user.mfa_secret is None
        assert db.session.query(RecoveryCode).filter_by(user_id=user.id).count() == 0
        ev = db.session.query(AuditEvent).filter_by(action="auth.mfa_reset").one()
        assert ev.actor_id == world.admin.id and ev.object_id == str(user.id)
        assert db.session.query(Notification).filter_by(user_id=user.id, kind="mfa_reset").count() == 1
    # Signing in again needs only the password (and, where required, a new enrolment).
    c = app.test_client()
    assert _password_step(c, "worker").headers["Location"] == "/home"
    own = admin.post_form(f"/admin/users/{world.admin.id}/two-factor/reset")
    assert own.status_code == 303
    with app.app_context():
        assert db.session.query(AuditEvent).filter_by(action="auth.mfa_reset").count() == 1


# -- sessions ------------------------------------------------------------------------------------------

def test_a_user_sees_their_sessions_and_ends_one(app, world, login):
    phone = login(world.worker)
    desk = login(world.worker)
    with app.app_context():
        db.session.execute(text("UPDATE login_sessions SET user_agent = :ua"),
                           {"ua": "Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/130.0 Safari/537.36"})
        db.session.commit()
        sids = db.session.scalars(select(LoginSession.id).where(LoginSession.user_id == world.worker.id)).all()
    page = desk.get("/account/security").get_data(as_text=True)
    assert "Chrome · Windows" in page and "This browser" in page
    assert not any(sid in page for sid in sids), "the session id is the cookie's secret: never on a page"
    handles = re.findall(r'name="handle" value="([0-9a-f]+)"', page)
    assert len(handles) == 1
    assert desk.post_form("/account/sessions/end", {"handle": handles[0]}).status_code == 303
    assert phone.get("/home").status_code == 303
    assert desk.get("/home").status_code == 200
    with app.app_context():
        assert db.session.query(LoginSession).filter_by(end_reason="ended_by_user").count() == 1
        assert db.session.query(AuditEvent).filter_by(action="auth.session_ended").count() == 1


def test_sign_out_everywhere_else(app, world, login):
    others = [login(world.worker) for _ in range(2)]
    me = login(world.worker)
    someone_else = login(world.peer)
    assert me.post_form("/account/sessions/end-others").status_code == 303
    assert all(o.get("/home").status_code == 303 for o in others)
    assert me.get("/home").status_code == 200 and someone_else.get("/home").status_code == 200


def test_a_session_of_someone_else_cannot_be_ended(app, world, login):
    from portal.auth.services import session_handle
    login(world.peer)
    with app.app_context():
        peer_sid = db.session.scalar(select(LoginSession.id).where(LoginSession.user_id == world.peer.id))
    me = login(world.worker)
    me.post_form("/account/sessions/end", {"handle": session_handle(peer_sid)})
    with app.app_context():
        assert db.session.get(LoginSession, peer_sid).ended_at is None


def test_a_password_change_ends_the_other_sessions(app, world, login):
    other = login(world.worker)
    me = login(world.worker)
    resp = me.post_form("/account/password", {"current_password": PASSWORD, "new_password": "violet tractor umbrella 42",
                                              "confirm": "violet tractor umbrella 42"})
    assert resp.status_code == 303
    assert other.get("/home").status_code == 303 and me.get("/home").status_code == 200


# -- unused accounts -------------------------------------------------------------------------------------

def test_unused_accounts_are_flagged_to_administrators(app, world, login, make):
    old = clock.now() - timedelta(days=app.config["INACTIVE_DAYS"] + 5)
    make.user("social_worker", (world.a,), world.assistant, username="dormant", created_at=old)
    make.user("social_worker", (world.a,), world.assistant, username="lately", created_at=old,
              last_login_at=clock.now() - timedelta(days=2))
    admin = login(world.admin)
    home = admin.get("/home").get_data(as_text=True)
    assert "1 account has not been used for 90 days or more" in home
    listed = admin.get("/admin/users?unused=1").get_data(as_text=True)
    assert "dormant" in listed and "lately" not in listed and ">worker<" not in listed
    assert "Unused for 90 days or more" in admin.get("/admin/users").get_data(as_text=True)


def test_the_unused_accounts_list_does_not_grow_in_queries(app, world, login, make, count_queries):
    admin = login(world.admin)
    old = clock.now() - timedelta(days=app.config["INACTIVE_DAYS"] + 1)

    def queries():
        with count_queries() as q:
            assert admin.get("/admin/users?unused=1").status_code == 200
        return len(q)
    make.user("social_worker", (world.a,), world.assistant, created_at=old)
    few = queries()
    for _ in range(15):
        make.user("social_worker", (world.a, world.b), world.assistant, created_at=old)
    assert queries() == few


def test_the_security_page_does_not_grow_in_queries(app, world, login, count_queries):
    me = login(world.worker)

    def queries():
        with count_queries() as q:
            assert me.get("/account/security").status_code == 200
        return len(q)
    login(world.worker)
    few = queries()
    for _ in range(10):
        login(world.worker)
    assert queries() == few


def test_a_key_read_by_an_earlier_session_is_worthless_once_the_user_enrols(make_app, world):
    """Someone holding only the password reads the set-up key before the user enrols; the user's
    own session is shown a new key, and the old one never passes the code step. (Security review.)"""
    import re as _re
    from datetime import datetime as _dt
    from tests.conftest import sign_in

    def secret_of(page):
        return _re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', page).group(1).replace(" ", "")
    app = make_app(REQUIRE_MFA=True)
    noon = _dt(2026, 12, 1, 12, 0, 10)
    clock.freeze(noon)
    try:
        attacker = sign_in(app, world.worker)
        stolen = secret_of(attacker.get("/account/two-factor").get_data(as_text=True))
        clock.freeze(noon + timedelta(minutes=2))  # both sessions alive
        victim = sign_in(app, world.worker)
        shown = secret_of(victim.get("/account/two-factor").get_data(as_text=True))
        assert shown != stolen
        assert secret_of(victim.get("/account/two-factor").get_data(as_text=True)) == shown, "a reload keeps it"
        assert victim.post_form("/account/two-factor", {"code": pyotp.TOTP(shown).at(clock.now())}).status_code == 200
        clock.freeze(noon + timedelta(days=3))
        fresh = app.test_client()
        assert _password_step(fresh, "worker").headers["Location"].endswith("/login/code")
        assert _code_step(fresh, pyotp.TOTP(stolen).at(clock.now())).status_code == 422
    finally:
        clock.freeze(None)
