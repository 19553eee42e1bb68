"""The work cycle and review in a real browser: a worker writes an assessment, a plan and a service
record; the assistant supervisor returns the record with a comment; the worker revises; the
supervisor (a higher tier) approves the plan; the worker escalates the case and the assistant
supervisor, the next tier up, takes it over from the review queue."""
import re
import secrets
from datetime import datetime, timedelta, timezone

import pytest

from tests.e2e.helpers import expect_same_document, mark_document, sign_out

try:
    from playwright.sync_api import expect
except ImportError:  # the conftest skips every test here, saying why
    expect = None

pytestmark = pytest.mark.e2e

# The demo supervision line at Eastlake Primary: worker -> assistant -> practice -> supervisor -> mentor.
WORKER_NAME = "Wang Fang (王芳)"      # demo `worker`
ASSISTANT_NAME = "Huang Li (黄丽)"    # demo `assistant`, the worker's supervisor
SUPERVISOR_NAME = "Zhou Min (周敏)"   # demo `supervisor`, two tiers above the assistant
RECORD_URL = re.compile(r"/cases/(\d+)/records/(\d+)$")
PLAN_URL = re.compile(r"/cases/(\d+)/plans/(\d+)$")
ASSESSMENT_URL = re.compile(r"/cases/(\d+)/assessments/(\d+)$")
# Area label -> rating label, in the order the portal lists the areas.
RATINGS = {
    "Family": "Serious concern",
    "School and learning": "Some concern",
    "Peers": "No concern",
    "Emotional wellbeing": "Some concern",
    "Behaviour": "No concern",
    "Health": "No concern",
    "Safety": "Some concern",
    "Strengths": "A strength",
}
RISK_LABELS = {"low": "Low", "moderate": "Moderate", "high": "High"}


# -- fixtures and helpers ----------------------------------------------------------------------


def _fresh_case_of(username):
    """An open case of `username` in intake or assessment with no plan, no assessment, no
    escalation and no service record; the last such (the notes journey uses the first open case)."""
    def _lookup(session):
        from sqlalchemy import select

        from portal.models import Assessment, Case, CasePlan, Escalation, ServiceRecord, User
        none_of = [~select(m.id).where(m.case_id == Case.id).exists()
                   for m in (CasePlan, Assessment, Escalation, ServiceRecord)]
        case = session.scalar(
            select(Case).join(User, Case.worker_id == User.id)
            .where(User.username == username, Case.status.in_(("assessment", "intake")), *none_of)
            .order_by((Case.status == "assessment").desc(), Case.id.desc()).limit(1))
        if case is None:
            return None
        return {"id": case.id, "reference": case.reference, "student": case.student.name,
                "risk": case.risk_level, "status": case.status}
    return _lookup


def _open_escalation_id(case_id):
    def _lookup(session):
        from sqlalchemy import select

        from portal.models import Escalation
        return session.scalar(select(Escalation.id).where(Escalation.case_id == case_id,
                                                          Escalation.status == "open"))
    return _lookup


def _server_today():
    """The server's date (its clock is UTC), against which "not in the future/past" is checked."""
    return datetime.now(timezone.utc).date()


def _nav(page, name):
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True).click()


def _open_queue_tab(page, tab_name, tab):
    _nav(page, "Review queue")
    page.wait_for_url(re.compile(r"/review(\?.*)?$"))
    expect(page.get_by_role("heading", name="Review queue", level=1)).to_be_visible()
    page.get_by_role("navigation", name="Review queue").get_by_role(
        "link", name=re.compile("^" + re.escape(tab_name))).click()
    page.wait_for_url(re.compile(rf"/review\?tab={tab}$"))
    expect(page.get_by_role("navigation", name="Review queue").locator("[aria-current=page]")).to_contain_text(
        tab_name)


def _fact(page, term):
    """The value of one fact (<dt>term</dt><dd>value</dd>) in the case header."""
    return page.locator("#case header .facts > div").filter(
        has=page.get_by_role("term").filter(has_text=re.compile("^" + re.escape(term) + "$"))).locator("dd")


# -- the journey -------------------------------------------------------------------------------

def test_assess_plan_record_review_revise_approve_and_escalate(
        page, second_page, live_server, sign_in, db_query):
    case = db_query(_fresh_case_of("worker"))
    assert case is not None, "the demo data has no fresh (intake/assessment) open case for `worker`"
    case_id = case["id"]
    case_url = f"{live_server}/cases/{case_id}"
    tag = secrets.token_hex(3)
    today = _server_today()
    risk = "high" if case["risk"] != "high" else "moderate"
    family_note = f"Parents separated in the spring ({tag}); the student stays with the grandmother."
    goal = f"Attends every lesson for four weeks ({tag})"
    measure = "Attendance register, checked weekly"
    intervention = f"Weekly individual session ({tag})"
    target, review_on = today + timedelta(days=30), today + timedelta(days=42)
    first_summary = f"Met the student after lunch ({tag}); talked about the week at school."
    comment = f"Add what the student said in their own words ({tag})."
    revised_summary = (f"Met the student after lunch ({tag}); talked about the week at school. "
                       "The student said: \"Mornings are the hardest.\"")
    reply = "Added the student's own words."
    worker, reviewer = page, second_page

    # 1. The worker writes the assessment: eight ratings, a note for Family, the overall risk.
    sign_in(worker, live_server, "worker")
    worker.goto(case_url)
    assessment = worker.locator("#assessment")
    expect(assessment).to_contain_text("No assessment yet.")
    assessment.get_by_role("link", name="Write the assessment").click()
    worker.wait_for_url(re.compile(rf"/cases/{case_id}/assessments/new$"))
    expect(worker.get_by_role("heading", name="Assessment", level=1)).to_be_visible()
    for area, rating in RATINGS.items():
        worker.get_by_role("group", name=area, exact=True).get_by_label("Rating").select_option(label=rating)
    worker.get_by_role("group", name="Family", exact=True).get_by_label("Notes").fill(family_note)
    worker.get_by_label("Overall risk level").select_option(label=RISK_LABELS[risk])
    worker.get_by_role("button", name="Save the assessment").click()
    worker.wait_for_url(ASSESSMENT_URL)
    expect(worker.get_by_text("Assessment saved.")).to_be_visible()
    expect(worker.get_by_role("heading", name="Assessment", level=1)).to_be_visible()
    expect(worker.locator(".area-result h2")).to_have_text([f"{a} · {r}" for a, r in RATINGS.items()])
    family = worker.locator(".area-result").filter(has=worker.get_by_role("heading", name=re.compile("^Family ")))
    expect(family.locator(".note-body")).to_have_text(family_note)
    expect(worker.get_by_text(f"by {WORKER_NAME} · overall risk: {RISK_LABELS[risk]}")).to_be_visible()

    worker.get_by_role("link", name=re.compile(re.escape(case["reference"]))).click()
    worker.wait_for_url(re.compile(rf"/cases/{case_id}(#assessment)?$"))
    assessment = worker.locator("#assessment")
    expect(assessment.locator("ul.ratings li")).to_have_text([f"{a} {r}" for a, r in RATINGS.items()])
    expect(assessment).to_contain_text(f"overall risk: {RISK_LABELS[risk]}")
    expect(assessment.get_by_role("link", name="Reassess")).to_be_visible()
    expect(_fact(worker, "Risk")).to_have_text(RISK_LABELS[risk])  # the assessment's risk is the case's

    # 2. The worker writes the case plan and sends it for approval.
    worker.locator("#plan").get_by_role("link", name="Write the case plan").click()
    worker.wait_for_url(re.compile(rf"/cases/{case_id}/plans/new$"))
    worker.get_by_label("Goal", exact=True).first.fill(goal)
    worker.get_by_label("Target date").first.fill(target.isoformat())
    worker.get_by_label("How we will know").first.fill(measure)
    worker.get_by_label("Intervention", exact=True).first.fill(intervention)
    worker.get_by_label("Responsible").first.fill("Social worker")
    worker.get_by_label("How often").first.fill("Weekly")
    worker.get_by_label("Next review date").fill(review_on.isoformat())
    worker.get_by_role("button", name="Send for approval").click()
    worker.wait_for_url(PLAN_URL)
    plan_id = int(PLAN_URL.search(worker.url).group(2))
    expect(worker.get_by_text("Case plan sent for approval.")).to_be_visible()
    expect(worker.get_by_role("heading", name="Case plan, version 1", level=1)).to_contain_text("Awaiting review")
    expect(worker.get_by_role("cell", name=goal)).to_be_visible()
    expect(worker.get_by_role("cell", name=intervention)).to_be_visible()
    worker.goto(case_url)
    plan = worker.locator("#plan")
    expect(plan).to_contain_text("No approved plan yet.")
    expect(plan.locator(".badge")).to_have_text("Awaiting review")
    expect(plan.get_by_role("link", name="Write the case plan")).to_have_count(0)  # one waiting at a time

    # 3. The worker writes a service record and sends it for review.
    worker.locator("#records").get_by_role("link", name="New service record").click()
    worker.wait_for_url(re.compile(rf"/cases/{case_id}/records/new$"))
    worker.get_by_label("Date", exact=True).fill((today - timedelta(days=1)).isoformat())
    worker.get_by_label("Duration (minutes)").fill("45")
    worker.get_by_label("Kind").select_option(label="Individual session")
    worker.get_by_label("Summary").fill(first_summary)
    worker.get_by_role("button", name="Save and send for review").click()
    worker.wait_for_url(RECORD_URL)
    record_id = int(RECORD_URL.search(worker.url).group(2))
    record_url = worker.url
    expect(worker.get_by_text("Service record saved and sent for review.")).to_be_visible()
    expect(worker.locator("#record h1 .badge")).to_have_text("Awaiting review")
    expect(worker.locator("#record .note-body")).to_have_text(first_summary)

    # 4. The assistant supervisor returns the record with a comment, in place in the review queue.
    sign_in(reviewer, live_server, "assistant")
    _open_queue_tab(reviewer, "Service records awaiting review", "records")
    item = reviewer.locator(f"#review-records-{record_id}")
    expect(item).to_contain_text(case["reference"])
    expect(item).to_contain_text(WORKER_NAME)
    expect(item.locator(".note-body")).to_have_text(first_summary)
    mark_document(reviewer)
    item.get_by_label("Comment").fill(comment)
    item.get_by_role("button", name="Return with comments").click()
    done = reviewer.locator(f"#review-records-{record_id}")
    expect(done).to_have_class(re.compile(r"\bdone\b"))
    expect(done.locator(".badge")).to_have_text("Returned for revision")
    expect(done.get_by_role("button")).to_have_count(0)
    expect(reviewer.locator("#toasts")).to_contain_text("Record returned with your comments.")
    assert reviewer.url.endswith("/review?tab=records"), reviewer.url
    expect_same_document(reviewer)

    # 5. The worker finds it under My day, reads the comment, revises and resubmits.
    _nav(worker, "My day")
    worker.wait_for_url(re.compile(r"/my-day$"))
    returned = worker.locator("section.card").filter(
        has=worker.get_by_role("heading", name="Returned to you for revision"))
    entry = returned.locator("li").filter(has_text=case["student"])
    expect(entry).to_have_count(1)
    entry.get_by_role("link", name=re.compile(r"^Service record of ")).click()
    worker.wait_for_url(record_url)
    expect(worker.locator("#record h1 .badge")).to_have_text("Returned for revision")
    thread = worker.locator("ol.thread > li")
    expect(thread).to_have_count(2)
    expect(thread.nth(1)).to_have_class(re.compile(r"\baction-returned\b"))
    expect(thread.nth(1).locator(".note-meta")).to_contain_text(f"{ASSISTANT_NAME} returned with comments")
    expect(thread.nth(1).locator(".note-body")).to_have_text(comment)
    expect(worker.get_by_role("heading", name="Revise and resubmit")).to_be_visible()
    summary = worker.get_by_label("Summary")
    expect(summary).to_have_value(first_summary)
    summary.fill(revised_summary)
    worker.get_by_label("Your reply to the comments").fill(reply)
    worker.get_by_role("button", name="Resubmit for review").click()
    worker.wait_for_url(record_url)
    expect(worker.get_by_text("Revision sent for review.")).to_be_visible()
    expect(worker.locator("#record h1 .badge")).to_have_text("Awaiting review")
    expect(worker.locator("#record .note-body")).to_have_text(revised_summary)
    expect(_record_fact(worker, "Revision")).to_have_text("2")
    expect(thread).to_have_count(3)
    for n, (action, text) in enumerate([("submitted", f"{WORKER_NAME} submitted"),
                                        ("returned", f"{ASSISTANT_NAME} returned with comments"),
                                        ("revised", f"{WORKER_NAME} revised and resubmitted")]):
        expect(thread.nth(n)).to_have_class(re.compile(rf"\baction-{action}\b"))
        expect(thread.nth(n).locator(".note-meta")).to_contain_text(text)
    expect(thread.nth(2).locator(".note-body")).to_have_text(reply)
    expect(worker.get_by_role("heading", name="Revise and resubmit")).to_have_count(0)
    sign_out(reviewer)

    # 6. The supervisor, higher up the line, approves the plan from the queue.
    sign_in(reviewer, live_server, "supervisor")
    _open_queue_tab(reviewer, "Plans awaiting approval", "plans")
    item = reviewer.locator(f"#review-plans-{plan_id}")
    expect(item).to_contain_text(case["reference"])
    expect(item).to_contain_text("Case plan, version 1")
    mark_document(reviewer)
    item.get_by_role("button", name="Approve", exact=True).click()
    done = reviewer.locator(f"#review-plans-{plan_id}")
    expect(done.locator(".badge")).to_have_text("Approved")
    expect(reviewer.locator("#toasts")).to_contain_text("Plan approved.")
    expect_same_document(reviewer)
    reviewer.goto(case_url)
    plan = reviewer.locator("#plan")
    expect(plan).to_contain_text(f"Version 1, approved by {SUPERVISOR_NAME}")
    expect(plan.locator("ol.goals li")).to_have_count(1)
    expect(plan.locator("ol.goals li strong")).to_have_text(goal)
    expect(plan).not_to_contain_text("No approved plan yet.")
    expect(reviewer.locator("#timeline")).to_contain_text("Case plan version 1 approved")
    sign_out(reviewer)

    # 7. The worker escalates the case; the assistant supervisor takes it over from the queue.
    worker.goto(case_url)
    expect(worker.locator("#plan")).to_contain_text(f"Version 1, approved by {SUPERVISOR_NAME}")
    escalations = worker.locator("#escalations")
    expect(escalations).to_contain_text("This case has not been escalated.")
    escalations.locator("summary", has_text="Send this case up the supervision line").click()
    reason = f"The grandmother cannot keep the student safe at weekends ({tag}); I need a senior view."
    escalations.get_by_label("Why does this case need to go up the line?").fill(reason)
    escalations.get_by_role("button", name=f"Escalate to {ASSISTANT_NAME}").click()
    worker.wait_for_url(re.compile(rf"/cases/{case_id}#escalations$"))
    expect(worker.get_by_text(f"The case was sent up the line to {ASSISTANT_NAME}.")).to_be_visible()
    history = worker.locator("#escalations ol.thread > li")
    expect(history).to_have_count(1)
    expect(history.first).to_contain_text(f"{WORKER_NAME} → {ASSISTANT_NAME}")
    expect(history.first).to_contain_text("Waiting for an answer")
    expect(_fact(worker, "Escalation level")).to_have_text("1")
    escalation_id = db_query(_open_escalation_id(case_id))
    assert escalation_id is not None, "the escalation was not stored as open"

    sign_in(reviewer, live_server, "assistant")
    _open_queue_tab(reviewer, "Escalated cases", "escalations")
    item = reviewer.locator(f"#review-escalations-{escalation_id}")
    expect(item).to_contain_text(case["reference"])
    expect(item).to_contain_text(f"Escalated to {ASSISTANT_NAME}, level 1")
    expect(item.locator(".note-body")).to_have_text(reason)
    mark_document(reviewer)
    item.get_by_label("Your advice or reason").fill("I will see the grandmother myself this week.")
    item.get_by_role("button", name="Take the case over").click()
    done = reviewer.locator(f"#review-escalations-{escalation_id}")
    expect(done.locator(".badge")).to_have_text("Taken over")
    expect(reviewer.locator("#toasts")).to_contain_text("You now hold the case.")
    expect_same_document(reviewer)

    reviewer.goto(case_url)
    expect(_fact(reviewer, "Assigned worker")).to_have_text(ASSISTANT_NAME)
    expect(reviewer.locator("#case header .team")).to_contain_text(WORKER_NAME)  # stays on the team
    timeline = reviewer.locator("#timeline")
    expect(timeline.locator("li.entry").filter(has_text=f"{ASSISTANT_NAME} took the case over")).to_have_count(1)
    expect(timeline.locator("li.entry").filter(
        has_text=f"Case escalated to {ASSISTANT_NAME} (level 1)")).to_have_count(1)
    expect(reviewer.locator("#escalations ol.thread > li").first).to_contain_text("Taken over")
    expect(reviewer.locator("#escalations")).to_contain_text(
        "Answer: I will see the grandmother myself this week.")


def _record_fact(page, term):
    """The value of one fact in a service record's header."""
    return page.locator("#record .facts > div").filter(
        has=page.get_by_role("term").filter(has_text=re.compile("^" + re.escape(term) + "$"))).locator("dd")


# -- known app bug -----------------------------------------------------------------------------

def _write_plan(page, goal, review_on):
    """On the plan form: one goal, one intervention, a review date; sent for approval."""
    page.get_by_label("Goal", exact=True).first.fill(goal)
    page.get_by_label("Target date").first.fill((review_on - timedelta(days=7)).isoformat())
    page.get_by_label("How we will know").first.fill("Attendance register")
    page.get_by_label("Intervention", exact=True).first.fill("Weekly individual session")
    page.get_by_label("Next review date").fill(review_on.isoformat())
    page.get_by_role("button", name="Send for approval").click()
    page.wait_for_url(PLAN_URL)


def test_a_returned_plan_leaves_my_day_once_a_new_version_is_sent(
        page, second_page, live_server, sign_in, db_query):
    case = db_query(_fresh_case_of("worker2"))  # another worker under `assistant`: its own case
    assert case is not None, "the demo data has no fresh (intake/assessment) open case for `worker2`"
    review_on = _server_today() + timedelta(days=40)
    worker, reviewer = page, second_page

    sign_in(worker, live_server, "worker2")
    worker.goto(f"{live_server}/cases/{case['id']}")
    worker.locator("#plan").get_by_role("link", name="Write the case plan").click()
    _write_plan(worker, f"Comes to school on time ({secrets.token_hex(3)})", review_on)
    plan_id = int(PLAN_URL.search(worker.url).group(2))

    sign_in(reviewer, live_server, "assistant")
    _open_queue_tab(reviewer, "Plans awaiting approval", "plans")
    item = reviewer.locator(f"#review-plans-{plan_id}")
    item.get_by_label("Comment").fill("Say how the goal will be measured each week.")
    item.get_by_role("button", name="Return with comments").click()
    expect(reviewer.locator(f"#review-plans-{plan_id} .badge")).to_have_text("Returned for revision")

    # The worker follows My day to the returned plan and writes version 2 (it starts from version 1).
    _nav(worker, "My day")
    returned = worker.locator("section.card").filter(
        has=worker.get_by_role("heading", name="Returned to you for revision"))
    returned.locator("li").filter(has_text=case["student"]).get_by_role(
        "link", name="Case plan, version 1").click()
    worker.wait_for_url(re.compile(rf"/cases/{case['id']}/plans/{plan_id}$"))
    worker.get_by_role("link", name="Write a new version").click()
    worker.get_by_label("Next review date").fill(review_on.isoformat())
    worker.get_by_role("button", name="Send for approval").click()
    worker.wait_for_url(PLAN_URL)
    expect(worker.get_by_role("heading", name="Case plan, version 2", level=1)).to_contain_text("Awaiting review")

    # Version 1 has been answered by version 2: nothing of this case is still waiting for revision.
    _nav(worker, "My day")
    worker.wait_for_url(re.compile(r"/my-day$"))
    returned = worker.locator("section.card").filter(
        has=worker.get_by_role("heading", name="Returned to you for revision"))
    expect(returned).to_be_visible()
    expect(returned.locator("li").filter(has_text=case["student"])).to_have_count(0, timeout=2000)
