"""Two-factor sign-in in a real browser: a worker sets it up from the QR code's key, keeps the
recovery codes, signs out, and signs in again with the password and a code from the "phone"
(computed here with pyotp, as an authenticator app would)."""
import re
import secrets
import time

import pyotp
import pytest

from tests.e2e.conftest import DEMO_PASSWORD
from tests.e2e.helpers import sign_out

try:
    from playwright.sync_api import expect
except ImportError:  # the conftest skips every test here, saying why
    expect = None

pytestmark = pytest.mark.e2e


def _new_worker(session):
    """A worker of Eastlake of their own, so that no other journey meets a second factor."""
    from sqlalchemy import select

    from portal.auth.passwords import hash_password
    from portal.models import School, User
    name = "mfa" + secrets.token_hex(3)
    session.add(User(username=name, display_name="Zhao Xin (赵欣)", role="social_worker", password_hash=hash_password(
        DEMO_PASSWORD), schools=[session.scalar(select(School).where(School.code == "EPS"))],
        supervisor=session.scalar(select(User).where(User.username == "assistant"))))
    session.commit()
    return name


def test_a_worker_enrols_signs_out_and_signs_in_with_a_code(page, live_server, sign_in, db_query, browser_problems):
    browser_problems.allow(r"^Failed to load resource: the server responded with a status of 422\b")  # the wrong code
    username = db_query(_new_worker)
    sign_in(page, live_server, username)

    page.get_by_role("link", name="Security").click()
    expect(page.get_by_role("heading", name="Account security", level=1)).to_be_visible()
    expect(page.get_by_text("Off", exact=True)).to_be_visible()
    page.get_by_role("link", name="Set up two-factor sign-in").click()

    qr = page.get_by_role("img", name="QR code for your authenticator app")
    expect(qr).to_be_visible()
    assert qr.get_attribute("src").startswith("data:image/svg+xml"), "drawn by the portal, no outside service"
    assert qr.evaluate("img => img.naturalWidth") > 0, "the CSP lets the QR code show"
    secret = page.locator("code.secret").inner_text().replace(" ", "")
    totp = pyotp.TOTP(secret)

    # A mistyped code is refused beside the field, and the key stays on the page.
    wrong = "000000" if totp.now() != "000000" else "111111"
    page.get_by_label("Code").fill(wrong)
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page.get_by_text("That code is not right.")).to_be_visible()
    assert page.locator("code.secret").inner_text().replace(" ", "") == secret

    page.get_by_label("Code").fill(totp.now())
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page.get_by_role("heading", name="Your recovery codes", level=1)).to_be_visible()
    codes = page.locator(".recovery-codes code").all_inner_texts()
    assert len(codes) == 10 and all(re.fullmatch(r"[a-z2-9]{5}-[a-z2-9]{5}", c) for c in codes)
    page.get_by_role("link", name="I have kept them").click()
    expect(page.get_by_text("On", exact=True)).to_be_visible()
    expect(page.get_by_text("10 unused recovery codes left.")).to_be_visible()

    sign_out(page)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/login/code$"))
    expect(page.get_by_role("heading", name="Two-factor sign-in", level=1)).to_be_visible()
    # The code the app shows next (the one used to enrol is spent; the next period's is accepted).
    page.get_by_label("Code").fill(totp.at(time.time() + 30))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/home$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Welcome")

    page.get_by_role("link", name="Security").click()
    expect(page.get_by_text("This browser")).to_be_visible()
