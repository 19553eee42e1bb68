"""Backups: a restore round trip gives back every record byte for byte (on the engine the suite
runs on: SQLite, or PostgreSQL with TEST_DATABASE_URL, restored into a scratch database); a
backup is encrypted, checked by verify, refused when altered, cut or opened with another key ring,
and restored only into an empty instance."""
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from portal import backup
from portal.extensions import db
from portal.models import Case, Guardian, Student, User

NOTE = "Disclosed a worry about home at lunch; 保密内容 for the round trip"


@pytest.fixture
def populated(app, world):
    """The world plus a note, an attachment and a guardian's encrypted phone number."""
    from portal.notes import services as notes
    with app.app_context():
        case = db.session.get(Case, world.case_a.id)
        worker = db.session.get(User, world.worker.id)
        notes.add_note(worker, case, NOTE)
        notes.add_attachment(worker, case, "letter.pdf", b"%PDF-1.4 the signed consent form")
        student = db.session.get(Student, world.student_a.id)
        g = Guardian(uid="g" * 32, name="Li Mei", relationship_to_student="mother")
        student.guardians.append(g)
        g.phone = "13800001111"
        db.session.commit()
    return world


def _everything(app):
    """Every row of every table (all columns, bytes as bytes), and every attachment file."""
    with app.app_context():
        rows = {}
        with db.engine.connect() as conn:
            for table in db.metadata.sorted_tables:
                rows[table.name] = [tuple(r) for r in conn.execute(
                    select(table).order_by(*table.primary_key.columns))]
            rows["alembic_version"] = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        store = app.config.get("ATTACHMENT_DIR") or os.path.join(app.instance_path, "attachments")
        files = {n: Path(store, n).read_bytes() for n in sorted(os.listdir(store))} \
            if os.path.isdir(store) else {}
    return rows, files


@pytest.fixture
def scratch_database(app, tmp_path):
    """An empty database of the same engine for the restore; dropped afterwards on PostgreSQL."""
    with app.app_context():
        url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
        engine = db.engine
    if url.get_backend_name() == "sqlite":
        yield "sqlite:///" + str(tmp_path / "restored.db")
        return
    name = f"{url.database}_restore"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_round_trip_gives_back_every_record(app, populated, make_app, scratch_database, tmp_path):
    path = str(tmp_path / "portal.backup")
    runner = app.test_cli_runner()
    made = runner.invoke(args=["backup", "create", "--output", path])
    assert made.exit_code == 0, made.output
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    before = _everything(app)
    assert before[1] and any(before[0].values())

    target = make_app(SQLALCHEMY_DATABASE_URI=scratch_database, ATTACHMENT_DIR=str(tmp_path / "restored-files"))
    restored = target.test_cli_runner().invoke(args=["backup", "restore", path])
    assert restored.exit_code == 0, restored.output
    assert "every table holds the rows the backup counted" in restored.output
    after = _everything(target)
    # The restore appends its own audit event to the restored chain; everything else is identical.
    restored_events, source_events = after[0].pop("audit_events"), before[0].pop("audit_events")
    after[0].pop("audit_head"), before[0].pop("audit_head")
    assert restored_events[:-1] == source_events and restored_events[-1][5] == "backup.restored"
    assert any(e[5] == "backup.created" for e in source_events), "the backup holds the record of its making"
    assert after[0] == before[0], "every row of every table, byte for byte"
    assert after[1] == before[1], "every attachment file, byte for byte"
    with target.app_context():  # and the restored portal reads its encrypted content
        from portal.models import Note
        note = db.session.scalars(select(Note)).one()
        assert note.current.body == NOTE
        assert db.session.scalars(select(Guardian)).one().phone == "13800001111"
        from portal import audit
        assert audit.verify()[0]
    with target.app_context():
        db.session.remove()
        db.engine.dispose()


def test_the_backup_is_encrypted_and_verifies(app, populated, tmp_path):
    path = str(tmp_path / "b.backup")
    with app.app_context():
        report = backup.create(app, path)
        assert report.tables["notes"] == 1 and report.attachments == 1
        checked = backup.verify(app, path)
    assert checked.tables == report.tables and checked.checks
    raw = Path(path).read_bytes()
    for plain in ("王".encode(), b"Li Mei", b"%PDF", b"SQLite format", b"PGDMP", NOTE.encode()):
        assert plain not in raw
    out = app.test_cli_runner().invoke(args=["backup", "verify", path])
    assert out.exit_code == 0 and "is sound" in out.output


def _refused(app, path, words):
    with app.app_context():
        with pytest.raises(backup.BackupError, match=words):
            backup.verify(app, path)
    out = app.test_cli_runner().invoke(args=["backup", "verify", path])
    assert out.exit_code == 1 and "NOT usable" in out.output


def test_an_altered_or_cut_backup_is_refused(app, populated, tmp_path):
    path = str(tmp_path / "b.backup")
    with app.app_context():
        backup.create(app, path)
    data = Path(path).read_bytes()
    altered = tmp_path / "altered.backup"
    altered.write_bytes(data[:-40] + bytes([data[-40] ^ 1]) + data[-39:])
    _refused(app, str(altered), "integrity check")
    cut = tmp_path / "cut.backup"
    cut.write_bytes(data[:len(data) // 2])
    _refused(app, str(cut), "cut short")
    other = tmp_path / "other.backup"
    other.write_bytes(b"not a backup at all")
    _refused(app, str(other), "not a portal backup")


def test_another_key_ring_cannot_open_it(app, populated, make_app, tmp_path):
    path = str(tmp_path / "b.backup")
    with app.app_context():
        backup.create(app, path)
    from portal.crypto import KeyRing
    stranger = make_app(PORTAL_MASTER_KEYS=KeyRing.generate().dumps(), SQLALCHEMY_DATABASE_URI="sqlite:///" +
                        str(tmp_path / "empty.db"))
    _refused(stranger, path, "not in the key ring")


def test_restore_only_into_an_empty_instance(app, populated, tmp_path):
    path = str(tmp_path / "b.backup")
    with app.app_context():
        backup.create(app, path)
    out = app.test_cli_runner().invoke(args=["backup", "restore", path])
    assert out.exit_code != 0 and "not empty" in out.output
    with app.app_context():
        assert db.session.query(Case).count() == 2, "nothing was touched"
