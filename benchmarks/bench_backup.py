"""Benchmark: backing up, verifying and restoring the demo district (SQLite), and the encrypted
stream's throughput.

    .venv/bin/python benchmarks/bench_backup.py [--students 100] [--stream-mb 64]

Figures only: nothing here asserts a time.
"""
import argparse
import io
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import flask_migrate  # noqa: E402

from portal import backup, create_app, demo  # noqa: E402
from portal.extensions import db  # noqa: E402


def timed(label, fn):
    start = time.perf_counter()
    result = fn()
    print(f"{label:<34} {time.perf_counter() - start:7.2f} s")
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--students", type=int, default=100)
    ap.add_argument("--stream-mb", type=int, default=64)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/src.db", "INSTANCE_PATH": f"{tmp}/instance",
               "SECRET_KEY": "bench"}
        app = create_app(cfg)
        with app.app_context():
            flask_migrate.upgrade()
            demo.build("bench password", students_per_school=args.students)
            db.session.commit()
            path = f"{tmp}/demo.backup"
            report = timed("backup create (demo district)", lambda: backup.create(app, path))
            print(f"  {report.rows} rows, {report.size / 1e6:.2f} MB")
            timed("backup verify", lambda: backup.verify(app, path))
        target = create_app(dict(cfg, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp}/dst.db",
                                 ATTACHMENT_DIR=f"{tmp}/dst-files"))
        with target.app_context():
            timed("backup restore", lambda: backup.restore(target, path))
        with app.app_context():
            from portal.crypto import keyring
            data = os.urandom(args.stream_mb << 20)
            sink = io.BytesIO()

            def encrypt():
                w = backup._EncryptingWriter(sink, keyring())
                w.write(data)
                w.close()
            timed(f"encrypt {args.stream_mb} MiB stream", encrypt)
            sink.seek(0)
            timed(f"decrypt {args.stream_mb} MiB stream",
                  lambda: io.BufferedReader(backup._DecryptingReader(sink, keyring())).read())


if __name__ == "__main__":
    main()
