"""A referral to an outside agency in a real browser: the worker finds agencies in the directory,
records a guardian's consent to share the student's identity and the reason with one of them (a
signed form, for three months), drafts a referral to that agency and sends it on that consent, and
prints the letter (what was ticked, and nothing of the portal). A second referral, to an agency the
consent does not cover, is refused when sent (422, what was typed kept, still a draft). The first
referral is then accepted, has its first appointment (refused without the date) and is closed with
its outcome; its history, the case timeline, the disclosure log and the agency's figures show it."""
import calendar
import re
import secrets

import pytest

from tests.e2e.helpers import expect_same_document, mark_document

try:
    from playwright.sync_api import expect
except ImportError:  # the conftest skips every test here, saying why
    expect = None

pytestmark = pytest.mark.e2e

WORKER_NAME = "Wang Fang (王芳)"  # demo `worker`
# Two of the demo directory's six agencies: the consent names the first only.
WESTHILL = "西山家庭服务中心 Westhill Family Services"
LAKESIDE = "东湖儿童青少年心理门诊 Lakeside Child and Adolescent Mental Health"
DEMO_AGENCIES = 6
IDENTITY = "Name, date of birth and school"
REASON = "Why the student is referred"
NO_CONSENT = ("No consent in force covers this agency and everything ticked. Record the consent first, "
              "or choose an exemption and give the reason.")
REJECTED_422 = r"^Failed to load resource: the server responded with a status of 422\b"
# The smallest thing the store recognises as a PDF (it sniffs the first bytes, not the name).
PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
REFERRAL_URL = re.compile(r"/referrals/(\d+)$")
REFERRAL_REFERENCE = re.compile(r"F\d{4}-\d{5}")


# -- looking up demo records -------------------------------------------------------------------

def _case_for_referrals(session):
    """An open case of `worker` past intake, with no consent, referral, family contact, home visit
    or crisis, whose student has a guardian without any restriction; the first such by id. The
    notes journey uses the first open case of `worker` and the family journey the last case fit for
    family work (both are left out here), the demo data's referral sits on the last active case,
    the review journey takes an intake or assessment case and the crisis journeys open new ones."""
    from sqlalchemy import select

    from portal.models import Case, Crisis, User
    from portal.models.family import FamilyContact, HomeVisit
    from portal.models.referrals import Consent, Referral

    def unrestricted(g):
        return not g.contact_restricted and not g.restrictions

    def none_of(*models):
        return [~select(m.id).where(m.case_id == Case.id).exists() for m in models]

    of_worker = select(Case).join(User, Case.worker_id == User.id).where(User.username == "worker")
    notes_case = session.scalar(select(Case.id).join(User, Case.worker_id == User.id)
                                .where(User.username == "worker", Case.status != "closed")
                                .order_by(Case.id).limit(1))
    past_intake = of_worker.where(Case.status.in_(("planning", "active", "review")),
                                  *none_of(FamilyContact, HomeVisit, Crisis))
    family_case = next((c.id for c in session.scalars(past_intake.order_by(Case.id.desc()))
                        if all(unrestricted(g) for g in c.student.guardians)), None)
    for case in session.scalars(past_intake.where(*none_of(Consent, Referral)).order_by(Case.id)):
        if case.id in (notes_case, family_case):
            continue
        guardian = next((g for g in case.student.guardians if unrestricted(g)), None)
        if guardian is None:
            continue
        return {"id": case.id, "reference": case.reference, "student": case.student.name,
                "guardian": guardian.name, "relationship": guardian.relationship_to_student}
    return None


def _school_today(session):
    """Today on the school's clock: the dates the portal fills in and checks against."""
    from portal.i18n import local_today
    return local_today()


def _add_months(day, months):
    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def _medium_date(d):
    """A date as the portal shows it in English (Babel's medium format)."""
    return f"{d:%b} {d.day}, {d.year}"


# -- small steps -------------------------------------------------------------------------------

def _nav(page, name):
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True).click()


def _agency_rows(page):
    return page.locator("#agency-list tbody tr")


def _new_referral(page, case, agency, agency_type, urgency, reason):
    """From the case page: draft a referral with the items pre-ticked; ends on the referral's page
    and returns its id and reference."""
    page.locator("#referrals").get_by_role("link", name="New referral").click()
    page.wait_for_url(re.compile(rf"/cases/{case['id']}/referrals/new$"))
    expect(page.get_by_role("heading", name=f"New referral for {case['student']}", level=1)).to_be_visible()
    items = page.get_by_role("group", name="Information to share (the minimum necessary)")
    expect(items.get_by_role("checkbox")).to_have_count(7)
    expect(items.get_by_label(IDENTITY)).to_be_checked()
    expect(items.get_by_label(REASON)).to_be_checked()
    expect(items.get_by_role("checkbox", checked=True)).to_have_count(2)
    page.get_by_label("Agency").select_option(label=f"{agency} · {agency_type}")  # as in the directory
    page.get_by_label("Urgency").select_option(label=urgency)
    page.get_by_label("Reason for the referral", exact=True).fill(reason)
    page.get_by_role("button", name="Save as a draft").click()
    page.wait_for_url(REFERRAL_URL)
    expect(page.get_by_text("Referral drafted. Check the letter, then send it.")).to_be_visible()
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text(REFERRAL_REFERENCE)
    expect(heading.locator(".badge")).to_have_text("Draft")
    reference = REFERRAL_REFERENCE.search(heading.inner_text()).group(0)
    return int(REFERRAL_URL.search(page.url).group(1)), reference


def _basis(page):
    """The paragraph under the referral's "Basis" heading."""
    return page.get_by_role("heading", name="Basis", level=2).locator("xpath=following-sibling::p[1]")


def _history(page):
    return page.get_by_role("heading", name="History", level=2).locator("xpath=following-sibling::ol[1]/li")


def _new_status(page):
    """The "New status" select of "Record what happened"."""
    return page.locator("#referral-status").get_by_label("New status", exact=True)


def _record_status(page, referral_id, status, **fields):
    """Fill "Record what happened" and press Record; returns the POST's response."""
    form = page.locator("#referral-status")
    _new_status(page).select_option(label=status)
    for label, value in fields.items():
        control = form.get_by_label(label, exact=True)
        if label.startswith("Outcome"):
            control.select_option(label=value)
        else:
            control.fill(value)
    with page.expect_response(lambda r: r.request.method == "POST"
                              and r.url.endswith(f"/referrals/{referral_id}/status")) as answer:
        form.get_by_role("button", name="Record", exact=True).click()
    return answer.value


# -- the journey -------------------------------------------------------------------------------

def test_consent_referral_sent_on_it_letter_refused_second_agency_and_status_to_closed(
        page, live_server, sign_in, db_query, browser_problems):
    # Sending without a covering consent and a first appointment without its date answer 422 (a
    # page) by design; Chromium logs every 4xx, so that line is expected.
    browser_problems.allow(REJECTED_422)
    case = db_query(_case_for_referrals)
    assert case is not None, "the demo data has no open case of `worker` fit for a referral"
    case_url = f"{live_server}/cases/{case['id']}"
    today = db_query(_school_today)
    expires = _add_months(today, 3)
    given_by = f"{case['guardian']} · {case['relationship']}"
    tag = secrets.token_hex(3)
    purpose = f"Parenting support for the family ({tag})."
    reason = f"Arguments at home for months ({tag}); the student is withdrawn at school and asks for help."
    second_reason = f"Low mood and poor sleep ({tag}); an assessment is needed."
    exemption_note = f"Drafted before checking the consent ({tag})."
    worker = page

    # 1. The directory: six agencies, found by name and by type (by htmx, in place).
    sign_in(worker, live_server, "worker")
    _nav(worker, "Agencies")
    worker.wait_for_url(re.compile(r"/agencies$"))
    expect(worker.get_by_role("heading", name="Agency directory", level=1)).to_be_visible()
    expect(_agency_rows(worker)).to_have_count(DEMO_AGENCIES)
    filters = worker.get_by_role("search")
    mark_document(worker)
    filters.get_by_label("Search").fill("Westhill")
    expect(_agency_rows(worker)).to_have_count(1)
    row = _agency_rows(worker).first
    expect(row.get_by_role("link", name=WESTHILL, exact=True)).to_be_visible()
    expect(row).to_contain_text("Family services")
    expect(row).to_contain_text("3 weeks")
    worker.wait_for_url(re.compile(r"/agencies\?q=Westhill(&|$)"))
    filters.get_by_label("Search").fill("")
    expect(_agency_rows(worker)).to_have_count(DEMO_AGENCIES)
    filters.get_by_label("Type").select_option(label="Mental health")
    expect(_agency_rows(worker)).to_have_count(1)
    expect(_agency_rows(worker).first.get_by_role("link", name=LAKESIDE, exact=True)).to_be_visible()
    expect_same_document(worker)

    # 2. On the case page: no referral or consent yet; the guardian's signed consent for Westhill,
    #    to share the student's identity and the reason, for three months.
    worker.goto(case_url)
    referrals = worker.locator("#referrals")
    expect(referrals.get_by_role("heading", name="Referrals and consent", level=2)).to_be_visible()
    expect(referrals).to_contain_text("No consent recorded.")
    expect(referrals.get_by_role("heading", name="Disclosure log")).to_have_count(0)
    referrals.locator("summary", has_text="Record consent").click()
    referrals.get_by_label("Agency").select_option(label=f"{WESTHILL} · Family services")
    referrals.get_by_label("Given by").select_option(label=given_by)
    referrals.get_by_label("How", exact=True).select_option(label="Signed form")
    expect(referrals.get_by_label("Given on")).to_have_value(today.isoformat())
    referrals.get_by_label("Expires on").fill(expires.isoformat())
    scope = referrals.get_by_role("group", name="Information that may be shared")
    expect(scope.get_by_role("checkbox", checked=True)).to_have_count(0)
    scope.get_by_label(IDENTITY).check()
    scope.get_by_label(REASON).check()
    referrals.get_by_label("Purpose").fill(purpose)
    referrals.get_by_label("The signed form (PDF or image)").set_input_files(
        {"name": f"consent-{tag}.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES})
    referrals.get_by_role("button", name="Record the consent").click()
    worker.wait_for_url(re.compile(rf"/cases/{case['id']}#referrals$"))
    expect(worker.get_by_text("Consent recorded.")).to_be_visible()
    consent = referrals.locator("li").filter(has=worker.locator("strong", has_text=WESTHILL))
    expect(consent).to_have_count(1)
    expect(consent).to_contain_text(
        f"from {case['guardian']} · Signed form · {_medium_date(today)} to {_medium_date(expires)}")
    expect(consent.locator(".badge")).to_have_text("in force")
    expect(consent.locator(".small").first).to_have_text(f"{IDENTITY} · {REASON}")
    expect(worker.locator("#attachments").get_by_role("link", name=f"consent-{tag}.pdf")).to_be_visible()
    expect(worker.locator("#timeline")).to_contain_text(f"Consent to share with {WESTHILL} recorded")

    # 3. A referral to Westhill: the consent covers it, so it is sent without an exemption.
    referral_id, reference = _new_referral(worker, case, WESTHILL, "Family services", "Within two weeks",
                                           reason)
    referral_url = worker.url
    expect(worker.get_by_role("link", name=WESTHILL, exact=True)).to_be_visible()
    expect(worker.get_by_role("heading", name="Reason", level=2).locator("xpath=following-sibling::div[1]")) \
        .to_have_text(reason)
    expect(worker.get_by_role("heading", name="Information shared", level=2)
           .locator("xpath=following-sibling::ul[1]/li")).to_have_text([IDENTITY, REASON])
    consent_basis = f"Consent from {case['guardian']}, {_medium_date(today)} to {_medium_date(expires)}."
    expect(_basis(worker)).to_have_text(consent_basis)
    send = worker.locator("#send")
    expect(send.get_by_label("No consent covers this: exemption")).to_have_count(0)
    expect(worker.locator("#referral-status")).to_have_count(0)  # nothing to record before it is sent
    send.get_by_role("button", name="Mark as sent").click()
    worker.wait_for_url(referral_url)
    expect(worker.get_by_text("Referral sent. It is on the student's disclosure log.")).to_be_visible()
    expect(worker.get_by_role("heading", level=1).locator(".badge")).to_have_text("Sent")
    expect(_basis(worker)).to_have_text(consent_basis)
    expect(worker.locator("#send")).to_have_count(0)
    expect(_history(worker)).to_have_count(2)

    # 4. The printable letter: the agency, the student and the reason, on the consent; nothing of
    #    the portal, and not the guardians' details (not ticked).
    worker.get_by_role("link", name="Referral letter (printable)").click()
    worker.wait_for_url(re.compile(rf"/referrals/{referral_id}/letter$"))
    expect(worker).to_have_title(f"Referral {reference}")
    letter = worker.get_by_role("main")
    expect(letter.get_by_role("heading", name="Referral · Within two weeks", level=1)).to_be_visible()
    expect(letter).to_contain_text(reference)
    expect(letter.locator("strong", has_text=WESTHILL)).to_be_visible()
    expect(letter).to_contain_text(case["student"])
    expect(letter.get_by_role("heading", name="Reason for the referral", level=2)
           .locator("xpath=following-sibling::div[1]")).to_have_text(reason)
    expect(letter).to_contain_text(
        f"Consent given on {_medium_date(today)}, valid until {_medium_date(expires)}.")
    expect(letter).to_contain_text(f"Referred by {WORKER_NAME}, school social worker.")
    expect(letter.get_by_role("heading", name="Guardians")).to_have_count(0)
    expect(letter).not_to_contain_text(case["guardian"])
    expect(worker.get_by_role("navigation")).to_have_count(0)
    expect(worker.locator("#live")).to_have_count(0)
    expect(worker.get_by_role("button", name="Sign out")).to_have_count(0)
    expect(worker.get_by_role("link", name="My day")).to_have_count(0)
    print_button = worker.locator("[data-print]")
    expect(print_button).to_have_accessible_name("Print")
    # The button opens the print dialog: stand in for window.print (a headless browser has none).
    worker.evaluate("window.print = () => { document.body.dataset.e2ePrinted = 'yes'; }")
    print_button.click()
    expect(worker.locator("body")).to_have_attribute("data-e2e-printed", "yes")
    back = worker.get_by_role("link", name="Back to the referral")
    worker.emulate_media(media="print")
    expect(print_button).to_be_hidden()
    expect(back).to_be_hidden()
    expect(letter.get_by_role("heading", name="Referral · Within two weeks", level=1)).to_be_visible()
    worker.emulate_media(media="screen")
    back.click()
    worker.wait_for_url(referral_url)

    # 5. A second agency the consent does not cover: drafted, but refused when sent (422), with
    #    the message beside the exemption, what was typed kept, and the referral still a draft.
    worker.goto(case_url)
    second_id, second_reference = _new_referral(worker, case, LAKESIDE, "Mental health", "Routine",
                                                second_reason)
    expect(_basis(worker)).to_have_text("No consent in force covers this agency and everything ticked.")
    send = worker.locator("#send")
    exemption = send.get_by_label("No consent covers this: exemption")
    expect(exemption.locator("option:checked")).to_have_text("None")
    send.get_by_label("Why the exemption applies").fill(exemption_note)
    with worker.expect_response(lambda r: r.request.method == "POST"
                                and r.url.endswith(f"/referrals/{second_id}/send")) as refused:
        send.get_by_role("button", name="Mark as sent").click()
    assert refused.value.status == 422, \
        f"sending without a consent or an exemption answered {refused.value.status}"
    expect(send.locator(".field.has-error .error")).to_have_text(NO_CONSENT)
    expect(send.locator(".field.has-error").get_by_label("No consent covers this: exemption")).to_be_visible()
    expect(exemption).to_have_attribute("aria-invalid", "true")
    expect(send.get_by_label("Why the exemption applies")).to_have_value(exemption_note)
    expect(worker.get_by_role("heading", level=1)).to_contain_text(second_reference)
    expect(worker.get_by_role("heading", level=1).locator(".badge")).to_have_text("Draft")
    expect(_history(worker)).to_have_count(1)
    expect(_history(worker).first).to_contain_text(f"Draft · {_medium_date(today)} · {WORKER_NAME}")
    expect(worker.locator("#referral-status")).to_have_count(0)
    worker.goto(case_url)
    second = referrals.locator("li").filter(has=worker.get_by_role("link", name=second_reference, exact=True))
    expect(second).to_contain_text(LAKESIDE)
    expect(second.locator(".badge")).to_have_text("Draft")

    # 6. Back to the Westhill referral: accepted.
    first = referrals.locator("li").filter(has=worker.get_by_role("link", name=reference, exact=True))
    expect(first.locator(".badge")).to_have_text("Sent")
    first.get_by_role("link", name=reference).click()
    worker.wait_for_url(referral_url)
    status = worker.locator("#referral-status")
    expect(status.get_by_role("heading", name="Record what happened", level=2)).to_be_visible()
    expect(status.get_by_label("On", exact=True)).to_have_value(today.isoformat())
    expect(_new_status(worker).locator("option")).to_have_text(
        ["Choose…", "Acknowledged by the agency", "Accepted", "On the waiting list", "Declined by the agency",
         "Closed"])
    assert _record_status(worker, referral_id, "Accepted").status == 303
    worker.wait_for_url(referral_url)
    expect(worker.get_by_text("Referral updated.")).to_be_visible()
    expect(worker.get_by_role("heading", level=1).locator(".badge")).to_have_text("Accepted")

    # 7. The first appointment: refused without its date (422, in its field), then recorded.
    answer = _record_status(worker, referral_id, "First appointment")
    assert answer.status == 422, f"a first appointment without a date answered {answer.status}"
    appointment = status.get_by_label("First appointment on")
    expect(status.locator(".field.has-error .error")).to_have_text("This field is required.")
    expect(appointment).to_have_attribute("aria-invalid", "true")
    expect(_new_status(worker)).to_have_value("first_appointment")
    expect(worker.get_by_role("heading", level=1).locator(".badge")).to_have_text("Accepted")
    assert _record_status(worker, referral_id, "First appointment",
                          **{"First appointment on": today.isoformat()}).status == 303
    worker.wait_for_url(referral_url)
    expect(worker.get_by_role("heading", level=1).locator(".badge")).to_have_text("First appointment")
    expect(worker.get_by_text(f"First appointment: {_medium_date(today)}")).to_be_visible()

    # 8. Closed: the student engaged and was helped (no note needed).
    expect(_new_status(worker).locator("option")).to_have_text(["Choose…", "In service", "Closed"])
    assert _record_status(worker, referral_id, "Closed",
                          **{"Outcome (when closing)": "Engaged and helped"}).status == 303
    worker.wait_for_url(referral_url)
    expect(worker.get_by_role("heading", level=1).locator(".badge")).to_have_text("Closed")
    expect(worker.get_by_text("Outcome: Engaged and helped")).to_be_visible()
    expect(worker.locator("#referral-status")).to_have_count(0)  # nothing comes after closed
    expect(worker.locator("#send")).to_have_count(0)
    day = _medium_date(today)
    expect(_history(worker)).to_have_count(5)
    expect(_history(worker)).to_contain_text([f"{step} · {day} · {WORKER_NAME}" for step in (
        "Draft", "Sent", "Accepted", "First appointment", "Closed")])
    expect(_basis(worker)).to_have_text(consent_basis)  # what it was sent on

    # 9. The case page: both referrals, the steps on the timeline, Westhill alone on the
    #    disclosure log (the refused referral shared nothing).
    worker.get_by_role("link", name=f"← {case['student']} · {case['reference']}").click()
    worker.wait_for_url(re.compile(rf"/cases/{case['id']}#referrals$"))
    expect(first.locator(".badge")).to_have_text("Closed")
    expect(first).to_contain_text("Engaged and helped")
    expect(second.locator(".badge")).to_have_text("Draft")
    timeline = worker.locator("#timeline")
    for entry in (f"Referral {reference} to {WESTHILL} drafted",
                  *(f"Referral {reference} to {WESTHILL}: {step}"
                    for step in ("Sent", "Accepted", "First appointment", "Closed")),
                  f"Referral {second_reference} to {LAKESIDE} drafted"):
        expect(timeline.locator(".what").filter(has_text=entry)).to_have_count(1)
    expect(timeline.locator(".what").filter(has_text=f"Referral {second_reference} to {LAKESIDE}:")) \
        .to_have_count(0)  # never sent
    disclosures = referrals.get_by_role("heading", name="Disclosure log") \
        .locator("xpath=following-sibling::ul[1]/li")
    expect(disclosures).to_have_count(1)
    expect(disclosures).to_contain_text(f"{WESTHILL} · {IDENTITY}, {REASON} · on consent · {WORKER_NAME}")
    expect(disclosures).not_to_contain_text(LAKESIDE)

    # 10. The directory's figures for Westhill count the referral.
    _nav(worker, "Agencies")
    worker.wait_for_url(re.compile(r"/agencies$"))
    westhill = _agency_rows(worker).filter(has=worker.get_by_role("link", name=WESTHILL, exact=True))
    expect(westhill).to_contain_text("1 sent · 1 accepted")
    expect(_agency_rows(worker).filter(has=worker.get_by_role("link", name=LAKESIDE, exact=True))) \
        .not_to_contain_text("2 sent")  # the refused draft went nowhere
