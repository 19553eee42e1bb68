"""Benchmark: the prevention figures and the group pages at district scale.

    .venv/bin/python benchmarks/bench_groups.py [--activities 5000] [--groups 40] [--sessions 10] [--rounds 20]

Builds the demo district, then adds activities spread over a school year in both schools and
groups of eight students with their sessions (attendance and an observation per student), and
reports the median time of: the term's figures (the service function), the term calendar page,
a group's page, a session's page and the case page of a student who attended every session.
Figures only: nothing here asserts a time (tests count queries instead).
"""
import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import flask_migrate  # noqa: E402
from sqlalchemy import select  # noqa: E402

from portal import clock, create_app  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.models import (Case, GroupSession, LoginSession, PreventionActivity, School, Student,  # noqa: E402
                           StudentGroup, User)
from portal.models.prevention import ACTIVITY_TOPICS, ACTIVITY_TYPES  # noqa: E402


def build(app, n_activities, n_groups, n_sessions):
    from portal import demo
    from portal.groups import services as groups
    with app.app_context(), app.test_request_context():
        flask_migrate.upgrade()
        demo.build("bench password", students_per_school=60)
        schools = db.session.scalars(select(School)).all()
        worker = db.session.scalar(select(User).where(User.username == "worker"))
        start = date(clock.now().year - 1, 9, 1)
        db.session.add_all([PreventionActivity(
            uid=secrets.token_hex(16), school_id=schools[i % 2].id, organiser_id=worker.id,
            type=ACTIVITY_TYPES[i % len(ACTIVITY_TYPES)], topic=ACTIVITY_TOPICS[i % len(ACTIVITY_TOPICS)],
            title=f"Activity {i}", occurs_on=start + timedelta(days=i % 360), status="held" if i % 4 else "planned",
            audience=["students"], grades=["5"], reached=30 + i % 300 if i % 4 else None)
            for i in range(n_activities)])
        eps = next(s for s in schools if s.code == "EPS")
        cased = db.session.scalars(select(Student).join(Case, Case.student_id == Student.id).where(
            Case.worker_id == worker.id, Case.status != "closed")).all()
        pupils = db.session.scalars(select(Student).where(Student.school_id == eps.id)).all()
        clock.freeze(clock.now() - timedelta(days=n_sessions + 1))
        try:
            for g in range(n_groups):
                group = groups.create_group(worker, eps, name=f"Group {g}", kind="friendship", purpose="Friends",
                                            planned_sessions=n_sessions, starts_on=None, meets=None,
                                            facilitators=[worker])
                members = [cased[0]] + [p for p in pupils if p.id != cased[0].id][g % 40: g % 40 + 7]
                groups.add_members(worker, group, members)
                for n in range(n_sessions):
                    clock.freeze(clock.now() + timedelta(minutes=1))
                    groups.record_session(worker, group, occurred_on=clock.now().date(), duration=45,
                                          topic=f"Topic {n}", summary="The session as a whole.",
                                          marks={m.id: ("present", "Joined in and helped others.")
                                                 for m in group.current_members})
                db.session.commit()
        finally:
            clock.freeze(None)
        case_id = db.session.scalar(select(Case.id).where(Case.student_id == cased[0].id, Case.status != "closed"))
        group = db.session.scalar(select(StudentGroup).order_by(StudentGroup.id.desc()))
        session_id = db.session.scalar(select(GroupSession.id).where(GroupSession.group_id == group.id))
        sid = secrets.token_urlsafe(16)
        db.session.add(LoginSession(id=sid, user_id=worker.id))
        db.session.commit()
        return worker.id, sid, case_id, group.id, session_id, start


def timed(fn, rounds):
    samples = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--activities", type=int, default=5000)
    ap.add_argument("--groups", type=int, default=40)
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="portal-bench-")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.db", "INSTANCE_PATH": tmp,
                      "SECRET_KEY": "bench"})
    t0 = time.perf_counter()
    user_id, sid, case_id, group_id, session_id, start = build(app, args.activities, args.groups, args.sessions)
    print(f"built {args.activities} activities, {args.groups} groups x {args.sessions} sessions x 8 students "
          f"in {time.perf_counter() - t0:.1f} s")

    from portal.prevention import services, terms
    with app.app_context(), app.test_request_context():
        user = db.session.get(User, user_id)
        term = terms.term_of(start + timedelta(days=30))
        print(f"figures for a term (service):  {timed(lambda: services.figures(user, *term), args.rounds) * 1000:7.1f} ms")

    client = app.test_client()
    with client.session_transaction() as s:
        s["_user_id"], s["_fresh"], s["sid"] = str(user_id), True, sid

    def page(url):
        resp = client.get(url)
        assert resp.status_code == 200, (url, resp.status_code)
    for label, url in (("term calendar and figures", f"/activities?term={term[0].isoformat()}"),
                       ("a group's page", f"/groups/{group_id}"),
                       ("a session's page", f"/groups/{group_id}/sessions/{session_id}"),
                       (f"case page ({args.groups * args.sessions} sessions)", f"/cases/{case_id}")):
        print(f"{label + ':':31} {timed(lambda url=url: page(url), args.rounds) * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
