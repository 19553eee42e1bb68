"""Benchmark: the supervision line page, the home dashboards, each report, and drafting a
de-identified case study, on the demo district grown to a larger size.

    .venv/bin/python benchmarks/bench_supervision.py [--students 1000] [--rounds 10]

Figures only: nothing here asserts a time (tests count queries instead).
"""
import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import flask_migrate  # noqa: E402

from portal import create_app  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.models import Case, LoginSession, User  # noqa: E402


def timed(fn, rounds):
    samples = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--students", type=int, default=1000, help="students per school")
    ap.add_argument("--rounds", type=int, default=10)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="portal-bench-")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.db", "INSTANCE_PATH": tmp,
                      "SECRET_KEY": "bench"})
    from portal import demo
    sids = {}
    with app.app_context():
        flask_migrate.upgrade()
        demo.build("bench password", students_per_school=args.students)
        for name in ("worker", "assistant", "mentor"):
            u = db.session.query(User).filter_by(username=name).one()
            sids[name] = (u.id, secrets.token_urlsafe(16))
            db.session.add(LoginSession(id=sids[name][1], user_id=u.id))
        db.session.commit()
        worker = db.session.query(User).filter_by(username="worker").one()
        case_id = db.session.query(Case.id).filter_by(worker_id=worker.id, status="active").first()[0]

    def client(name):
        c = app.test_client()
        uid, sid = sids[name]
        with c.session_transaction() as s:
            s["_user_id"], s["sid"], s["_fresh"] = str(uid), sid, True
        return c

    def page(c, url):
        def run():
            assert c.get(url).status_code == 200, url
        run()
        return timed(run, args.rounds)

    rows = [("home, worker", page(client("worker"), "/home")),
            ("home, assistant supervisor (line dashboard)", page(client("assistant"), "/home")),
            ("home, supervisor-mentor (line and district)", page(client("mentor"), "/home")),
            ("supervision line, supervisor-mentor", page(client("mentor"), "/supervision/line"))]
    for key in ("concerns", "concern_response", "crises", "referrals", "case_outcomes"):
        rows.append((f"report {key}, supervisor-mentor", page(client("mentor"), f"/reports/{key}")))

    with app.test_request_context():
        from portal.casestudies import services
        case = db.session.get(Case, case_id)

        def draft():
            services.create(case.worker, case, title="", sections=list(services.SECTIONS))
            db.session.rollback()
        rows.append(("draft a case study (de-identification)", timed(draft, args.rounds)))
    print(f"demo district with {args.students} students per school; median of {args.rounds} rounds")
    for label, ms in rows:
        print(f"  {label:<48} {ms:8.1f} ms")


if __name__ == "__main__":
    main()
