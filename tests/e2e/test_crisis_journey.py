"""A crisis in a real browser, from the first report to the supervisor's sign-off: a teacher reports
an immediate-danger self-harm concern; the on-duty worker starts a crisis from the triage item;
the assistant supervisor sees the crisis alert and acknowledges it; the worker works the protocol
(safe now, the suicide-risk screen with its branching, the guardian, the safety plan and its
printable copy), holds every follow-up once it is due, and asks for sign-off; the assistant
supervisor signs off from the review queue. The teacher is refused the crisis and sees only the
report's status."""
import re
import secrets
from datetime import timedelta

import pytest

from tests.e2e.helpers import expect_same_document, mark_document, sign_out

try:
    from playwright.sync_api import expect
except ImportError:  # the conftest skips every test here, saying why
    expect = None

pytestmark = pytest.mark.e2e

WORKER_NAME = "Wang Fang (王芳)"      # demo `worker`: on duty at Eastlake Primary (EPS)
ASSISTANT_NAME = "Huang Li (黄丽)"    # demo `assistant`: the worker's supervisor
TEACHER_NAME = "Ms. Deng Hong (邓红)"  # demo `teacher`: teaches at EPS
SCHOOL_NAME = "Eastlake Primary School"
CRISIS_URL = re.compile(r"/crisis/(\d+)$")
CONCERN_REFERENCE = re.compile(r"R\d{4}-\d{5}")
CASE_REFERENCE = re.compile(r"C\d{4}-\d{5}")
CRISIS_REFERENCE = re.compile(r"K\d{4}-\d{5}")
# The screener's questions, by the start of their legend ("<number> <question>").
QUESTION = {"q1": "1 Have you wished you were dead", "q2": "2 Have you actually had any thoughts",
            "q3": "3 Have you thought about how", "q4": "4 Have you had any intention",
            "q5": "5 Have you started to work out", "q6": "6 Have you ever done anything",
            "q6_recent": "6b If yes: was this within the past three months?"}
# Safety-plan section label -> what the student said (the four required ones and three more).
PLAN = {
    "1. Warning signs that a crisis may be developing": "Staying in my room; not sleeping.",
    "2. Things I can do on my own to take my mind off my problems": "Drawing; music with headphones.",
    "3. People and places that help me feel better": "The library at lunchtime.",
    "4. Family members or friends I can ask for help": "My aunt; my friend Lili.",
    "6. Making my surroundings safe": "Mother will lock the medicines away today.",
    "The most important thing to me, worth living for": "My little brother.",
}
REJECTED_422 = r"^Failed to load resource: the server responded with a status of 422\b"
PROFESSIONALS = "5. Professionals and crisis lines I can contact"
FOLLOW_UPS = ("after 24 hours", "after 72 hours", "after 7 days", "after 30 days")


# -- looking up demo records -------------------------------------------------------------------

def _student_for_a_crisis(session):
    """An active Eastlake student with no case (so no crisis) and no concern, who has a guardian
    that may be contacted. Taken from the middle of the list: the foundation journey takes the
    first student without a case and the concerns journey the last without an open one."""
    from sqlalchemy import select

    from portal.models import Case, Concern, School, Student
    stmt = (select(Student).join(School)
            .where(School.code == "EPS", Student.active.is_(True),
                   ~select(Case.id).where(Case.student_id == Student.id).exists(),
                   ~select(Concern.id).where(Concern.student_id == Student.id).exists())
            .order_by(Student.id))
    fits = [s for s in session.scalars(stmt)
            if len(s.given_name) >= 2 and any(not g.contact_restricted for g in s.guardians)]
    assert fits, "the demo data has no Eastlake student without a case and with a guardian to call"
    student = fits[len(fits) // 2]
    guardian = next(g for g in student.guardians if not g.contact_restricted)
    return {"id": student.id, "name": student.name, "given": student.given_name,
            "number": student.student_number, "guardian": guardian.name}


def _concern_and_alert(reference):
    def _lookup(session):
        from sqlalchemy import select

        from portal.models import Alert, Concern
        concern_id = session.scalar(select(Concern.id).where(Concern.reference == reference))
        assert concern_id is not None, f"no concern {reference} in the database"
        alert_id = session.scalar(select(Alert.id).where(Alert.source_type == "concerns",
                                                         Alert.source_id == concern_id))
        return concern_id, alert_id
    return _lookup


def _crisis_facts(crisis_id):
    def _lookup(session):
        from sqlalchemy import select

        from portal.models import Crisis, User
        crisis = session.get(Crisis, crisis_id)
        users = dict(session.execute(select(User.id, User.username)).all())
        return {"alert_id": crisis.alert_id, "case_reference": crisis.case.reference,
                "case_worker": users[crisis.case.worker_id], "concern_id": crisis.concern_id,
                "recipients": sorted(users[r.user_id] for r in crisis.alert.recipients),
                "follow_ups": [fu.id for fu in sorted(crisis.follow_ups, key=lambda f: f.due_at)]}
    return _lookup


def _make_follow_ups_due(crisis_id):
    """Time passes: every follow-up of the crisis becomes due an hour or more ago (in order, and
    within the grace period, so none counts as missed). The journey cannot wait 30 days, and the
    server's clock is the real one, so the due times move instead of the clock."""
    def _update(session):
        from portal import clock
        from portal.models import Crisis
        crisis = session.get(Crisis, crisis_id)
        now = clock.now()
        pending = sorted(crisis.follow_ups, key=lambda f: f.due_at)
        for n, fu in enumerate(pending):
            fu.due_at = now - timedelta(hours=len(pending) - n)
        session.commit()
        return len(pending)
    return _update


# -- small steps -------------------------------------------------------------------------------

def _nav(page, name):
    page.get_by_role("navigation", name="Main").get_by_role("link", name=re.compile(
        "^" + re.escape(name) + r"\b")).click()


def _choose_student(page, term, student):
    """Type into the student search of the report form; the options come by htmx."""
    mark_document(page)
    page.get_by_label("Name or student number").fill(term)
    option = page.locator("#student-options").get_by_role("radio", name=re.compile(re.escape(student["name"])))
    expect(option).to_have_count(1)
    expect(option).to_have_value(str(student["id"]))
    option.check()
    expect(option).to_be_checked()
    expect_same_document(page)


def _step(page, code):
    return page.locator(f"#step-{code}")


def _question(page, key):
    """A screener question's fieldset, found even while it is hidden (so hidden means hidden by the
    page, not missing)."""
    return page.get_by_role("group", name=re.compile("^" + re.escape(QUESTION[key])), include_hidden=True)


def _answer(page, key, yes):
    _question(page, key).get_by_label("Yes" if yes else "No", exact=True).check()


def _expect_refused(page, url):
    response = page.goto(url)
    assert response is not None and response.status == 403, f"{url} answered {response and response.status}"
    expect(page.get_by_role("heading", name="Access refused", level=1)).to_be_visible()


# -- the journey -------------------------------------------------------------------------------

def test_crisis_from_a_reported_concern_to_the_supervisors_sign_off(
        page, second_page, live_server, sign_in, db_query, browser_problems):
    student = db_query(_student_for_a_crisis)
    tag = secrets.token_hex(3)
    description = f"Found the student in the toilets with a cut on the arm ({tag}); said they want to die."
    account = f"The student told the class teacher they want to die and showed a cut ({tag}). I am with them."
    safe_note = f"With me in the counselling room ({tag}); the class teacher covers the lesson."
    summary = f"Screened, plan written with the student, guardian engaged ({tag}); weekly sessions continue."
    plan = {label: f"{text} ({tag})" for label, text in PLAN.items()}
    first, supervisor = page, second_page  # `first`: the teacher, then the worker, then the teacher

    # 0. The assistant supervisor is signed in before anything happens, with no crisis alert.
    sign_in(supervisor, live_server, "assistant")
    expect(supervisor.locator("#live .live-alert").filter(has_text="Crisis at")).to_have_count(0)

    # 1. The teacher reports an immediate-danger self-harm concern.
    sign_in(first, live_server, "teacher")
    _nav(first, "Report a concern")
    first.wait_for_url(re.compile(r"/concerns/new$"))
    _choose_student(first, student["number"], student)
    first.get_by_label("Self-harm or suicide risk").check()
    first.get_by_label("Immediate danger").check()
    first.get_by_label("What did you see or hear?").fill(description)
    first.get_by_role("button", name="Send the report").click()
    first.wait_for_url(re.compile(r"/concerns/\d+/receipt$"))
    receipt = first.locator("main .receipt")
    expect(receipt).to_contain_text(CONCERN_REFERENCE)
    reference = CONCERN_REFERENCE.search(receipt.inner_text()).group(0)
    concern_id, concern_alert_id = db_query(_concern_and_alert(reference))
    assert concern_alert_id is not None, "no alert was raised for an immediate-danger concern"
    sign_out(first)

    # 2. The on-duty worker acknowledges the concern's alert (the concerns journey follows that
    #    banner closely), triages the concern and starts a crisis from the triage item.
    worker = first
    sign_in(worker, live_server, "worker")
    concern_banner = worker.locator("#live .live-alert").filter(
        has=worker.locator(f"a[href='/alerts/{concern_alert_id}']"))
    expect(concern_banner).to_contain_text(f"Urgent concern (Immediate danger) reported by {TEACHER_NAME}")
    concern_banner.get_by_role("button", name="Acknowledge").click()
    expect(concern_banner).to_have_count(0)
    _nav(worker, "Triage")
    worker.wait_for_url(re.compile(r"/concerns/triage$"))
    item = worker.locator(f"#concern-{concern_id}")
    expect(item.locator(".badge.urgency-immediate")).to_have_text("Immediate danger")
    expect(item).to_contain_text("Self-harm or suicide risk")
    expect(item.locator(".concern-text")).to_have_text(description)
    item.get_by_role("link", name="Start a crisis").click()
    worker.wait_for_url(re.compile(rf"/students/{student['id']}/crisis/new\?concern={concern_id}$"))
    expect(worker.get_by_role("heading", name=f"Start a crisis for {student['name']}", level=1)).to_be_visible()
    expect(worker.get_by_text(f"From concern report {reference}, reported by {TEACHER_NAME}.")).to_be_visible()
    # The concern's self-harm category suggests the kind; the time is the concern's.
    suicide = worker.get_by_role("radio", name="Suicide or self-harm risk")
    expect(suicide).to_be_checked()
    suicide.check()
    # Left as filled in: the concern's time, on the school's clock.
    expect(worker.get_by_label("When did it happen or come to light?")).not_to_have_value("")
    worker.get_by_label("What happened").fill(account)
    worker.get_by_role("button", name="Start the crisis and alert").click()
    worker.wait_for_url(CRISIS_URL)
    crisis_id = int(CRISIS_URL.search(worker.url).group(1))
    crisis_url = worker.url
    heading = worker.get_by_role("heading", level=1)
    expect(heading).to_contain_text(CRISIS_REFERENCE)
    crisis_reference = CRISIS_REFERENCE.search(heading.inner_text()).group(0)
    expect(worker.get_by_text(f"Crisis {crisis_reference} started. Alerted now: {ASSISTANT_NAME}.")).to_be_visible()
    expect(heading.locator(".badge")).to_have_text("In progress")
    expect(worker.locator("#crisis header")).to_contain_text(f"Suicide or self-harm risk · {student['name']}")
    alert_card = worker.locator("section.alert-status")
    expect(alert_card).to_contain_text("Waiting for someone on the supervision line to acknowledge.")
    expect(alert_card.locator("li")).to_contain_text([f"{ASSISTANT_NAME} · alerted"])
    expect(alert_card.get_by_role("button", name="Acknowledge")).to_have_count(0)  # the starter is not alerted
    facts = db_query(_crisis_facts(crisis_id))
    # The concern opened the student's case, the worker's own; the line above is alerted, never the starter.
    assert facts["concern_id"] == concern_id and facts["case_worker"] == "worker", facts
    assert facts["recipients"] == ["assistant"], facts["recipients"]
    assert len(facts["follow_ups"]) == 4, facts["follow_ups"]
    expect(worker.locator(f"#live a[href='/alerts/{facts['alert_id']}']")).to_have_count(0)  # no banner for the starter

    # 3. The assistant supervisor's next page shows the crisis alert; acknowledging it clears it.
    supervisor.reload()
    banner = supervisor.locator("#live .live-alert").filter(
        has=supervisor.locator(f"a[href='/alerts/{facts['alert_id']}']"))
    expect(banner).to_be_visible()
    expect(banner).to_contain_text(f"Crisis at {SCHOOL_NAME} started by {WORKER_NAME}")
    expect(banner).to_contain_text("Nobody has acknowledged it yet.")
    expect(banner).not_to_contain_text(student["name"])  # an alert never names the student
    expect(banner).not_to_contain_text(tag)
    mark_document(supervisor)
    banner.get_by_role("button", name="Acknowledge").click()
    expect(banner).to_have_count(0)
    expect(supervisor.locator("#toasts")).to_contain_text("Alert acknowledged.")
    expect_same_document(supervisor)
    supervisor.goto(crisis_url)
    alert_card_seen = supervisor.locator("section.alert-status")
    expect(alert_card_seen).to_contain_text(f"Acknowledged by {ASSISTANT_NAME}")
    expect(alert_card_seen.get_by_role("button", name="Acknowledge")).to_have_count(0)
    expect(supervisor.locator("#live .live-alert").filter(
        has=supervisor.locator(f"a[href='/alerts/{facts['alert_id']}']"))).to_have_count(0)

    worker.reload()
    expect(alert_card).to_contain_text(f"Acknowledged by {ASSISTANT_NAME}")
    expect(alert_card).not_to_contain_text("Waiting for someone")

    # 4. The worker records that the student is safe and supervised now (in place, by htmx).
    closing = worker.locator("#closing")
    expect(closing.locator("ul.blockers li")).to_contain_text([
        "The student is safe and supervised now", "Suicide-risk screen", "Guardian notified",
        "Safety plan written with the student", *(f"Follow-up {f}" for f in FOLLOW_UPS)])
    mark_document(worker)
    safe_now = _step(worker, "safe_now")
    expect(safe_now.locator(".step-head .badge").first).to_have_text("To do")
    safe_now.locator("summary", has_text="Record").click()
    expect(safe_now.get_by_label("When")).not_to_have_value("")
    safe_now.get_by_label("Note").fill(safe_note)
    safe_now.get_by_role("button", name="Record as done").click()
    expect(safe_now.locator(".step-head .badge").first).to_have_text("Done")
    expect(safe_now.locator(".note-body")).to_have_text(safe_note)
    expect(safe_now).to_contain_text(WORKER_NAME)
    expect(safe_now.locator("form")).to_have_count(0)
    expect(worker.locator("#toasts")).to_contain_text("Step recorded.")
    expect_same_document(worker)

    # 5. The risk screen: 3-5 are asked only after "yes" to 2, and 6b only after "yes" to 6.
    worker.locator("#screen").get_by_role("link", name="Screen now").click()
    worker.wait_for_url(re.compile(rf"/crisis/{crisis_id}/screen$"))
    expect(worker.get_by_role("heading", name="Suicide-risk screen", level=1)).to_be_visible()
    expect(worker.get_by_role("heading", name="In the past month:")).to_be_visible()
    branch = [_question(worker, k) for k in ("q3", "q4", "q5")]
    for key in QUESTION:
        expect(_question(worker, key)).to_have_count(1)
    for key in ("q1", "q2", "q6"):
        expect(_question(worker, key)).to_be_visible()
    for q in branch + [_question(worker, "q6_recent")]:
        expect(q).to_be_hidden()
    _answer(worker, "q1", yes=True)
    _answer(worker, "q2", yes=False)
    for q in branch:
        expect(q).to_be_hidden()
    _answer(worker, "q2", yes=True)
    for q in branch:
        expect(q).to_be_visible()
    _answer(worker, "q6", yes=True)
    expect(_question(worker, "q6_recent")).to_be_visible()
    _answer(worker, "q6", yes=False)
    expect(_question(worker, "q6_recent")).to_be_hidden()
    _answer(worker, "q3", yes=True)
    _answer(worker, "q4", yes=False)
    _answer(worker, "q5", yes=False)
    worker.get_by_role("button", name="Record the screen").click()
    worker.wait_for_url(re.compile(rf"/crisis/{crisis_id}#screen$"))
    expect(worker.get_by_text("Screen recorded: moderate risk.")).to_be_visible()
    screen = worker.locator("#screen")
    expect(screen.get_by_role("note")).to_contain_text("Moderate risk.")
    expect(screen.locator("li")).to_have_count(1)
    expect(screen.locator("li")).to_contain_text("moderate risk")
    expect(screen.locator("li")).to_contain_text(WORKER_NAME)
    expect(worker.locator("#crisis header .badge.level-moderate")).to_have_text("moderate risk")
    expect(_step(worker, "risk_screen").locator(".step-head .badge").first).to_have_text("Done")

    # 6. The guardian is told, by phone, and reached.
    guardian = _step(worker, "guardian")
    expect(guardian.locator(".badge.required")).to_have_text("Required")
    mark_document(worker)
    guardian.locator("summary", has_text=re.compile("^Record$")).click()
    guardian.get_by_label("Guardian").select_option(label=student["guardian"])
    guardian.get_by_label("How").select_option(label="Phone call")
    guardian.get_by_label("Yes, we spoke").check()
    guardian.get_by_label("Note").fill(f"The guardian is coming to school now ({tag}).")
    guardian.get_by_role("button", name="Record as done").click()
    expect(guardian.locator(".step-head .badge").first).to_have_text("Done")
    expect(guardian).to_contain_text(f"{student['guardian']} · Phone call")
    expect(guardian.locator("details")).to_have_count(0)  # neither "Record" nor "Waive" any more
    expect_same_document(worker)

    # 7. The safety plan, written with the student; the crisis lines are already in it.
    worker.locator("#safety-plan").get_by_role("link", name="Write the safety plan with the student").click()
    worker.wait_for_url(re.compile(rf"/crisis/{crisis_id}/safety-plan$"))
    expect(worker.get_by_role("heading", name=f"Safety plan for {student['name']}", level=1)).to_be_visible()
    professionals = worker.get_by_label(PROFESSIONALS)
    expect(professionals).to_have_value(re.compile(r"\b12356\b"))
    expect(professionals).to_have_value(re.compile(r"\b120\b"))
    lines = professionals.input_value()
    professionals.fill(f"School social worker, room 104 ({tag})\n{lines}")
    for label, text in plan.items():
        worker.get_by_label(label).fill(text)
    worker.get_by_role("button", name="Save this version").click()
    worker.wait_for_url(re.compile(rf"/crisis/{crisis_id}#safety-plan$"))
    expect(worker.get_by_text("Safety plan version 1 saved.")).to_be_visible()
    safety_plan = worker.locator("#safety-plan")
    expect(safety_plan).to_contain_text(f"Version 1, written with the student by {WORKER_NAME}")
    expect(_step(worker, "safety_plan").locator(".step-head .badge").first).to_have_text("Done")

    # 8. The printable plan: the student's plan, in the student's words, and nothing of the portal.
    safety_plan.get_by_role("link", name="Printable plan for the student").click()
    worker.wait_for_url(re.compile(rf"/crisis/{crisis_id}/safety-plan/print$"))
    expect(worker).to_have_title("My safety plan")
    main = worker.get_by_role("main")
    expect(main.get_by_role("heading", name="My safety plan", level=1)).to_be_visible()
    expect(main).to_contain_text(f"{student['given']} · ")
    expect(main).to_contain_text("version 1")
    for label, text in plan.items():
        section = main.locator("section.plan-step").filter(has=worker.get_by_role("heading", name=label))
        expect(section.locator(".note-body")).to_have_text(text)
    expect(main.locator("section.plan-step").filter(has=worker.get_by_role("heading", name=PROFESSIONALS))) \
        .to_contain_text(f"School social worker, room 104 ({tag})")
    expect(main.locator(".plan-emergency")).to_contain_text("In an emergency, call:")
    expect(main.locator(".plan-emergency")).to_contain_text("12356")
    expect(worker.get_by_role("navigation")).to_have_count(0)
    expect(worker.locator("#live")).to_have_count(0)
    expect(worker.get_by_role("button", name="Sign out")).to_have_count(0)
    expect(worker.locator("body")).not_to_contain_text(student["number"])  # only the given name
    expect(worker.locator("body")).not_to_contain_text(account)
    expect(worker.locator("body")).not_to_contain_text(crisis_reference)
    print_button = worker.locator("[data-print]")
    expect(print_button).to_have_accessible_name("Print")
    # The button opens the print dialog: stand in for window.print (a headless browser has none).
    worker.evaluate("window.print = () => { document.body.dataset.e2ePrinted = 'yes'; }")
    print_button.click()
    expect(worker.locator("body")).to_have_attribute("data-e2e-printed", "yes")
    # On paper the plan stays and the button and back link go.
    back = worker.get_by_role("link", name="Back to the crisis", include_hidden=True)
    expect(back).to_have_count(1)
    worker.emulate_media(media="print")
    expect(print_button).to_be_hidden()
    expect(back).to_be_hidden()
    expect(main.get_by_role("heading", name="My safety plan", level=1)).to_be_visible()
    worker.emulate_media(media="screen")
    back.click()
    worker.wait_for_url(re.compile(rf"/crisis/{crisis_id}#safety-plan$"))

    # 9. The follow-ups cannot be recorded before they are due; time passes and each is held.
    closing = worker.locator("#closing")
    expect(closing.locator("ul.blockers li")).to_have_text([f"Follow-up {f}" for f in FOLLOW_UPS])
    expect(closing.get_by_role("button", name="Ask for sign-off")).to_have_count(0)
    for fu_id in facts["follow_ups"]:
        expect(worker.locator(f"#follow-up-{fu_id} details")).not_to_have_attribute("open", "")
    # Holding the 24-hour follow-up now is refused (422, in place): it is not due yet.
    browser_problems.allow(REJECTED_422)
    first_fu = worker.locator(f"#follow-up-{facts['follow_ups'][0]}")
    mark_document(worker)
    first_fu.locator("summary", has_text="Record this follow-up").click()
    first_fu.get_by_label("How is the student? What was agreed?").fill(f"Too early ({tag}).")
    with worker.expect_response(lambda r: r.request.method == "POST" and "/follow-ups/" in r.url) as refused:
        first_fu.get_by_role("button", name="Held", exact=True).click()
    assert refused.value.status == 422
    # The message sits beside the follow-up's note, which keeps what was typed.
    expect(first_fu.locator(".error")).to_have_text("This follow-up is not due yet.")
    expect(first_fu.get_by_label("How is the student? What was agreed?")).to_have_value(f"Too early ({tag}).")
    expect(first_fu.locator(".badge")).to_have_count(0)  # still pending: neither held nor missed
    expect_same_document(worker)
    assert db_query(_make_follow_ups_due(crisis_id)) == 4
    worker.reload()
    mark_document(worker)
    for fu_id, when in zip(facts["follow_ups"], FOLLOW_UPS, strict=True):
        fu = worker.locator(f"#follow-up-{fu_id}")
        expect(fu).to_contain_text(when)
        expect(fu.locator("details")).to_have_attribute("open", "")  # due now: the form is open
        expect(fu).not_to_contain_text("Missed")
        note = f"Seen {when} ({tag}); calmer, used the plan once."
        fu.get_by_label("How is the student? What was agreed?").fill(note)
        fu.get_by_role("button", name="Held", exact=True).click()
        expect(fu.locator(".badge")).to_have_text("Held")
        expect(fu.locator(".note-body")).to_have_text(note)
        expect(fu.locator("form")).to_have_count(0)
        expect(worker.locator("#toasts")).to_contain_text("Follow-up recorded.")
    expect_same_document(worker)

    # 10. Nothing blocks any more: the worker asks for sign-off.
    expect(closing.locator("ul.blockers")).to_have_count(0)
    closing.get_by_label("Closing summary").fill(summary)
    closing.get_by_role("button", name="Ask for sign-off").click()
    expect(worker.get_by_role("heading", level=1).locator(".badge")).to_have_text("Awaiting sign-off")
    expect(closing).to_contain_text(f"Sent by {WORKER_NAME}")
    expect(closing.locator(".note-body").first).to_have_text(summary)
    expect(worker.locator("#toasts")).to_contain_text("Sent to your supervisor for sign-off.")
    expect(worker.locator("#protocol form")).to_have_count(0)  # nothing more to record while it waits
    expect(closing.get_by_role("button", name="Sign off and close")).to_have_count(0)  # not one's own
    expect_same_document(worker)

    # 11. The assistant supervisor signs off from the review queue's Crises tab.
    _nav(supervisor, "Review queue")
    supervisor.wait_for_url(re.compile(r"/review(\?.*)?$"))
    queue_tabs = supervisor.get_by_role("navigation", name="Review queue")
    queue_tabs.get_by_role("link", name=re.compile(r"^Crises needing you")).click()
    supervisor.wait_for_url(re.compile(r"/review\?tab=crises$"))
    expect(queue_tabs.locator("[aria-current=page]")).to_contain_text("Crises needing you")
    entry = supervisor.locator(f"#review-crises-{crisis_id}")
    expect(entry).to_contain_text(student["name"])
    expect(entry).to_contain_text(crisis_reference)
    expect(entry).to_contain_text(facts["case_reference"])
    expect(entry).to_contain_text(WORKER_NAME)
    expect(entry).to_contain_text("Suicide or self-harm risk")
    expect(entry.locator(".badge.level-moderate")).to_have_text("moderate risk")
    expect(entry).to_contain_text("Sign-off requested")
    expect(entry).not_to_contain_text("Not yet acknowledged")
    expect(entry.locator(".note-body")).to_have_text(summary)
    entry.get_by_label("Comment").fill(f"Well supported ({tag}).")
    mark_document(supervisor)
    entry.get_by_role("button", name="Sign off and close").click()
    # In place: the item becomes its outcome, without a page load.
    expect(entry).to_contain_text("Closed")
    expect(entry.get_by_role("button")).to_have_count(0)
    expect(supervisor.locator("#toasts")).to_contain_text("Crisis signed off and closed.")
    expect_same_document(supervisor)
    supervisor.reload()
    expect(supervisor.locator(f"#review-crises-{crisis_id}")).to_have_count(0)

    supervisor.goto(crisis_url)
    expect(supervisor.get_by_role("heading", level=1).locator(".badge")).to_have_text("Closed")
    expect(supervisor.locator("#closing")).to_contain_text(f"Signed off by {ASSISTANT_NAME}")
    worker.reload()
    expect(worker.get_by_role("heading", level=1).locator(".badge")).to_have_text("Closed")
    expect(closing).to_contain_text(f"Signed off by {ASSISTANT_NAME}")
    expect(closing.locator("form")).to_have_count(0)
    expect(worker.locator("#crisis form")).to_have_count(0)
    sign_out(worker)

    # 12. The teacher is refused the crisis and its printable plan, and sees only the report's status.
    teacher = first
    sign_in(teacher, live_server, "teacher")
    _expect_refused(teacher, crisis_url)
    _expect_refused(teacher, f"{crisis_url}/safety-plan/print")
    teacher.goto(f"{live_server}/home")
    _nav(teacher, "My reports")
    teacher.wait_for_url(re.compile(r"/concerns/mine$"))
    row = teacher.locator("table.list tbody tr").filter(has_text=reference)
    expect(row).to_have_count(1)
    expect(row).to_contain_text(student["name"])
    expect(row.locator(".badge")).to_have_text("Being handled")
    expect(row).to_contain_text(WORKER_NAME)
    expect(row.get_by_role("link")).to_have_count(0)
    main = teacher.get_by_role("main")
    expect(main).not_to_contain_text(tag)               # nothing the worker or the teacher wrote
    expect(main).not_to_contain_text(CRISIS_REFERENCE)  # no crisis
    expect(main).not_to_contain_text(CASE_REFERENCE)    # no case
    expect(main).not_to_contain_text(re.compile(r"crisis|risk", re.IGNORECASE))
    expect(teacher.locator("a[href^='/crisis/'], a[href^='/cases/']")).to_have_count(0)
