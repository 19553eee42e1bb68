"""Benchmark: decrypting confidential notes, and the case page with 200 notes.

    .venv/bin/python benchmarks/bench_notes.py [--notes 200] [--rounds 20]

Reports notes decrypted per second (AES-GCM under a cached data key) and the time to render the
case page showing all notes, with encryption and with the same page served from plaintext (the
decryption step swapped for a dictionary lookup), so the cost of encryption is visible. Figures
only: nothing here asserts a time (tests count queries instead).
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

from portal import create_app, crypto  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.models import Case, LoginSession, NoteVersion, User  # noqa: E402


def build(app, n_notes):
    from portal import demo
    from portal.notes import services
    with app.app_context():
        flask_migrate.upgrade()
        demo.build("bench password", students_per_school=30)
        worker = db.session.query(User).filter_by(username="worker").one()
        case = db.session.query(Case).filter_by(worker_id=worker.id, status="active").first()
        for i in range(n_notes):
            services.add_note(worker, case, f"Session {i}: the student talked about school, friends "
                                            f"and home. Agreed next steps with the student. " * 3)
        sid = secrets.token_urlsafe(16)
        db.session.add(LoginSession(id=sid, user_id=worker.id))
        db.session.commit()
        return case.id, worker.id, sid


def timed(fn, rounds):
    samples = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--notes", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="portal-bench-")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.db", "INSTANCE_PATH": tmp,
                      "SECRET_KEY": "bench", "NOTES_PAGE_SIZE": args.notes})
    case_id, user_id, sid = build(app, args.notes)

    with app.app_context():
        versions = db.session.query(NoteVersion).all()
        blobs = [(v.body_ct, f"note_versions.body_ct:{v.uid}") for v in versions]
        crypto.decrypt(*blobs[0])  # unwrap and cache the case's data key once, as a request does

        def decrypt_all():
            for blob, aad in blobs:
                crypto.decrypt(blob, aad)
        per_round = timed(decrypt_all, args.rounds)
        plaintext = {v.uid: v.body for v in versions}

    client = app.test_client()
    with client.session_transaction() as s:
        s["_user_id"], s["sid"], s["_fresh"] = str(user_id), sid, True

    def page():
        resp = client.get(f"/cases/{case_id}")
        assert resp.status_code == 200
    page()
    encrypted_ms = timed(page, args.rounds) * 1000

    original = crypto.encrypted.__get__

    def plain_get(self, obj, objtype=None):
        if obj is None:
            return self
        if self.column == "body_ct" and getattr(obj, "uid", None) in plaintext:
            return plaintext[obj.uid]
        return original(self, obj, objtype)
    crypto.encrypted.__get__ = plain_get
    try:
        page()
        plain_ms = timed(page, args.rounds) * 1000
    finally:
        crypto.encrypted.__get__ = original

    print(f"notes on the page:          {args.notes}")
    print(f"notes decrypted per second: {len(blobs) / per_round:,.0f}  "
          f"({per_round * 1e6 / len(blobs):.1f} µs per note)")
    print(f"case page, encrypted notes: {encrypted_ms:.1f} ms (median of {args.rounds})")
    print(f"case page, plaintext notes: {plain_ms:.1f} ms")
    print(f"cost of decryption:         {encrypted_ms - plain_ms:+.1f} ms "
          f"({(encrypted_ms / plain_ms - 1) * 100:+.1f} %)")


if __name__ == "__main__":
    main()
