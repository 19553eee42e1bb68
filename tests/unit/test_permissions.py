import pytest

from portal.auth.services import validate_supervisor
from portal.extensions import db
from portal.models import Case, User
from portal.permissions import can, line_below, team_scope


@pytest.fixture
def ctx(app):
    with app.test_request_context():
        yield


def u(world, name):
    return db.session.get(User, getattr(world, name).id)


def test_line_below_is_transitive(ctx, world):
    below = line_below(u(world, "supervisor"))
    assert {world.practice.id, world.assistant.id, world.worker.id, world.peer.id,
            world.worker_b.id} <= below
    assert world.mentor.id not in below and world.supervisor.id not in below
    assert line_below(u(world, "worker")) == frozenset()
    assert line_below(u(world, "assistant")) == {world.worker.id, world.peer.id}


def test_team_scope_includes_self(ctx, world):
    assert team_scope(u(world, "worker")) == {world.worker.id}


def test_case_visibility_follows_team_and_line(ctx, world):
    case = db.session.get(Case, world.case_a.id)
    seen = {name for name in ("worker", "peer", "assistant", "practice", "supervisor", "mentor",
                              "worker_b", "assistant_b", "practice_b", "teacher", "admin")
            if can(u(world, name), "case.view", case)}
    assert seen == {"worker", "assistant", "practice", "supervisor", "mentor"}


def test_added_member_and_their_line_see_the_case(ctx, world, make):
    from portal.cases import services
    case = db.session.get(Case, world.case_a.id)
    services.add_member(u(world, "worker"), case, u(world, "peer"))
    db.session.flush()
    assert can(u(world, "peer"), "case.view", case)
    assert not can(u(world, "peer"), "case.edit", case), "members read; the worker and line edit"


def test_unknown_action_is_denied(ctx, world):
    assert not can(u(world, "mentor"), "case.delete_everything", None)


def test_deactivated_user_can_do_nothing(ctx, world):
    mentor = u(world, "mentor")
    mentor.active = False
    assert not can(mentor, "home.view")


@pytest.mark.parametrize("role,sup_role,problem", [
    ("social_worker", "assistant_supervisor", None),
    ("social_worker", "supervisor_mentor", None),
    ("assistant_supervisor", "social_worker", "not_higher"),
    ("supervisor", "supervisor", "not_higher"),
    ("teacher", "supervisor", "no_line"),
    ("social_worker", "teacher", "not_higher"),
])
def test_supervision_line_only_runs_upward(role, sup_role, problem):
    sup = User(role=sup_role, active=True)
    assert validate_supervisor(role, sup) == problem


def test_no_rule_is_defined_twice():
    """A dict literal keeps the last of two equal keys silently: two features naming an action
    alike would lose one rule without a word."""
    import ast
    from pathlib import Path
    import portal.permissions as perms
    tree = ast.parse(Path(perms.__file__).read_text(encoding="utf-8"))
    rules = next(n.value for n in ast.walk(tree) if isinstance(n, ast.Assign)
                 and any(getattr(t, "id", None) == "RULES" for t in n.targets))
    keys = [k.value for k in rules.keys]
    assert len(keys) == len(set(keys)), sorted({k for k in keys if keys.count(k) > 1})
