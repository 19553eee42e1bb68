"""Group work and prevention in a real browser: the worker sets up a group and adds three students
(two with a case of theirs, one without), runs two sessions (the second refused until every
student is marked, then saved), and finds on one student's case their own attendance and
observations and nothing of the other two; the worker records an anti-bullying assembly with its
evaluation and slides, and sees it in the term calendar and its figures (and their CSV). The
assistant supervisor accepts the first session in place in the review queue and returns the second
with a comment; the worker finds it under My day, corrects it and resubmits."""
import re
import secrets

import pytest

from tests.e2e.helpers import expect_same_document, mark_document, sign_out

try:
    from playwright.sync_api import expect
except ImportError:  # the conftest skips every test here, saying why
    expect = None

pytestmark = pytest.mark.e2e

WORKER_NAME = "Wang Fang (王芳)"     # demo `worker`
ASSISTANT_NAME = "Huang Li (黄丽)"   # demo `assistant`, the worker's supervisor
SESSION_URL = re.compile(r"/groups/(\d+)/sessions/(\d+)$")
GROUP_URL = re.compile(r"/groups/(\d+)(#members)?$")
REJECTED_422 = r"^Failed to load resource: the server responded with a status of 422\b"
PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def _three_students(session):
    """Two students with an open case of `worker` and one Eastlake student with no case at all,
    none of them in a group yet, with three different names."""
    from sqlalchemy import select

    from portal.models import Case, GroupMember, School, Student, User
    in_group = select(GroupMember.student_id)
    cased = session.scalars(select(Case).join(User, Case.worker_id == User.id).where(
        User.username == "worker", Case.status != "closed", Case.student_id.not_in(in_group))
        .order_by(Case.id.desc())).all()
    free = session.scalars(select(Student).join(School, School.id == Student.school_id).where(
        School.code == "EPS", Student.active.is_(True), Student.id.not_in(in_group),
        ~select(Case.id).where(Case.student_id == Student.id).exists()).order_by(Student.id)).all()
    free = free[len(free) // 2:]  # the concerns and crisis journeys use the last students
    picked, names = [], set()
    for c in cased:
        if c.student.name not in names and len(picked) < 2:
            picked.append({"id": c.student_id, "name": c.student.name, "number": c.student.student_number,
                           "case_id": c.id, "case": c.reference})
            names.add(c.student.name)
    for s in free:
        if s.name not in names:
            picked.append({"id": s.id, "name": s.name, "number": s.student_number, "case_id": None, "case": None})
            break
    return picked if len(picked) == 3 else None


def _nav(page, name):
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True).click()


def _attendance(page, student):
    return page.get_by_role("group", name=re.compile("^" + re.escape(student["name"]) + " "))


def _figure(page, topic):
    """(held, reached) in the figures table's row for `topic` (the worker has one school)."""
    cells = page.locator("#figures table").first.locator("tbody tr").filter(
        has=page.get_by_role("rowheader", name=topic, exact=True)).locator("td")
    return int(cells.nth(0).inner_text()), int(cells.nth(1).inner_text())


def test_a_group_over_two_sessions_an_assembly_and_the_review(
        page, second_page, live_server, sign_in, db_query, browser_problems, tmp_path):
    students = db_query(_three_students)
    assert students is not None, "the demo data lacks two cased students of `worker` and one without a case"
    s1, s2, s3 = students
    tag = secrets.token_hex(3)
    group_name = f"Calm and kind, grade 4 ({tag})"
    obs = {1: {s1["id"]: f"Named the feeling before acting on it ({tag}).", s2["id"]: f"Left the circle twice ({tag}).",
               s3["id"]: f"Asked to lead the next warm-up ({tag})."},
           2: {s1["id"]: f"Used the breathing card without a prompt ({tag}).", s2["id"]: f"Joined in all session ({tag})."}}
    worker, reviewer = page, second_page

    # 1. The worker sets up the group (they are its facilitator by default).
    sign_in(worker, live_server, "worker")
    _nav(worker, "Groups")
    worker.get_by_role("link", name="New group").click()
    worker.wait_for_url(re.compile(r"/groups/new$"))
    worker.get_by_label("School").select_option(label="Eastlake Primary School")
    worker.get_by_label("Name of the group").fill(group_name)
    worker.get_by_label("Kind of group").select_option(label="Managing anger")
    worker.get_by_label("Purpose").fill("Six sessions on noticing anger early and calming down.")
    worker.get_by_label("Planned sessions").fill("6")
    worker.get_by_label("When and where it meets").fill("Wednesdays 14:00, room 104")
    facilitators = worker.get_by_role("group", name="Facilitators")
    expect(facilitators.get_by_label(re.compile("^" + re.escape(WORKER_NAME)))).to_be_checked()
    worker.get_by_role("button", name="Create the group").click()
    worker.wait_for_url(GROUP_URL)
    group_url = worker.url.split("#")[0]
    expect(worker.get_by_text("Group created. Now add its students.")).to_be_visible()
    expect(worker.get_by_role("heading", name=group_name, level=1)).to_be_visible()

    # 2. Three students, found by number as one types (htmx), added one after the other.
    for n, s in enumerate(students, start=1):
        members = worker.locator("#members")
        members.get_by_label("Name or student number").fill(s["number"])
        option = worker.locator("#member-options").get_by_label(re.compile(re.escape(s["name"])))
        expect(option).to_have_count(1)
        option.check()
        worker.get_by_role("button", name="Add the ticked students").click()
        expect(worker.get_by_text("1 student added to the group.")).to_be_visible()
        expect(worker.locator("#members tbody tr")).to_have_count(n)
    rows = worker.locator("#members tbody tr")
    for s in students:
        row = rows.filter(has_text=s["name"])
        if s["case"]:
            expect(row.get_by_role("link", name=s["case"])).to_be_visible()  # the worker is on its team
        else:
            expect(row).to_contain_text("no case")

    # 3. Session 1: everyone there, an observation about each.
    worker.get_by_role("link", name="Record a session").click()
    worker.wait_for_url(re.compile(r"/groups/\d+/sessions/new$"))
    worker.get_by_label("Duration (minutes)").fill("50")
    worker.get_by_label("Topic").fill("Where anger lives in the body")
    worker.get_by_label("Session summary").fill(f"Body map, then a breathing game ({tag}).")
    for s in students:
        box = _attendance(worker, s)
        box.get_by_label("present", exact=True).check()
        box.get_by_label("Observation about this student").fill(obs[1][s["id"]])
    worker.get_by_role("button", name="Save and send for review").click()
    worker.wait_for_url(SESSION_URL)
    first_url = worker.url
    first_id = int(SESSION_URL.search(first_url).group(2))
    expect(worker.get_by_text("Session 1 recorded and sent for review.", exact=False)).to_be_visible()
    expect(worker.locator("#session h1 .badge")).to_have_text("Awaiting review")

    # 4. Session 2: refused while the third student is not marked (what was typed is kept).
    browser_problems.allow(REJECTED_422)
    worker.goto(group_url)
    worker.get_by_role("link", name="Record a session").click()
    worker.get_by_label("Duration (minutes)").fill("45")
    worker.get_by_label("Topic").fill("Calming down")
    worker.get_by_label("Session summary").fill(f"Practised the breathing card in pairs ({tag}).")
    for s in (s1, s2):
        _attendance(worker, s).get_by_label("present", exact=True).check()
        _attendance(worker, s).get_by_label("Observation about this student").fill(obs[2][s["id"]])
    worker.get_by_role("button", name="Save and send for review").click()
    expect(_attendance(worker, s3)).to_contain_text("Mark whether this student came.")
    expect(worker.get_by_label("Session summary")).to_have_value(f"Practised the breathing card in pairs ({tag}).")
    expect(_attendance(worker, s1).get_by_label("Observation about this student")).to_have_value(obs[2][s1["id"]])
    _attendance(worker, s3).get_by_label("absent", exact=True).check()
    worker.get_by_role("button", name="Save and send for review").click()
    worker.wait_for_url(SESSION_URL)
    second_url = worker.url
    second_id = int(SESSION_URL.search(second_url).group(2))
    expect(worker.get_by_role("heading", level=1)).to_contain_text(f"Session 2 of “{group_name}”")

    # 5. The first student's case shows their own attendance and observations, nobody else's.
    worker.goto(group_url)
    worker.locator("#members").get_by_role("link", name=s1["case"]).click()
    worker.wait_for_url(re.compile(rf"/cases/{s1['case_id']}#groups$"))
    section = worker.locator("#groups")
    expect(section).to_contain_text(group_name)
    expect(section).to_contain_text("attended 2 of 2 sessions")
    expect(section).to_contain_text(obs[1][s1["id"]])
    expect(section).to_contain_text(obs[2][s1["id"]])
    expect(worker.locator("#timeline")).to_contain_text(
        f"Group session 1 of “{group_name}” (Where anger lives in the body): present")
    case_page = worker.locator("#case")
    for other in (s2["name"], s3["name"], obs[1][s2["id"]], obs[1][s3["id"]], obs[2][s2["id"]], "Body map"):
        expect(case_page).not_to_contain_text(other)

    # 6. An anti-bullying assembly, held today, with its reach and a before-and-after question.
    _nav(worker, "Prevention")
    worker.wait_for_url(re.compile(r"/activities$"))
    held_before, reached_before = _figure(worker, "Anti-bullying")
    worker.get_by_role("link", name="Plan or record an activity").click()
    worker.get_by_label("Title").fill(f"Kind words week assembly ({tag})")
    worker.get_by_label("Type").select_option(label="Assembly")
    worker.get_by_label("Topic", exact=True).select_option(label="Anti-bullying")
    worker.get_by_role("group", name="Status").get_by_label("Held").check()
    worker.get_by_role("group", name="Audience").get_by_label("Students").check()
    worker.get_by_role("group", name="Audience").get_by_label("Staff").check()
    for grade in ("3", "4", "5"):
        worker.get_by_role("group", name="Grades").get_by_label(grade, exact=True).check()
    worker.get_by_label("Number of people reached").fill("350")
    worker.get_by_label("Evaluation question").fill("I know whom to tell if I am bullied")
    for n, (before, after) in enumerate(((40, 10), (60, 20), (100, 70), (60, 120), (40, 80)), start=1):
        worker.get_by_label(f"Before: answered {n}").fill(str(before))
        worker.get_by_label(f"After: answered {n}").fill(str(after))
    worker.get_by_role("button", name="Save").click()
    worker.wait_for_url(re.compile(r"/activities/\d+$"))
    expect(worker.get_by_text("Activity saved.")).to_be_visible()
    evaluation = worker.locator("#evaluation")
    # before: 300 answers, 100 of them 4 or 5 (33%); after: 300 answers, 200 of them (67%)
    expect(evaluation.locator("tbody tr").nth(0)).to_contain_text("33%")
    expect(evaluation.locator("tbody tr").nth(1)).to_contain_text("67%")
    slides = tmp_path / "kind-words.pdf"
    slides.write_bytes(PDF_BYTES)
    worker.get_by_label("File (PDF, PNG or JPEG)").set_input_files(str(slides))
    worker.get_by_role("button", name="Attach").click()
    expect(worker.get_by_text("File attached.")).to_be_visible()
    expect(worker.locator("#materials").get_by_role("link", name="kind-words.pdf")).to_be_visible()

    worker.get_by_role("link", name="Term calendar").click()
    expect(worker.locator("#calendar").get_by_role("link", name=f"Kind words week assembly ({tag})")).to_be_visible()
    assert _figure(worker, "Anti-bullying") == (held_before + 1, reached_before + 350)
    with worker.expect_download() as download:
        worker.get_by_role("link", name="the figures").click()
    with open(download.value.path(), encoding="utf-8-sig") as fh:
        csv_text = fh.read()
    assert f"Anti-bullying,{held_before + 1},{reached_before + 350}," in csv_text, csv_text

    # 7. The assistant supervisor accepts session 1 in the queue, and returns session 2.
    sign_in(reviewer, live_server, "assistant")
    _nav(reviewer, "Review queue")
    reviewer.get_by_role("navigation", name="Review queue").get_by_role(
        "link", name=re.compile("^Group sessions awaiting review")).click()
    reviewer.wait_for_url(re.compile(r"/review\?tab=groups$"))
    item = reviewer.locator(f"#review-groups-{first_id}")
    expect(item).to_contain_text(group_name)
    expect(item).to_contain_text(WORKER_NAME)
    expect(item).to_contain_text("3 of 3 present")
    expect(reviewer.locator(f"#review-groups-{second_id}")).to_contain_text("2 of 3 present")
    mark_document(reviewer)
    item.get_by_role("button", name="Accept").click()
    done = reviewer.locator(f"#review-groups-{first_id}")
    expect(done.locator(".badge")).to_have_text("Accepted")
    expect(reviewer.locator("#toasts")).to_contain_text("Session record accepted.")
    expect_same_document(reviewer)

    comment = f"Say what the student who left the circle did next ({tag})."
    reviewer.locator(f"#review-groups-{second_id}").get_by_role("link", name="Open").click()
    reviewer.wait_for_url(second_url)
    for text in (s1["name"], s2["name"], s3["name"], obs[2][s2["id"]]):
        expect(reviewer.locator("#session")).to_contain_text(text)  # the line reads the whole record
    reviewer.get_by_label("Comment").fill(comment)
    reviewer.get_by_role("button", name="Return with comments").click()
    reviewer.wait_for_url(second_url)
    expect(reviewer.get_by_text("Session record returned with your comments.")).to_be_visible()
    expect(reviewer.locator("#session h1 .badge")).to_have_text("Returned for revision")
    sign_out(reviewer)

    # 8. The worker finds it under My day, corrects it and resubmits.
    _nav(worker, "My day")
    returned = worker.locator("section.card").filter(
        has=worker.get_by_role("heading", name="Returned to you for revision"))
    returned.locator("li").filter(has_text=group_name).get_by_role("link", name=re.compile(r"^Group session 2 of ")).click()
    worker.wait_for_url(second_url)
    thread = worker.locator("ol.thread > li")
    expect(thread).to_have_count(2)
    expect(thread.nth(1).locator(".note-meta")).to_contain_text(f"{ASSISTANT_NAME} returned with comments")
    expect(thread.nth(1).locator(".note-body")).to_have_text(comment)
    revise = worker.locator("form[action$='/revise']")
    box = revise.get_by_role("group", name=re.compile("^" + re.escape(s2["name"]) + " "))
    observation = box.get_by_label("Observation about this student")
    expect(observation).to_have_value(obs[2][s2["id"]])
    observation.fill(f"Joined in all session; came back to the circle by himself after a pause ({tag}).")
    revise.get_by_role("group", name=re.compile("^" + re.escape(s3["name"]) + " ")).get_by_label(
        "excused", exact=True).check()
    worker.get_by_label("Your reply to the comments").fill("Added what happened after the pause.")
    worker.get_by_role("button", name="Resubmit for review").click()
    worker.wait_for_url(second_url)
    expect(worker.get_by_text("Revision sent for review.")).to_be_visible()
    expect(worker.locator("#session h1 .badge")).to_have_text("Awaiting review")
    expect(thread).to_have_count(3)
    expect(thread.nth(2).locator(".note-meta")).to_contain_text(f"{WORKER_NAME} revised and resubmitted")
    expect(worker.locator("#session")).to_contain_text("excused")
