from datetime import datetime, timedelta

import pytest

from portal import clock
from portal.cases import services, timeline
from portal.extensions import db
from portal.models import AuditEvent, Case, Student, TimelineEntry, User


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield
        db.session.rollback()


def _get(model, obj):
    return db.session.get(model, obj.id)


def test_open_case_writes_timeline_and_audit(ctx, world):
    worker = _get(User, world.worker)
    case = services.open_case(worker, _get(Student, world.student_a2), worker=worker, risk_level="moderate")
    assert case.reference.startswith("C") and case.status == "intake"
    kinds = [e.kind for e in db.session.query(TimelineEntry).filter_by(case_id=case.id)]
    assert kinds == ["case_opened"]
    assert db.session.query(AuditEvent).filter_by(action="case.opened", object_id=str(case.id)).count() == 1


def test_one_open_case_per_student(ctx, world):
    worker = _get(User, world.worker)
    with pytest.raises(services.CaseError) as exc:
        services.open_case(worker, _get(Student, world.student_a), worker=worker)
    assert exc.value.code == "already_open"


def test_worker_must_belong_to_the_school(ctx, world):
    with pytest.raises(services.CaseError) as exc:
        services.open_case(_get(User, world.worker), _get(Student, world.student_a2),
                           worker=_get(User, world.worker_b))
    assert exc.value.code == "worker_not_eligible"
    with pytest.raises(services.CaseError):
        services.open_case(_get(User, world.worker), _get(Student, world.student_a2),
                           worker=_get(User, world.teacher))


@pytest.mark.parametrize("path,ok", [
    (["assessment", "planning", "active", "review", "active"], True),
    (["assessment", "intake"], True),
    (["active"], False),
    (["closed"], False),  # closing needs a supervisor's approval
    (["assessment", "planning", "active", "review", "closed"], False),
    (["bogus"], False),
])
def test_status_transitions(ctx, world, path, ok):
    case = _get(Case, world.case_a)
    worker = _get(User, world.worker)
    if ok:
        for st in path:
            services.change_status(worker, case, st)
        assert case.status == path[-1]
    else:
        with pytest.raises(services.CaseError):
            for st in path:
                services.change_status(worker, case, st)


def test_closed_case_has_no_further_moves(ctx, world):
    case = _get(Case, world.case_a)
    worker = _get(User, world.worker)
    services.close_case(worker, case)
    assert case.closed_at is not None
    for st in ("intake", "active", "review"):
        with pytest.raises(services.CaseError):
            services.change_status(worker, case, st)
    with pytest.raises(services.CaseError):
        services.reopen_case(worker, case, " ")
    services.reopen_case(worker, case, "New disclosure by the student")
    assert case.status == "active" and case.closed_at is None
    entry = db.session.query(TimelineEntry).filter_by(case_id=case.id, kind="case_reopened").one()
    assert entry.detail == "New disclosure by the student"


def test_risk_change_needs_a_reason_and_records_it_encrypted(ctx, world):
    case = _get(Case, world.case_a)
    worker = _get(User, world.worker)
    with pytest.raises(services.CaseError) as exc:
        services.change_risk(worker, case, "high", "   ")
    assert exc.value.field == "reason"
    with pytest.raises(services.CaseError):
        services.change_risk(worker, case, case.risk_level, "same level")
    services.change_risk(worker, case, "high", "Disclosed self-harm")
    entry = db.session.query(TimelineEntry).filter_by(case_id=case.id, kind="risk_changed").one()
    assert entry.detail == "Disclosed self-harm" and b"self-harm" not in entry.detail_ct
    assert entry.params == {"old": "low", "new": "high"}


def test_stale_version_is_refused(ctx, world):
    case = _get(Case, world.case_a)
    old_version = case.version_id
    services.change_status(_get(User, world.worker), case, "assessment")
    db.session.flush()
    assert case.version_id != old_version
    with pytest.raises(services.CaseError) as exc:
        services.change_status(_get(User, world.worker), case, "planning", version=old_version)
    assert exc.value.code == "stale"


def test_team_membership(ctx, world):
    case = _get(Case, world.case_a)
    worker, peer = _get(User, world.worker), _get(User, world.peer)
    services.add_member(worker, case, peer)
    with pytest.raises(services.CaseError):
        services.add_member(worker, case, peer)
    with pytest.raises(services.CaseError):
        services.add_member(worker, case, _get(User, world.worker_b))  # other school
    services.remove_member(worker, case, peer.id)
    assert case.members == []
    with pytest.raises(services.CaseError):
        services.remove_member(worker, case, peer.id)


def test_reassignment_replaces_the_worker(ctx, world):
    case = _get(Case, world.case_a)
    services.add_member(_get(User, world.worker), case, _get(User, world.peer))
    services.assign_worker(_get(User, world.assistant), case, _get(User, world.peer))
    assert case.worker_id == world.peer.id and case.members == []


def test_timeline_orders_by_when_it_happened(ctx, world):
    case = _get(Case, world.case_a)
    worker = _get(User, world.worker)
    now = clock.now()
    timeline.add(case, "status_changed", actor=worker, occurred_at=now - timedelta(days=30),
                 params={"old": "intake", "new": "assessment"})  # typed today, happened a month ago
    timeline.add(case, "member_added", actor=worker, occurred_at=now + timedelta(seconds=5),
                 params={"name": "X"})
    db.session.flush()
    page = timeline.page_of(case, 1, 10)
    occurred = [e.occurred_at for e in page.items]
    assert occurred == sorted(occurred, reverse=True)
    assert page.items[-1].params["new"] == "assessment"


def test_describe_falls_back_to_the_kind(ctx, world):
    entry = TimelineEntry(kind="unknown_kind", params={}, occurred_at=datetime(2026, 1, 1))
    assert timeline.describe(entry) == "unknown_kind"
