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
    restricted = []
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
                             lives_with_student=not (i % 29 == 5 and r == "father"),
                             contact_times="工作日晚上" if i % 3 == 0 else None)
                s.guardians.append(g)
                g.phone = f"1{rng.randint(30, 89)}{rng.randint(10000000, 99999999)}"
                g.address = f"{rng.choice(('湖滨路', '西山街', '东城路'))}{rng.randint(1, 200)}号{rng.randint(1, 20)}01室"
                if i % 29 == 5 and r == "father":  # a court order: no contact, no information
                    restricted.append(g)
            db.session.add(s)
            students[code].append(s)
    db.session.flush()
    from .family import services as family
    for g in restricted:
        family.add_restriction(users["worker"], g, kinds=["no_contact", "no_information"], basis="court_order",
                               details="Protection order of the district court, in force for one year.")

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
    _crises(users, now)
    _family(users, now)
    _referrals(users, now)
    _groups(users, now)
    _prevention(users, now)
    _term_of_concerns(users, students, now)
    _supervision(users, now)
    _privacy(users, students, now)  # last: it marks two students as left, who take no new concerns
    return users


OBSERVATIONS = (
    "Joined the warm-up game at once and encouraged a quieter member.",
    "Quiet at first; spoke once the group worked in pairs.",
    "Found it hard to wait for a turn; calmer after the breathing exercise.",
    "Shared how lunchtime feels when nobody saves a seat.",
    "Helped to set the group's rules and reminded others of them kindly.",
)


def _groups(users, now):
    """A friendship group at Eastlake run by the demo worker and a colleague (two sessions
    accepted, the third waiting for the assistant supervisor's review), and a grief group at
    Westhill whose two sessions wait for review. Members with a case get the observations on it."""
    from flask import current_app

    from .groups import services as groups

    def members_of(code, worker_ids, with_case, without_case):
        school = db.session.scalar(select(School).where(School.code == code))
        cased = db.session.scalars(select(Student).join(Case, Case.student_id == Student.id).where(
            Case.worker_id.in_(worker_ids), Case.status.in_(("planning", "active", "review")))
            .order_by(Case.id)).all()[:with_case]
        free = db.session.scalars(select(Student).where(
            Student.school_id == school.id,
            ~select(Case.id).where(Case.student_id == Student.id).exists()).order_by(Student.id)).all()
        return school, cased + free[len(free) // 3:][:without_case]

    plans = [  # school, facilitators, name, kind, purpose, planned, members (with a case, without), sessions
        ("EPS", ("worker", "worker2"), "Friendship group", "friendship",
         "Six weeks on making and keeping friends, for pupils who are often alone at break.", 6, (3, 2),
         [("worker", 18, "Getting to know each other", "accept"), ("worker2", 11, "What makes a good friend", "accept"),
          ("worker", 4, "When friends fall out", None)]),
        ("WMS", ("worker5",), "Grief and loss group", "grief",
         "A space for students who lost someone close this year: remembering, coping, asking for help.", 8, (2, 2),
         [("worker5", 9, "Memories we keep", None), ("worker5", 2, "Feelings that come in waves", None)]),
    ]
    with current_app.test_request_context():
        try:
            for code, who, name, kind, purpose, planned, (n_case, n_free), sessions in plans:
                people = [users[u] for u in who]
                school, students = members_of(code, [u.id for u in people], n_case, n_free)
                if len(students) < 3:
                    continue  # a very small demo district
                clock.freeze(now - timedelta(days=25))
                group = groups.create_group(people[0], school, name=name, kind=kind, purpose=purpose,
                                            planned_sessions=planned, starts_on=(now - timedelta(days=18)).date(),
                                            meets="Tuesdays 15:30, room 104" if code == "EPS" else "Thursdays 12:20, library",
                                            facilitators=people)
                groups.add_members(people[0], group, students)
                for n, (author, days_ago, topic, decision) in enumerate(sessions):
                    clock.freeze(now - timedelta(days=days_ago))
                    marks = {m.id: ("absent", "") if (i + n) % 5 == 4 else ("present", OBSERVATIONS[(i + n) % 5])
                             for i, m in enumerate(group.current_members)}
                    s = groups.record_session(users[author], group, occurred_on=clock.now().date(), duration=45,
                                              topic=topic, marks=marks,
                                              summary=f"{topic}: a warm-up game, work in pairs, then a closing circle. "
                                                      "Most joined in; two needed encouragement to speak.")
                    if decision:
                        clock.freeze(now - timedelta(days=days_ago - 1))
                        groups.review_session(users[author].supervisor, s, decision, "Clear record; thank you.")
        finally:
            clock.freeze(None)
    db.session.flush()


def _prevention(users, now):
    """Prevention and education in both schools this term: held activities with their reach (one
    with a before-and-after evaluation), planned ones, one whose outcome is still to be recorded."""
    from .prevention import services as prevention
    today = now.date()
    rows = [  # organiser, school, type, topic, title, days from today, status, audience, grades, reached, evaluation
        ("worker", "EPS", "assembly", "anti_bullying", "Stand up, speak out: anti-bullying assembly", -21, "held",
         ["students", "staff"], ["1", "2", "3", "4", "5", "6"], 412,
         ("I know whom to tell if I am bullied", [38, 52, 80, 60, 30], [8, 20, 62, 110, 60])),
        ("worker", "EPS", "class_talk", "online_safety", "Safe online: passwords and strangers", -14, "held",
         ["students"], ["5"], 38, None),
        ("worker2", "EPS", "parent_workshop", "emotional_wellbeing", "Talking with your child about feelings", -10,
         "held", ["parents"], [], 26, None),
        ("worker", "EPS", "class_talk", "safety", "Road and water safety before the holiday", -2, "planned",
         ["students"], ["3", "4"], None, None),
        ("worker", "EPS", "staff_training", "emotional_wellbeing", "Spotting low mood in the classroom", 5, "planned",
         ["staff"], [], None, None),
        ("worker2", "EPS", "mh_week_event", "emotional_wellbeing", "Mental-health week: the kindness wall", 20, "planned",
         ["students", "parents", "staff"], [], None, None),
        ("worker5", "WMS", "campaign", "substance_use", "Clear heads: a week against vaping", -17, "held",
         ["students"], ["7", "8", "9"], 604, None),
        ("worker5", "WMS", "class_talk", "law", "Your rights and the law at 14", -6, "held", ["students"], ["8"], 44, None),
        ("worker6", "WMS", "class_talk", "online_safety", "Photos, sharing and consent", 9, "planned", ["students"],
         ["9"], None, None),
    ]
    schools = {s.code: s for s in db.session.scalars(select(School))}
    for who, code, type_, topic, title, days, status, audience, grades, reached, ev in rows:
        prevention.create_activity(
            users[who], schools[code], type=type_, topic=topic, topic_other="", title=title,
            occurs_on=today + timedelta(days=days), status=status, audience=audience, grades=grades, classes="",
            reached=reached, materials="Slides and a short film" if ev else "", eval_question=ev[0] if ev else "",
            eval_before=ev[1] if ev else [None] * 5, eval_after=ev[2] if ev else [None] * 5,
            notes="Pupils asked for a follow-up session on what to do as a bystander." if ev else "")
    db.session.flush()


AGENCIES = [  # name, type, languages, area, services, waiting weeks
    ("东湖儿童青少年心理门诊 Lakeside Child and Adolescent Mental Health", "mental_health", "普通话, English",
     "东城区 East district", "Assessment and therapy for children and young people, 6–18.", 6),
    ("区未成年人保护中心 District Child Protection Centre", "child_protection", "普通话", "全区 Whole district",
     "Receives reports of abuse and neglect; investigation and protection.", 0),
    ("西山家庭服务中心 Westhill Family Services", "family_services", "普通话, 粤语", "西城区 West district",
     "Parenting programmes, family counselling, home support.", 3),
    ("青少年活动中心 Youth Centre", "youth_services", "普通话", "全区 Whole district",
     "After-school groups, mentoring, holiday programmes.", 1),
    ("法律援助中心 Legal Aid Centre", "legal_aid", "普通话", "全区 Whole district",
     "Free legal advice for families: custody, protection orders, housing.", 2),
    ("市儿童医院 City Children's Hospital", "medical", "普通话, English", "全市 Whole city",
     "Paediatrics, emergency department, eating disorders clinic.", 4),
]


def _referrals(users, now):
    """The district's agency directory, and on the demo worker's case a guardian's consent and a
    referral to the mental-health service that is waiting for news."""
    from flask import current_app

    from .referrals import services as referrals

    supervisor, worker = users["supervisor"], users["worker"]
    agencies = [referrals.save_agency(supervisor, name=n, type=t, languages=lang, area=area, services=svc,
                                      waiting_weeks=w, phone=f"0571-8{i:03d}000{i}")
                for i, (n, t, lang, area, svc, w) in enumerate(AGENCIES)]
    case = db.session.scalars(select(Case).where(Case.worker_id == worker.id, Case.status == "active")
                              .order_by(Case.id.desc())).first()
    parent = next((g for g in case.student.guardians if not g.no_contact), None) if case else None
    if parent is None:
        return
    with current_app.test_request_context():
        try:
            clock.freeze(now - timedelta(days=20))
            today = clock.now().date()
            referrals.record_consent(worker, case, agency=agencies[0], given_by=parent, method="signed_form",
                                     given_on=today, expires_on=today + timedelta(days=180),
                                     scope=["identity", "guardian_contact", "reason"],
                                     purpose="Assessment of low mood and sleep problems.")
            ref = referrals.create_referral(worker, case, agency=agencies[0], urgency="soon",
                                            items=["identity", "guardian_contact", "reason"],
                                            reason="Low mood, poor sleep and withdrawal from friends for three months; "
                                                   "school support has not been enough.")
            referrals.send(worker, ref)
        finally:
            clock.freeze(None)
    db.session.flush()


def _family(users, now):
    """Contacts with the family on the demo worker's cases (an attempt, then a call with a
    follow-up due tomorrow), and a home visit planned for tomorrow with a check-in colleague."""
    from flask import current_app

    from .family import services as family

    worker = users["worker"]
    cases = db.session.scalars(select(Case).where(Case.worker_id == worker.id, Case.status == "active")
                               .order_by(Case.id)).all()
    case = next((c for c in cases if any(not g.contact_restricted for g in c.student.guardians)), None)
    if case is None:
        return
    parent = next(g for g in case.student.guardians if not g.contact_restricted)
    with current_app.test_request_context():
        try:
            clock.freeze(now - timedelta(days=3))
            family.log_contact(worker, case, guardian_ids=[parent.id], occurred_at=clock.now(), method="phone",
                               initiated_by="school", purpose="plan", reached=False, duration=None,
                               interpreter_used=False, summary="No answer; left a voice message asking for a call back.")
            clock.freeze(now - timedelta(days=2))
            family.log_contact(worker, case, guardian_ids=[parent.id], occurred_at=clock.now(), method="phone",
                               initiated_by="family", purpose="plan", reached=True, duration=15,
                               interpreter_used=False,
                               summary="Called back. Talked through the case plan; agrees to weekly sessions at school.",
                               next_steps="Send the session times by message.",
                               follow_up_on=(now + timedelta(days=1)).date())
            clock.freeze(now)
            tomorrow = (now + timedelta(days=1)).replace(hour=7, minute=0, second=0, microsecond=0)  # 15:00 local
            family.plan_visit(worker, case, visitor=worker, companion=None, checkin_contact=users["worker2"],
                              planned_at=tomorrow, expected_return_at=tomorrow + timedelta(hours=1, minutes=30),
                              address=parent.address or "", purpose="Meet the family at home, as agreed on the phone.")
        finally:
            clock.freeze(None)
    db.session.flush()


def _crises(users, now):
    """One crisis in progress on the demo worker's caseload (acknowledged by the line, screened,
    with a safety plan and the first follow-up held; the next one due), and one signed off."""
    from flask import current_app

    from .alerts import services as alert_services
    from .crisis import services as crisis

    worker, assistant = users["worker"], users["assistant"]
    cases = db.session.scalars(select(Case).where(Case.worker_id == worker.id, Case.status == "active")
                               .order_by(Case.id)).all()
    if len(cases) < 2:
        return
    with current_app.test_request_context():
        try:
            # 10:10 in the morning, school time in the default time zone (Asia/Shanghai, UTC+8)
            start = (now - timedelta(days=2)).replace(hour=2, minute=10, second=0, microsecond=0)
            clock.freeze(start)
            c = crisis.start_crisis(worker, cases[0].student, crisis_type="suicide_self_harm",
                                    occurred_at=start - timedelta(minutes=20),
                                    account="Told her class teacher at break that she has thought about ending her "
                                            "life and has saved up tablets at home.")
            clock.freeze(start + timedelta(minutes=4))
            alert_services.acknowledge(assistant, c.alert)
            crisis.record_step(worker, c, "safe_now", "done", occurred_at=start,
                               note="With me in the counselling room; the class teacher covered her lesson.")
            clock.freeze(start + timedelta(minutes=30))
            crisis.record_screen(worker, c, {"q1": "yes", "q2": "yes", "q3": "yes", "q4": "no", "q5": "no",
                                             "q6": "no"})
            clock.freeze(start + timedelta(minutes=70))
            crisis.save_safety_plan(worker, c, {
                "warning_signs": "Staying in my room; not answering messages; not sleeping.",
                "internal_coping": "Drawing; music with headphones; a walk round the block.",
                "distraction": "The library at lunchtime; my cousin's house.",
                "help_people": "Aunt Mei; my friend Lili.",
                "professionals": "School social worker (room 104); 12356 mental-health line; 120 ambulance.",
                "safe_environment": "Mother will lock the tablets away today.",
                "reasons_for_living": "My little brother; drawing."})
            guardian = next((g for g in cases[0].student.guardians if not g.contact_restricted), None)
            if guardian is not None:
                crisis.record_step(worker, c, "guardian", "done", occurred_at=clock.now(),
                                   details={"guardian_id": guardian.id, "method": "phone", "reached": "yes"},
                                   note="Mother came to school; agreed to lock away medicines.")
            clock.freeze(start + timedelta(hours=25))
            crisis.record_follow_up(worker, c.follow_ups[0], "done", "Calmer; went to every lesson; used the plan "
                                                                    "once last night.")
            # A crisis from last term, signed off.
            old = now - timedelta(days=60)
            clock.freeze(old)
            done = crisis.start_crisis(worker, cases[1].student, crisis_type="family_crisis",
                                       occurred_at=old - timedelta(hours=1),
                                       account="Father died suddenly at the weekend.")
            alert_services.acknowledge(assistant, done.alert)
            crisis.record_step(worker, done, "safe_now", "done", occurred_at=old, note="With his form tutor.")
            crisis.record_step(worker, done, "guardian", "waive", note="Mother is at the hospital; the uncle "
                                                                       "collected him and was told.")
            for fu in done.follow_ups:
                clock.freeze(fu.due_at)
                crisis.record_follow_up(worker, fu, "done", "Grieving, attending; sees the school counsellor.")
            crisis.request_signoff(worker, done, "Supported through the first month; weekly sessions continue "
                                                 "under the case plan.")
            crisis.decide_signoff(assistant, done, "approve", "Well supported.")
        finally:
            clock.freeze(None)
    db.session.flush()


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


def _privacy(users, students, now):
    """Retention and record requests: two students who left Eastlake years ago, each with a case
    closed back then (one under a legal hold, so `flask retention run` lists one due and one held);
    a record request for the demo worker's student; a teacher's account unused for months."""
    from flask import current_app

    from .records import services as records
    from .retention import services as retention

    worker, assistant, supervisor = users["worker"], users["assistant"], users["supervisor"]
    leavers = [s for s in students["EPS"] if not db.session.scalar(select(Case.id).where(Case.student_id == s.id))][-12:-10]
    with current_app.test_request_context():
        try:
            for n, student in enumerate(leavers):
                clock.freeze(now.replace(year=now.year - 9) - timedelta(days=60 + n))
                former = users["worker3"]
                case = case_services.open_case(former, student, worker=former, risk_level="low")
                clock.freeze(now.replace(year=now.year - 9) - timedelta(days=10 + n))
                case_services.close_case(former, case, approved_by=former.supervisor)
                student.left_on = (now.replace(year=now.year - 8)).date()
                student.active = False
                if n == 1:
                    clock.freeze(now - timedelta(days=30))
                    retention.place_hold(supervisor, case, "The family's complaint to the education bureau is open.")
            case = db.session.scalars(select(Case).where(Case.worker_id == worker.id, Case.status == "active")
                                      .order_by(Case.id)).first()
            parent = next((g for g in case.student.guardians if not g.has_restriction), None) if case else None
            if parent is not None:
                clock.freeze(now - timedelta(days=1))
                records.produce(assistant, case.student, requester_kind="guardian", requester=parent.name,
                                received_on=(now - timedelta(days=4)).date(), guardian=parent)
        finally:
            clock.freeze(None)
    users["teacher3"].created_at = now - timedelta(days=200)  # never signed in: flagged to the administrator
def _supervision(users, now):
    """Supervision as the demo line lives it: a group session of the practice supervisor with her
    assistant supervisors and their workers, an individual session of the worker with a case
    discussed and actions in My day, a growth plan with progress, a performance review waiting for
    comments, and case studies: one approved for the library, one waiting for approval."""
    from flask import current_app

    from .casestudies import services as studies
    from .i18n import local_today
    from .supervision import growth, performance, sessions

    worker, worker2, assistant = users["worker"], users["worker2"], users["assistant"]
    practice = users["practice"]
    cases = db.session.scalars(select(Case).where(Case.worker_id == worker.id, Case.status.in_(("active", "review")))
                               .order_by(Case.id)).all()
    with current_app.test_request_context():
        try:
            today = local_today()
            clock.freeze(now - timedelta(days=6))
            group = sessions.record_session(
                practice, kind="group", held_on=today - timedelta(days=6), duration=90,
                attendee_ids=[assistant.id, users["assistant2"].id, worker.id, worker2.id, users["worker3"].id],
                topics="Attendance worries after the holiday; how we record family contacts that do not reach anyone.",
                decisions="Record every attempt, reached or not. Assistant supervisors check the records of "
                          "their team weekly.",
                actions=[{"owner_id": assistant.id, "due_on": today + timedelta(days=1),
                          "text": "Check this week's family-contact records of the team"}])
            sessions.add_action(practice, group, owner=worker2, due_on=today + timedelta(days=5),
                                text="Share the attendance letter template with the group")
            clock.freeze(now - timedelta(days=2))
            one = sessions.record_session(
                assistant, kind="individual", held_on=today - timedelta(days=2), duration=45, attendee_ids=[worker.id],
                topics="Caseload, the crisis follow-ups and preparing the first home visit.",
                decisions="Home visit with a check-in colleague; bring the safety plan to the next session.")
            if cases:
                sessions.add_case(assistant, one, cases[0], "Safety plan in place; mother locked the medicines away. "
                                                            "Keep the daily check-ins until the next screen.")
                sessions.add_action(assistant, one, owner=worker, case=cases[0], due_on=today + timedelta(days=2),
                                    text="Re-screen at the 72-hour follow-up and bring the result")
            sessions.add_action(assistant, one, owner=worker, due_on=today - timedelta(days=1),
                                text="Read the district's guidance on mandated reporting")
            clock.freeze(now - timedelta(days=30))
            plan = growth.set_plan(assistant, worker, focus="Working with families who are hard to reach.",
                                   starts_on=today - timedelta(days=30), review_on=today + timedelta(days=60),
                                   goals=[{"goal": "Lead two parent sessions", "measure": "Recorded as parent sessions"},
                                          {"goal": "Write every service record within two days",
                                           "measure": "Records submitted on time, in the performance figures"}])
            clock.freeze(now - timedelta(days=10))
            growth.add_progress(worker, plan, goal=plan.goals[0], text="Held the first parent session; the "
                                                                       "grandmother came with an aunt.")
            clock.freeze(now - timedelta(days=9))
            growth.add_progress(assistant, plan, text="Observed the session: calm, clear, kept to the plan.")
            clock.freeze(now - timedelta(days=1))
            review = performance.start_review(assistant, worker2, today - timedelta(days=90), today - timedelta(days=1))
            performance.save_assessment(assistant, review, "Reliable, warm work with students; records are often "
                                                           "late. Next quarter: records within two days.",
                                        share_now=True)
            if len(cases) > 1:
                clock.freeze(now - timedelta(days=4))
                student = cases[1].student
                study = studies.create(worker, cases[1], title="Grief after a sudden bereavement",
                                       sections=list(studies.SECTIONS),
                                       question=f"How would you have involved {student.given_name}'s family "
                                                "earlier?")
                studies.submit(worker, study)
                clock.freeze(now - timedelta(days=3))
                studies.decide(assistant, study, "approve", "Well de-identified; good questions for the group.")
            others = db.session.scalars(select(Case).where(Case.worker_id == worker2.id, Case.status != "closed")
                                        .order_by(Case.id)).all()
            if others:
                clock.freeze(now - timedelta(hours=5))
                waiting = studies.create(worker2, others[0], title="", sections=["assessment", "plan", "records"],
                                         question="What would you try next?")
                studies.submit(worker2, waiting)
        finally:
            clock.freeze(None)
    db.session.flush()


def _term_of_concerns(users, students, now):
    """Earlier this term: concerns reported by the other teachers and handled within hours or days,
    so the reports and the district view have figures of some size (none waits in triage)."""
    from flask import current_app

    from .concerns import services as concern_services
    rng = random.Random(7)
    plan = [("EPS", "teacher2", ("worker", "worker2", "worker3"), 32), ("WMS", "teacher3", ("worker5", "worker6"), 14)]
    with current_app.test_request_context():
        try:
            for code, reporter, handlers, n in plan:
                pool = students[code][len(students[code]) // 3: len(students[code]) - 6]
                for i in range(min(n, len(pool))):
                    when = now - timedelta(days=rng.randint(12, 75), hours=rng.randint(0, 6))
                    clock.freeze(when)
                    cats = rng.sample(("emotional", "bullying", "family", "attendance", "behaviour", "health"),
                                      k=rng.choice((1, 1, 2)))
                    concern, _ = concern_services.file_concern(
                        users[reporter], student_id=pool[i].id, categories=cats,
                        urgency=rng.choice(("today", "week", "week", "routine")),
                        observed_at=when - timedelta(hours=2), description="Seen in class and at break.",
                        token=f"demo-term-{code}-{i}")
                    clock.freeze(when + timedelta(hours=rng.choice((1, 2, 3, 5, 8, 20, 30, 50))))
                    concern_services.no_further_action(users[rng.choice(handlers)], concern,
                                                       "Talked with the class teacher; handled in class.")
        finally:
            clock.freeze(None)
    db.session.flush()
