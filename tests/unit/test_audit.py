from sqlalchemy import text

from portal import audit
from portal.extensions import db
from portal.models import AuditEvent


def _events(app, n=5):
    with app.app_context():
        for i in range(n):
            audit.record("test.event", object_type="thing", object_id=i, details={"i": i})
        db.session.commit()


def test_chain_verifies(app):
    _events(app)
    with app.app_context():
        assert audit.verify() == (True, 5, None)


def test_edited_event_is_detected(app):
    _events(app)
    with app.app_context():
        db.session.execute(text("UPDATE audit_events SET action = 'other' WHERE seq = 3"))
        db.session.commit()
        ok, count, problem = audit.verify()
    assert not ok and count == 2 and "#3" in problem and "altered" in problem


def test_deleted_event_is_detected(app):
    _events(app)
    with app.app_context():
        db.session.execute(text("DELETE FROM audit_events WHERE seq = 2"))
        db.session.commit()
        ok, count, problem = audit.verify()
    assert not ok and "#2 is missing" in problem


def test_truncated_tail_is_detected(app):
    _events(app)
    with app.app_context():
        db.session.execute(text("DELETE FROM audit_events WHERE seq = 5"))
        db.session.commit()
        ok, _, problem = audit.verify()
    assert not ok and "5 events were written" in problem


def test_rolled_back_change_leaves_no_event(app):
    with app.app_context():
        audit.record("test.kept")
        db.session.commit()
        audit.record("test.discarded")
        db.session.rollback()
        assert [e.action for e in db.session.query(AuditEvent)] == ["test.kept"]
        assert audit.verify()[0]


def test_cli_verify(app):
    _events(app, 3)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "3 events" in result.output
    with app.app_context():
        db.session.execute(text("UPDATE audit_events SET ip = '10.0.0.9' WHERE seq = 2"))
        db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "#2" in result.output
