"""A small demo district: two schools, a full supervision line, teachers, students, cases.

Deterministic (seeded) so screenshots and tests see the same people. Cases are made through the
case services, so their timelines and audit trail are real.
"""
import random
from datetime import date, timedelta

from sqlalchemy import func, select

from . import clock
from .auth.passwords import hash_password
from .cases import services as case_services
from .crypto import new_uid
from .extensions import db
from .models import Case, Guardian, School, Student, User

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = ("子涵 欣怡 梓涵 晨曦 浩然 宇轩 雨桐 思远 一诺 俊杰 梦琪 嘉怡 子墨 诗涵 明轩 佳琪 博文 "
         "雅静 志强 欣妍 天佑 若曦 晓峰 亦菲 泽宇 可馨 昊天 语嫣 文博 静怡 睿 航 阳 悦 婷 磊 琳 鑫").split()
RELATIONS = ("mother", "father", "grandmother", "grandfather", "aunt", "uncle")
RELATION_ZH = {"mother": "母亲", "father": "父亲", "grandmother": "祖母", "grandfather": "祖父",
               "aunt": "姑姑", "uncle": "舅舅"}

# username, display name, role, supervisor username, school codes
STAFF = [
    ("mentor", "Dr. Lin Hui (林慧)", "supervisor_mentor", None, ("EPS", "WMS")),
    ("supervisor", "Zhou Min (周敏)", "supervisor", "mentor", ("EPS", "WMS")),
    ("practice", "Chen Jing (陈静)", "practice_supervisor", "supervisor", ("EPS",)),
    ("practice2", "Guo Wei (郭伟)", "practice_supervisor", "supervisor", ("WMS",)),
    ("assistant", "Huang Li (黄丽)", "assistant_supervisor", "practice", ("EPS",)),
    ("assistant2", "Xu Tao (徐涛)", "assistant_supervisor", "practice", ("EPS",)),
    ("assistant3", "Ma Yun (马芸)", "assistant_supervisor", "practice2", ("WMS",)),
    ("assistant4", "Sun Qiang (孙强)", "assistant_supervisor", "practice2", ("WMS",)),
    ("worker", "Wang Fang (王芳)", "social_worker", "assistant", ("EPS",)),
    ("worker2", "Li Na (李娜)", "social_worker", "assistant", ("EPS",)),
    ("worker3", "Zhang Wei (张伟)", "social_worker", "assistant2", ("EPS",)),
    ("worker4", "Liu Yang (刘洋)", "social_worker", "assistant2", ("EPS",)),
    ("worker5", "Zhao Lei (赵磊)", "social_worker", "assistant3", ("WMS",)),
    ("worker6", "Wu Xia (吴霞)", "social_worker", "assistant3", ("WMS",)),
    ("worker7", "Yang Bo (杨波)", "social_worker", "assistant4", ("WMS",)),
    ("worker8", "He Ping (何萍)", "social_worker", "assistant4", ("WMS",)),
    ("teacher", "Ms. Deng Hong (邓红)", "teacher", None, ("EPS",)),
    ("teacher2", "Mr. Song Jie (宋杰)", "teacher", None, ("EPS",)),
    ("teacher3", "Ms. Tang Yu (唐玉)", "teacher", None, ("WMS",)),
    ("admin", "Portal Administrator", "admin", None, ()),
]

# A walk through the cycle for each demo case: the statuses it passes, in order.
PATHS = {
    "intake": [],
    "assessment": ["assessment"],
    "planning": ["assessment", "planning"],
    "active": ["assessment", "planning", "active"],
    "review": ["assessment", "planning", "active", "review"],
    "closed": ["assessment", "planning", "active", "review"],  # then closed with approval, below
}


def is_empty() -> bool:
    return not db.session.scalar(select(func.count()).select_from(User))


def build(password: str, students_per_school: int = 100, seed: int = 2026):
    rng = random.Random(seed)
    now = clock.now()
    schools = {
        "EPS": School(code="EPS", name="Eastlake Primary School"),
        "WMS": School(code="WMS", name="Westhill Middle School"),
    }
    db.session.add_all(schools.values())
    pw_hash = hash_password(password)  # one hash, shared by the demo accounts
    users = {}
    for username, name, role, sup, codes in STAFF:
        u = User(username=username, display_name=name, role=role, password_hash=pw_hash,
                 supervisor=users.get(sup), schools=[schools[c] for c in codes],
                 email=f"{username}@demo.invalid", password_changed_at=now,
                 on_duty=username in ("worker", "worker5"))
        users[username] = u
        db.session.add(u)
    db.session.flush()

    students = {code: [] for code in schools}
    for code, school in schools.items():
        grades = ("1", "2", "3", "4", "5", "6") if code == "EPS" else ("7", "8", "9")
        base_age = 6 if code == "EPS" else 12
        for i in range(students_per_school):
            grade = grades[i % len(grades)]
            age = base_age + grades.index(grade)
            dob = date(now.year - age, 1, 1) + timedelta(days=rng.randrange(0, 360))
            s = Student(school=school, student_number=f"{code}{now.year % 100:02d}{i + 1:04d}",
                        family_name=rng.choice(SURNAMES), given_name=rng.choice(GIVEN), grade=grade,
                        class_name=f"{grade}-{rng.randint(1, 4)}", date_of_birth=dob)
            for r in rng.sample(RELATIONS[:2], k=rng.choice((1, 2))) if i % 7 else ["grandmother"]:
                g = Guardian(uid=new_uid(), name=rng.choice(SURNAMES) + rng.choice(GIVEN),
                             relationship_to_student=RELATION_ZH[r],
                             language="普通话" if i % 11 else "粤语", interpreter_needed=i % 11 == 0,
                             lives_with_student=True, contact_restricted=(i % 29 == 5 and r == "father"))
                s.guardians.append(g)
                g.phone = f"1{rng.randint(30, 89)}{rng.randint(10000000, 99999999)}"
            db.session.add(s)
            students[code].append(s)
    db.session.flush()

    # Cases: every status for `worker` (so the demo login sees the whole cycle), and a spread
    # over the rest of the line in both schools.
    plan = [("worker", "EPS", st) for st in PATHS] + [("worker", "EPS", "active")] * 2
    for uname in ("worker2", "worker3", "worker4"):
        plan += [(uname, "EPS", st) for st in ("intake", "assessment", "active", "review", "closed")]
    for uname in ("worker5", "worker6", "worker7", "worker8"):
        plan += [(uname, "WMS", st) for st in ("intake", "planning", "active", "closed")]
    used = {"EPS": 0, "WMS": 0}
    needed = {code: sum(1 for _, c, _ in plan if c == code) for code in schools}
    stride = {code: max(1, min(3, len(students[code]) // max(needed[code], 1))) for code in schools}
    try:
        for n, (uname, code, status) in enumerate(plan):
            if used[code] * stride[code] >= len(students[code]):
                continue  # a small demo: fewer students than planned cases
            student = students[code][used[code] * stride[code]]
            used[code] += 1
            worker = users[uname]
            start = now - timedelta(days=120 - n * 2, hours=rng.randint(0, 8))
            clock.freeze(start)
            case = case_services.open_case(worker, student, worker=worker,
                                           risk_level=rng.choice(("low", "low", "moderate", "high")))
            for step, st in enumerate(PATHS[status]):
                clock.freeze(start + timedelta(days=7 * (step + 1)))
                case_services.change_status(worker, case, st)
            if status == "closed":
                clock.freeze(start + timedelta(days=7 * (len(PATHS[status]) + 1)))
                case_services.close_case(worker, case, approved_by=worker.supervisor)
            if n % 5 == 2 and case.is_open:
                clock.freeze(start + timedelta(days=3))
                new = "high" if case.risk_level != "high" else "moderate"
                case_services.change_risk(worker, case, new, "Demo: the student's situation changed.")
            if n % 4 == 0:
                peer = next(u for u in users.values() if u.role == "social_worker" and u is not worker
                            and student.school in u.schools)
                case_services.add_member(worker, case, peer)
            db.session.flush()
    finally:
        clock.freeze(None)
    _concerns(users, students, now)
    _casework(users, now)
    return users


def _casework(users, now):
    """Service records and plans on the demo worker's active cases: some waiting for the assistant
    supervisor's review, one returned with comments, one plan approved and one waiting."""
    from flask import current_app

    from .casework import services as work
    cases = db.session.scalars(select(Case).where(Case.worker_id == users["worker"].id,
                                                  Case.status.in_(("active", "review")))
                               .order_by(Case.id)).all()
    worker, assistant = users["worker"], users["assistant"]
    with current_app.test_request_context():
        try:
            for n, case in enumerate(cases[:3]):
                clock.freeze(now - timedelta(days=20 - n))
                plan = work.submit_plan(worker, case, review_on=(now + timedelta(days=40)).date(), goals=[
                    {"goal": "Attends school every day for four weeks", "target": (now + timedelta(days=30)).date(),
                     "measure": "Attendance register"},
                    {"goal": "Names two adults at school to turn to", "target": (now + timedelta(days=14)).date(),
                     "measure": "Asked at the weekly check-in"}],
                    interventions=[{"what": "Weekly individual session", "who": "Social worker", "how_often": "Weekly"},
                                   {"what": "Call with the guardian", "who": "Social worker", "how_often": "Fortnightly"}])
                if n < 2:
                    clock.freeze(now - timedelta(days=18 - n))
                    work.decide_plan(assistant, plan, "approve", "Clear goals; review in six weeks.")
                for k in range(2):
                    clock.freeze(now - timedelta(days=10 - 4 * k - n))
                    rec = work.add_service_record(
                        worker, case, occurred_on=clock.now().date(), duration=40, kind="individual",
                        participants="Student", summary="Talked about how the week went at school and at home; "
                        "agreed one small step for next week.", progress="Attended four days out of five.")
                    if k == 0 and n == 0:
                        clock.freeze(now - timedelta(days=8))
                        work.review_record(assistant, rec, "return", "Add what the student said in their own words.")
                    elif k == 0:
                        clock.freeze(now - timedelta(days=7))
                        work.review_record(assistant, rec, "accept", "")
            if len(cases) > 2:
                clock.freeze(now - timedelta(days=2))
                work.escalate(worker, cases[2], "The guardian refuses every contact and the student is "
                                                "missing more school. I need advice on the next step.")
        finally:
            clock.freeze(None)
    db.session.flush()


def _concerns(users, students, now):
    """A few concern reports: some waiting for triage (two about one student), one added to an open
    case, one closed without action. None urgent, so the demo starts without alerts."""
    from flask import current_app

    from .concerns import services as concern_services
    eps, wms = students["EPS"], students["WMS"]
    reports = [  # reporter, student, categories, urgency, days ago, what was seen
        ("teacher", eps[-1], ["emotional"], "week", 2, "Has been very quiet and eats lunch alone this week."),
        ("teacher2", eps[-2], ["bullying"], "today", 0.2, "Older pupils took his bag and laughed at him at the gate."),
        ("teacher", eps[-2], ["bullying", "emotional"], "week", 5, "Says he does not want to come to school."),
        ("teacher2", eps[-3], ["attendance"], "routine", 9, "Absent four Mondays in a row."),
        ("teacher3", wms[-1], ["family"], "week", 1, "Mentioned that her parents are separating."),
        ("teacher", eps[-4], ["behaviour"], "routine", 12, "Pushed a classmate twice during PE."),
    ]
    made = []
    with current_app.test_request_context():
        try:
            for n, (who, student, cats, urgency, days, text) in enumerate(reports):
                clock.freeze(now - timedelta(days=days))
                concern, _ = concern_services.file_concern(
                    users[who], student_id=student.id, categories=cats, urgency=urgency,
                    observed_at=clock.now() - timedelta(hours=3), description=text, token=f"demo-{n}")
                made.append(concern)
            clock.freeze(now - timedelta(days=11))
            concern_services.no_further_action(users["worker2"], made[5], "Spoke with the PE teacher: a "
                                               "one-off, handled in class.")
            open_case = next(c for c in db.session.scalars(select(Case).where(Case.status == "active"))
                             if c.worker_id == users["worker"].id)
            clock.freeze(now - timedelta(days=8))
            late, _ = concern_services.file_concern(
                users["teacher"], student_id=open_case.student_id, categories=["emotional"], urgency="week",
                observed_at=clock.now() - timedelta(days=1), description="Cried after the maths test.",
                token="demo-linked")
            concern_services.link_to_open_case(users["worker"], late)
        finally:
            clock.freeze(None)
    db.session.flush()
