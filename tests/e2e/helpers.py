"""Small steps the browser journeys share."""
import re


def mark_document(page):
    """Tag the current document; the tag survives htmx swaps but not a page load."""
    page.evaluate("document.documentElement.dataset.e2eMark = 'same-document'")


def expect_same_document(page):
    """No page load happened since mark_document (the change came by htmx)."""
    from playwright.sync_api import expect  # imported here: without Playwright the journeys skip
    expect(page.locator("html")).to_have_attribute("data-e2e-mark", "same-document")


def sign_out(page):
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login(\?.*)?$"))
