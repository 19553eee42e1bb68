"""Master key rotation: re-wrap in batches, survive interruption, retire old keys."""
import json

import pytest

from portal import crypto
from portal.extensions import db
from portal.models import Case, DataKey, Note, User
from portal.notes import services


@pytest.fixture
def many_notes(app, world, make):
    """Notes on 12 cases (12 data keys under the first master key)."""
    with app.app_context():
        worker = db.session.get(User, world.worker.id)
    ids = []
    for i in range(10):
        s = make.student(world.a, "Sun", f"K{i}")
        make.case(s, world.worker)
    with app.app_context():
        worker = db.session.get(User, world.worker.id)
        for case in db.session.query(Case).all():
            ids.append(services.add_note(worker, case, f"note for case {case.id}").id)
        db.session.commit()
    return ids


def _ring_text(app):
    with open(app.config["KEYRING_PATH"], encoding="utf-8") as fh:
        return fh.read()


def _ring_file(app):
    return json.loads(_ring_text(app))


def _texts(app, ids):
    with app.app_context():
        return [db.session.get(Note, i).current.body for i in ids]


def test_status_counts_data_keys(app, many_notes):
    result = app.test_cli_runner().invoke(args=["keys", "status"])
    assert "(current): wraps 12 data keys" in result.output


def test_rotation_interrupted_then_resumed(app, many_notes, monkeypatch, make_app):
    before = _texts(app, many_notes)
    old = app.extensions["portal_keyring"].current
    calls = {"n": 0}
    real = crypto.rewrap_batch

    def flaky(batch_size=500):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("power cut during the second batch")
        return real(batch_size)

    monkeypatch.setattr(crypto, "rewrap_batch", flaky)
    result = app.test_cli_runner().invoke(args=["keys", "rotate", "--batch-size", "5"])
    assert result.exit_code != 0 and "power cut" in str(result.exception)
    with app.app_context():
        new = crypto.keyring().current
        assert new != old
        under = {k: n for k, n in db.session.query(DataKey.master_key_id, db.func.count()).group_by(
            DataKey.master_key_id)}
        assert under == {new: 5, old: 7}, "the first batch was committed, the rest not yet"
    # the ring on disk holds both keys: a restart reads everything
    ring_file = _ring_file(app)
    assert set(ring_file["keys"]) == {old, new} and ring_file["current"] == new
    assert _texts(make_app(), many_notes) == before

    monkeypatch.setattr(crypto, "rewrap_batch", real)
    result = app.test_cli_runner().invoke(args=["keys", "rotate", "--batch-size", "5"])
    assert result.exit_code == 0 and "Resuming: 7" in result.output
    with app.app_context():
        assert {k for (k,) in db.session.query(DataKey.master_key_id).distinct()} == {new}
    assert _texts(app, many_notes) == before

    result = app.test_cli_runner().invoke(args=["keys", "retire", old])
    assert result.exit_code == 0, result.output
    assert set(_ring_file(app)["keys"]) == {new}
    assert _texts(make_app(), many_notes) == before


def test_retire_refuses_while_in_use_or_current(app, many_notes):
    ring = app.extensions["portal_keyring"]
    current = ring.current
    result = app.test_cli_runner().invoke(args=["keys", "retire", current])
    assert result.exit_code != 0 and "current master key" in result.output
    with app.app_context():
        crypto.add_master_key(app)
    result = app.test_cli_runner().invoke(args=["keys", "retire", current])
    assert result.exit_code != 0 and "still wraps data keys" in result.output
    result = app.test_cli_runner().invoke(args=["keys", "retire", "nope"])
    assert result.exit_code != 0 and "no master key" in result.output


def test_rotation_with_the_ring_in_the_environment(world, make_app, many_notes, app):
    env_app = make_app(PORTAL_MASTER_KEYS=_ring_text(app))
    result = env_app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 0 and "PORTAL_MASTER_KEYS" in result.output
    new_ring = result.output[result.output.index("{"):]
    assert len(json.loads(new_ring)["keys"]) == 2
    deployed = make_app(PORTAL_MASTER_KEYS=new_ring)
    result = deployed.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 0 and "Resuming: 12" in result.output
