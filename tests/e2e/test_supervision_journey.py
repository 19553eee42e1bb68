"""Supervision in a real browser. The assistant supervisor records a group session with the two
workers of her line and an action item for one of them, sets a growth plan for the other, opens
her line dashboard and downloads a CSV report. The worker drafts a de-identified case study from
one of her cases (no name of the student survives), sends it for approval, and finds the action
from the session in My day; the assistant supervisor approves the study from the review queue,
after which the worker can download it."""
import csv
import io
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

WORKER_NAME = "Wang Fang (王芳)"      # demo `worker`
WORKER2_NAME = "Li Na (李娜)"         # demo `worker2`
ASSISTANT_NAME = "Huang Li (黄丽)"    # demo `assistant`, the supervisor of both
SESSION_URL = re.compile(r"/supervision/sessions/(\d+)$")
GROWTH_URL = re.compile(r"/supervision/growth/(\d+)$")
STUDY_URL = re.compile(r"/case-studies/(\d+)$")


def _case_with_a_plan(session):
    """An active case of `worker` with an approved plan and service records (the demo has some)."""
    from sqlalchemy import select

    from portal.models import Case, CasePlan, ServiceRecord, User
    case = session.scalar(
        select(Case).join(User, Case.worker_id == User.id)
        .where(User.username == "worker", Case.status == "active",
               select(CasePlan.id).where(CasePlan.case_id == Case.id, CasePlan.status == "approved").exists(),
               select(ServiceRecord.id).where(ServiceRecord.case_id == Case.id).exists())
        .order_by(Case.id).limit(1))
    if case is None:
        return None
    s = case.student
    return {"id": case.id, "reference": case.reference, "student": s.name, "given": s.given_name,
            "number": s.student_number, "school": s.school.name,
            "guardians": [g.name for g in s.guardians]}


def _server_today():
    """The school's day in the default time zone (Asia/Shanghai), as the portal's forms use it."""
    return (datetime.now(timezone.utc) + timedelta(hours=8)).date()


def _nav(page, name):
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True).click()


def _assert_no_identifier(text, case):
    for what in [case["student"], case["number"], case["reference"], case["school"]] + case["guardians"]:
        assert what not in text, f"{what!r} survived de-identification"
    if len(case["given"]) >= 2:
        assert case["given"] not in text


def test_group_session_growth_plan_dashboard_report_and_an_approved_case_study(
        page, second_page, live_server, sign_in, db_query):
    case = db_query(_case_with_a_plan)
    assert case is not None, "the demo data has no active case of `worker` with a plan and records"
    tag = secrets.token_hex(3)
    today = _server_today()
    action = f"Call the families of the three absent pupils ({tag})"
    worker, sup = page, second_page

    # 1. The worker drafts a de-identified case study from her case and sends it for approval.
    sign_in(worker, live_server, "worker")
    worker.goto(f"{live_server}/cases/{case['id']}")
    studies = worker.locator("#case-studies")
    expect(studies).to_contain_text("This case is not changed.")
    studies.get_by_role("link", name="Draft a de-identified case study").click()
    worker.wait_for_url(re.compile(rf"/cases/{case['id']}/case-studies/new$"))
    worker.get_by_label("Title").fill(f"Low mood and attendance ({tag})")
    worker.get_by_label("What would you like your peers to discuss?").fill(
        f"How would you have worked with {case['given']}'s family sooner?")
    worker.get_by_role("button", name="Make the draft").click()
    worker.wait_for_url(STUDY_URL)
    study_id = int(STUDY_URL.search(worker.url).group(1))
    expect(worker.get_by_text("A de-identified draft was made from the case.")).to_be_visible()
    expect(worker.locator("#study h1 .badge")).to_have_text("Draft")
    body = worker.get_by_label("The case study").input_value()
    _assert_no_identifier(body, case)
    assert "[the student]" in body and "## Case plan" in body and re.search(r"- day \d+ · ", body)
    expect(worker.locator(".leaks")).to_have_count(0)
    worker.get_by_role("button", name="Send for approval").click()
    worker.wait_for_url(re.compile(rf"/case-studies/{study_id}$"))
    expect(worker.get_by_text("Sent to your supervisor for approval.")).to_be_visible()
    expect(worker.locator("#study h1 .badge")).to_have_text("Awaiting approval")
    expect(worker.get_by_role("link", name="Download")).to_have_count(0)  # not before approval

    # 2. The assistant supervisor records a group session with an action item for the worker.
    sign_in(sup, live_server, "assistant")
    _nav(sup, "Supervision")
    sup.wait_for_url(re.compile(r"/supervision/$"))
    sup.get_by_role("navigation", name="Supervision").get_by_role("link", name="Sessions").click()
    sup.get_by_role("link", name="Record a session").click()
    sup.wait_for_url(re.compile(r"/supervision/sessions/new$"))
    sup.get_by_label("Kind of session").select_option(label="Group supervision")
    expect(sup.get_by_label("Date", exact=True)).to_have_value(today.isoformat())
    sup.get_by_label("Duration (minutes)").fill("60")
    sup.get_by_label(re.compile("^" + re.escape(WORKER_NAME))).check()
    sup.get_by_label(re.compile("^" + re.escape(WORKER2_NAME))).check()
    sup.get_by_label("What was discussed").fill(f"Attendance after the holiday ({tag}).")
    sup.get_by_label("Decisions").fill("Weekly check-ins for high-risk cases.")
    sup.get_by_label("Action", exact=True).first.fill(action)
    sup.get_by_label("Owner").first.select_option(label=WORKER_NAME)
    sup.get_by_label("Due date").first.fill((today + timedelta(days=2)).isoformat())
    sup.get_by_role("button", name="Record the session").click()
    sup.wait_for_url(SESSION_URL)
    expect(sup.get_by_text("Supervision session recorded.")).to_be_visible()
    expect(sup.get_by_role("heading", level=1)).to_contain_text("Group supervision")
    expect(sup.locator("#session")).to_contain_text(f"{WORKER2_NAME} and {WORKER_NAME}")  # by name
    item = sup.locator("#actions li.action-item").filter(has_text=action)
    expect(item).to_have_count(1)
    expect(item).to_contain_text(WORKER_NAME)

    # 3. ... and sets a growth plan for the other worker.
    _nav(sup, "Supervision")
    sup.get_by_role("navigation", name="Supervision").get_by_role("link", name="Growth plans").click()
    sup.get_by_role("link", name="Set a growth plan").click()
    sup.get_by_label("For", exact=True).select_option(label=f"{WORKER2_NAME} · Social worker")
    sup.get_by_label("Focus of the plan").fill("Group work with younger pupils.")
    sup.get_by_label("Goal", exact=True).first.fill(f"Run a six-week friendship group ({tag})")
    sup.get_by_label("How we will know").first.fill("Attendance and the group's own evaluation")
    sup.get_by_label("Review on").fill((today + timedelta(days=90)).isoformat())
    sup.get_by_role("button", name="Set the plan").click()
    sup.wait_for_url(GROWTH_URL)
    expect(sup.get_by_text("Growth plan set.")).to_be_visible()
    expect(sup.get_by_role("heading", level=1)).to_contain_text(f"Growth plan of {WORKER2_NAME}")
    expect(sup.locator("ol.growth-goals li")).to_contain_text(f"Run a six-week friendship group ({tag})")

    # 4. The line dashboard: open cases by status and risk (a chart and its table), turnaround, overdue.
    _nav(sup, "Home")
    sup.wait_for_url(re.compile(r"/home$"))
    dashboard = sup.locator("#line-dashboard")
    expect(dashboard.get_by_role("heading", name="Open cases in your line")).to_be_visible()
    expect(dashboard.locator("svg.chart[role=img]")).to_have_count(1)
    expect(dashboard.locator("#table-status_risk tr.total-row")).to_have_count(1)
    for heading in ("Review turnaround", "Overdue in your line", "Crises this term"):
        expect(dashboard.get_by_role("heading", name=heading)).to_be_visible()

    # 5. A report, downloaded as CSV.
    _nav(sup, "Reports")
    sup.get_by_role("link", name="Concerns by category, school and month").click()
    expect(sup.get_by_role("heading", name="Concerns by month")).to_be_visible()
    expect(sup.locator("svg.chart").first).to_be_visible()
    with sup.expect_download() as download_info:
        sup.get_by_role("link", name="Download CSV").click()
    download = download_info.value
    assert download.suggested_filename.startswith("concerns-") and download.suggested_filename.endswith(".csv")
    with open(download.path(), encoding="utf-8-sig") as fh:
        rows = list(csv.reader(io.StringIO(fh.read())))
    assert rows[0] == ["Concerns by category, school and month"]
    assert ["Concerns by month"] in rows and ["Concerns by category"] in rows

    # 6. The worker finds the action from the session in My day.
    _nav(worker, "My day")
    worker.wait_for_url(re.compile(r"/my-day$"))
    expect(worker.locator("#my-supervision").get_by_role("link", name=action)).to_be_visible()

    # 7. The assistant supervisor approves the case study in place in the review queue.
    _nav(sup, "Review queue")
    sup.get_by_role("navigation", name="Review queue").get_by_role(
        "link", name=re.compile("^Case studies to approve")).click()
    sup.wait_for_url(re.compile(r"/review\?tab=studies$"))
    queued = sup.locator(f"#review-studies-{study_id}")
    expect(queued).to_contain_text(f"Low mood and attendance ({tag})")
    expect(queued).to_contain_text(WORKER_NAME)
    mark_document(sup)
    queued.get_by_role("button", name="Approve", exact=True).click()
    expect(sup.locator(f"#review-studies-{study_id} .badge")).to_have_text("Approved")
    expect(sup.locator("#toasts")).to_contain_text("Case study approved")
    expect_same_document(sup)
    sign_out(sup)

    # 8. Approved: the worker downloads it; nothing of the student is in the file.
    worker.goto(f"{live_server}/case-studies/{study_id}")
    expect(worker.locator("#study h1 .badge")).to_have_text("Approved")
    expect(worker.locator("ol.thread > li")).to_have_count(2)
    with worker.expect_download() as download_info:
        worker.get_by_role("link", name="Download").click()
    with open(download_info.value.path(), encoding="utf-8") as fh:
        text = fh.read()
    assert text.startswith(f"# Low mood and attendance ({tag})")
    _assert_no_identifier(text, case)
    worker.get_by_role("link", name=re.compile(r"Case studies$")).first.click()
    worker.wait_for_url(re.compile(r"/case-studies$"))
    expect(worker.locator("main").get_by_role("link", name=f"Low mood and attendance ({tag})")).to_be_visible()
