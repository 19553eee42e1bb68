"""Browser journeys: the real app on a live server, driven by the system Chromium (Playwright).

The whole directory is skipped (at fixture level, with the reason shown) when /usr/bin/chromium
or Playwright is missing. Every page's console is watched: a console error, an uncaught script
error or a Content-Security-Policy violation fails the test, so a change that breaks the strict
CSP (an inline style or script, htmx evaluating code) cannot pass unnoticed.
"""
import os
import re
import secrets
import threading

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

try:
    from playwright.sync_api import sync_playwright
except ImportError as exc:  # pragma: no cover - depends on the machine
    sync_playwright = None
    _PLAYWRIGHT_IMPORT_ERROR = exc
else:
    _PLAYWRIGHT_IMPORT_ERROR = None

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run"]
DEMO_PASSWORD = "e2e demo password " + secrets.token_hex(4)
# Enough that every planned demo case gets its own student (23 in Eastlake) and many have none.
STUDENTS_PER_SCHOOL = 70
TIMEOUT_MS = 10_000

# A refused or missing document is an expected outcome of some journeys; Chromium logs it anyway.
_EXPECTED_LOAD_FAILURE = re.compile(
    r"^Failed to load resource: the server responded with a status of (403|404)\b")


def pytest_collection_modifyitems(config, items):
    here = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        if str(item.path).startswith(here + os.sep):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def e2e_available():
    """Skip every journey, saying why, when the browser or Playwright is not there."""
    if _PLAYWRIGHT_IMPORT_ERROR is not None:
        pytest.skip(f"Playwright cannot be imported ({_PLAYWRIGHT_IMPORT_ERROR}); "
                    "install it in the venv to run the browser journeys")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"Chromium not found at {CHROMIUM}; install Debian's chromium package "
                    "to run the browser journeys")


@pytest.fixture(autouse=True)
def _skip_without_browser(e2e_available):
    """Applies the skip to every test here, even one that needs no browser fixture."""


@pytest.fixture(autouse=True)
def _sign_in_budget(request):
    """Each journey starts with a fresh sign-in budget. The app allows 10 sign-in attempts per
    account in 15 minutes (successful ones count too) and the live server lives for the whole
    session, so the journeys together would lock `worker` out. Only the test server's in-memory
    counters are cleared."""
    if "live_app" not in request.fixturenames and "live_server" not in request.fixturenames:
        yield
        return
    from portal.extensions import limiter
    live_app = request.getfixturevalue("live_app")
    assert live_app.config["RATELIMIT_STORAGE_URI"].startswith("memory://")
    with live_app.app_context():
        limiter.reset()
    yield


# -- the live server -----------------------------------------------------------------------------

class _QuietHandler(WSGIRequestHandler):
    """No access log lines in the test output."""

    def log_request(self, *args, **kwargs):
        pass


@pytest.fixture(scope="session")
def live_app(e2e_available, tmp_path_factory):
    """The app on its own SQLite database (never TEST_DATABASE_URL), loaded with the demo data."""
    import flask_migrate

    from portal import create_app, demo
    from portal.extensions import db

    base = tmp_path_factory.mktemp("e2e")
    app = create_app({
        "TESTING": False,
        "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(base / "e2e.db"),
        "INSTANCE_PATH": str(base / "instance"),
        "SECRET_KEY": "e2e-secret-" + secrets.token_hex(16),
        "RATELIMIT_STORAGE_URI": "memory://",
        "SESSION_COOKIE_SECURE": False,
    })
    with app.app_context():
        flask_migrate.upgrade()
        demo.build(DEMO_PASSWORD, students_per_school=STUDENTS_PER_SCHOOL)
        db.session.commit()
        db.session.remove()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def live_server(live_app):
    """Base URL of the app served by a threaded Werkzeug server on a free local port."""
    server = make_server("127.0.0.1", 0, live_app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="e2e-live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture
def db_query(live_app):
    """Run fn() in an app context of the live app (to look up demo records) and return its result."""
    from portal.extensions import db

    def _run(fn):
        with live_app.app_context():
            try:
                return fn(db.session)
            finally:
                db.session.remove()
    return _run


# -- the browser ---------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def playwright_instance(e2e_available):
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright_instance):
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


class BrowserProblems:
    """Console errors, uncaught exceptions and CSP violations seen by one test's pages."""

    def __init__(self):
        self.problems = []
        self._allowed = []

    def allow(self, pattern):
        """Tolerate console errors matching `pattern` (a regex) for the rest of this test."""
        self._allowed.append(re.compile(pattern))

    def console(self, msg):
        if msg.type != "error":
            return
        text = msg.text
        if _EXPECTED_LOAD_FAILURE.search(text) or any(p.search(text) for p in self._allowed):
            return
        loc = msg.location or {}
        self.problems.append(f"console error: {text} ({loc.get('url', '?')}:{loc.get('lineNumber', '?')})")

    def page_error(self, error):
        self.problems.append(f"uncaught page error: {error}")

    def csp_violation(self, source, detail):
        self.problems.append("CSP violation: {directive} blocked {blocked} on {url}".format(
            directive=detail.get("directive"), blocked=detail.get("blocked"), url=source["frame"].url
            if isinstance(source, dict) and source.get("frame") else "?"))

    def report(self):
        return "\n".join(self.problems)


# Reports every securitypolicyviolation event to the test (runs before any page script).
_CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", function (e) {
  window.__portalCspViolation({directive: e.effectiveDirective || e.violatedDirective,
                               blocked: e.blockedURI || "inline", sample: e.sample || ""});
}, true);
"""


@pytest.fixture
def browser_problems():
    return BrowserProblems()


def _person_page(browser, browser_problems):
    """A page in a fresh browser context (its own cookies), English, watched for console errors
    and CSP violations."""
    context = browser.new_context(locale="en-US", timezone_id="Asia/Shanghai")
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    context.expose_binding("__portalCspViolation", browser_problems.csp_violation)
    context.add_init_script(_CSP_LISTENER)
    pg = context.new_page()
    pg.on("console", browser_problems.console)
    pg.on("pageerror", browser_problems.page_error)
    return context, pg


@pytest.fixture
def page(browser, browser_problems):
    """The first person's page (no cookies carried between tests)."""
    context, pg = _person_page(browser, browser_problems)
    try:
        yield pg
    finally:
        context.close()


@pytest.fixture
def second_page(browser, browser_problems):
    """Another person's page, in a context of its own, for journeys with two people at once."""
    context, pg = _person_page(browser, browser_problems)
    try:
        yield pg
    finally:
        context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Fail (not error) a journey whose pages logged console errors or CSP violations."""
    result = yield
    problems = item.funcargs.get("browser_problems") if hasattr(item, "funcargs") else None
    if problems is not None and problems.problems:
        pytest.fail("The browser reported problems:\n" + problems.report(), pytrace=False)
    return result


def _sign_in(page, base_url, username, password=DEMO_PASSWORD):
    """Sign in through the login form as a person would; ends on the home page."""
    page.goto(base_url + "/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/home$"))
    return page


@pytest.fixture
def sign_in():
    """sign_in(page, base_url, username): log in with the demo password and land on /home."""
    return _sign_in
