import json
import os
import stat

import pytest
from sqlalchemy import text

from portal.crypto import DecryptionError, KeyRing, KeyRingError, decrypt, destroy_data_key
from portal.extensions import db
from portal.models import Case, TimelineEntry


def _risk_entry(app, world, reason="MARKER-7f3a reason text"):
    from portal.cases import services
    from portal.models import User
    with app.app_context():
        case = db.session.get(Case, world.case_a.id)
        services.change_risk(db.session.get(User, world.worker.id), case, "high", reason)
        db.session.commit()
        return db.session.query(TimelineEntry).filter_by(kind="risk_changed").one().id


def test_key_ring_file_is_owner_only_and_reused(app, make_app):
    path = app.config["KEYRING_PATH"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    ring = app.extensions["portal_keyring"]
    again = make_app()
    assert again.extensions["portal_keyring"].keys == ring.keys


def test_text_is_encrypted_at_rest_and_reads_back(app, world):
    entry_id = _risk_entry(app, world)
    with app.app_context():
        raw = db.session.execute(text("SELECT detail_ct FROM timeline_entries WHERE id = :i"),
                                 {"i": entry_id}).scalar()
        assert b"MARKER-7f3a" not in bytes(raw)
        assert db.session.get(TimelineEntry, entry_id).detail == "MARKER-7f3a reason text"
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        path = app.config["SQLALCHEMY_DATABASE_URI"][len("sqlite:///"):]
        with app.app_context():
            db.engine.dispose()  # checkpoint the WAL so the file holds everything
        for suffix in ("", "-wal"):
            if os.path.exists(path + suffix):
                with open(path + suffix, "rb") as fh:
                    assert b"MARKER-7f3a" not in fh.read()


def test_ciphertext_moved_to_another_row_fails_integrity(app, world, make):
    first = _risk_entry(app, world, "first reason")
    from portal.cases import services
    from portal.models import User
    with app.app_context():
        case = db.session.get(Case, world.case_a.id)
        services.change_risk(db.session.get(User, world.worker.id), case, "low", "second reason")
        db.session.commit()
        second = db.session.query(TimelineEntry).filter(TimelineEntry.kind == "risk_changed",
                                                        TimelineEntry.id != first).one()
        blob = db.session.get(TimelineEntry, first).detail_ct
        second.detail_ct = blob  # an attacker with database access swaps ciphertexts
        db.session.commit()
        db.session.expire_all()
        with pytest.raises(DecryptionError, match="integrity"):
            _ = db.session.get(TimelineEntry, second.id).detail


def test_flipped_byte_fails_integrity(app, world):
    entry_id = _risk_entry(app, world)
    with app.app_context():
        entry = db.session.get(TimelineEntry, entry_id)
        blob = bytearray(entry.detail_ct)
        blob[-3] ^= 0x01
        with pytest.raises(DecryptionError):
            decrypt(bytes(blob), f"timeline_entries.detail_ct:{entry.uid}")


def test_missing_key_ring_with_encrypted_data_refuses_to_start(app, world, make_app):
    _risk_entry(app, world)
    os.remove(app.config["KEYRING_PATH"])
    with pytest.raises(KeyRingError, match="missing"):
        make_app()
    assert not os.path.exists(app.config["KEYRING_PATH"]), "a fresh key must never be created over data"


def test_wrong_key_ring_refuses_to_start(app, world, make_app):
    _risk_entry(app, world)
    with pytest.raises(KeyRingError, match="not in the key ring|does not match"):
        make_app(PORTAL_MASTER_KEYS=KeyRing.generate().dumps())
    ring = app.extensions["portal_keyring"]
    forged = KeyRing({ring.current: os.urandom(32)}, ring.current)
    with pytest.raises(KeyRingError, match="does not match"):
        make_app(PORTAL_MASTER_KEYS=forged.dumps())


def test_unreadable_key_ring_is_a_clear_error(app, make_app):
    with open(app.config["KEYRING_PATH"], "w") as fh:
        fh.write("not json")
    with pytest.raises(KeyRingError, match="unreadable"):
        make_app()


def test_key_ring_from_environment(app, make_app):
    ring = KeyRing.generate()
    other = make_app(PORTAL_MASTER_KEYS=ring.dumps())
    assert other.extensions["portal_keyring"].current == ring.current
    assert json.loads(ring.dumps())["current"] == ring.current


def test_destroying_the_data_key_erases_the_case_content(app, world):
    entry_id = _risk_entry(app, world)
    with app.app_context():
        case = db.session.get(Case, world.case_a.id)
        destroy_data_key(case.data_key)
        db.session.commit()
    with app.app_context():
        with pytest.raises(DecryptionError, match="erased"):
            _ = db.session.get(TimelineEntry, entry_id).detail
