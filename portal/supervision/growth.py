"""Growth plans (个人成长方案): a supervisor sets goals for a supervisee, both record progress, and
someone above the supervisee reviews the plan on its date. Flush, never commit; audit every change."""
from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from .. import audit, clock
from ..alerts import services as alerts
from ..crypto import new_uid
from ..extensions import db
from ..i18n import local_today
from ..models import GrowthGoal, GrowthPlan, GrowthProgress, User
from ..models.supervision import GOAL_STATES
from ..permissions import line_below
from ..rules import RuleError, clean_text
from ..web import path_for


class GrowthError(RuleError):
    pass


def _text(value, field, required=True, limit=4000):
    return clean_text(value, field, required=required, limit=limit, error=GrowthError)


def supervisee_choices(user):
    return sorted(db.session.scalars(select(User).where(User.id.in_(line_below(user)), User.active.is_(True))
                                     .order_by(User.display_name)), key=lambda u: -u.tier)


def active_plan_of(user):
    return db.session.scalar(select(GrowthPlan).where(GrowthPlan.supervisee_id == user.id,
                                                      GrowthPlan.status == "active")
                             .options(joinedload(GrowthPlan.supervisor), selectinload(GrowthPlan.goals)))


def set_plan(actor, supervisee, *, focus, starts_on, review_on, goals):
    """goals: [{"goal", "measure"}]; empty rows are skipped."""
    if supervisee is None or supervisee.id not in line_below(actor) or not supervisee.active:
        raise GrowthError("supervisee", "not_in_line")
    if starts_on is None:
        raise GrowthError("starts_on", "required")
    if review_on is None or review_on <= starts_on:
        raise GrowthError("review_on", "review_after_start")
    if review_on < local_today():
        raise GrowthError("review_on", "past")
    rows = [g for g in goals if (g.get("goal") or "").strip()]
    if not rows:
        raise GrowthError("goals", "one_goal")
    if active_plan_of(supervisee) is not None:
        raise GrowthError("supervisee", "plan_in_force")
    plan = GrowthPlan(uid=new_uid(), supervisee=supervisee, supervisor=actor, status="active", starts_on=starts_on,
                      review_on=review_on, created_at=clock.now())
    db.session.add(plan)
    focus = _text(focus, "focus", required=False, limit=2000)
    if focus:
        plan.focus = focus
    for n, g in enumerate(rows):
        goal = GrowthGoal(uid=new_uid(), plan=plan, position=n + 1, status="open")
        goal.goal = _text(g["goal"], "goals", limit=500)
        measure = _text(g.get("measure"), "goals", required=False, limit=300)
        if measure:
            goal.measure = measure
        db.session.add(goal)
    try:
        db.session.flush()
    except IntegrityError:  # another plan was set for this person a moment ago
        raise GrowthError("supervisee", "plan_in_force") from None
    audit.record("growth.set", plan, actor=actor, details={"supervisee": supervisee.id, "goals": len(rows)})
    alerts.notify(supervisee, "growth_plan_set", path_for("supervision.growth_plan", plan_id=plan.id),
                  params={"by": actor.display_name})
    return plan


def add_progress(actor, plan, *, text, goal=None):
    if plan.status != "active":
        raise GrowthError(None, "already_handled")
    if goal is not None and goal.plan_id != plan.id:
        raise GrowthError("goal", "invalid")
    entry = GrowthProgress(uid=new_uid(), plan=plan, goal=goal, author_id=actor.id, created_at=clock.now())
    db.session.add(entry)
    entry.text = _text(text, "text")
    db.session.flush()
    audit.record("growth.progress", plan, actor=actor, details={"goal": goal.id if goal else None})
    other = plan.supervisor if actor.id == plan.supervisee_id else plan.supervisee
    if other.id != actor.id and other.active:
        alerts.notify(other, "growth_progress", path_for("supervision.growth_plan", plan_id=plan.id),
                      params={"by": actor.display_name})
    return entry


def set_goal_status(actor, goal, status, *, version=None):
    if goal.plan.status != "active":
        raise GrowthError(None, "already_handled")
    if version not in (None, "") and str(version) != str(goal.version_id):
        raise GrowthError(None, "stale")
    if status not in GOAL_STATES:
        raise GrowthError("status", "invalid")
    old, goal.status = goal.status, status
    audit.record("growth.goal_status", goal.plan, actor=actor, details={"goal": goal.id, "old": old, "new": status})


def review_plan(actor, plan, text, *, version=None):
    """The review on (or after) the plan's date closes it; a new plan can then be set."""
    if plan.status != "active" or (version not in (None, "") and str(version) != str(plan.version_id)):
        raise GrowthError(None, "already_handled")
    if plan.supervisee_id == actor.id:
        raise GrowthError(None, "own_plan")
    plan.review = _text(text, "review", limit=10000)
    plan.status, plan.reviewed_at, plan.reviewed_by = "reviewed", clock.now(), actor
    db.session.flush()
    audit.record("growth.reviewed", plan, actor=actor)
    alerts.notify(plan.supervisee, "growth_plan_reviewed", path_for("supervision.growth_plan", plan_id=plan.id),
                  params={"by": actor.display_name})


def load(plan_id):
    return db.session.scalar(select(GrowthPlan).where(GrowthPlan.id == plan_id).options(
        joinedload(GrowthPlan.supervisee), joinedload(GrowthPlan.supervisor), joinedload(GrowthPlan.reviewed_by),
        selectinload(GrowthPlan.goals)))


def progress_of(plan):
    return db.session.scalars(select(GrowthProgress).where(GrowthProgress.plan_id == plan.id)
                              .options(joinedload(GrowthProgress.author))
                              .order_by(GrowthProgress.created_at, GrowthProgress.id)).all()


def plans_statement(user, status=None):
    """The user's own plans and those of everyone below them on the line."""
    stmt = (select(GrowthPlan).where(or_(GrowthPlan.supervisee_id == user.id,
                                         GrowthPlan.supervisee_id.in_(line_below(user))))
            .options(joinedload(GrowthPlan.supervisee), joinedload(GrowthPlan.supervisor),
                     selectinload(GrowthPlan.goals)))
    if status:
        stmt = stmt.where(GrowthPlan.status == status)
    return stmt.order_by((GrowthPlan.status == "active").desc(), GrowthPlan.review_on, GrowthPlan.id)


def reviews_due(user, horizon_days=7):
    """Plans in force due for review within the horizon (or overdue) that the user is on: as the
    supervisee, or as the one who set it."""
    return db.session.scalars(select(GrowthPlan).where(
        GrowthPlan.status == "active", GrowthPlan.review_on <= local_today() + timedelta(days=horizon_days),
        or_(GrowthPlan.supervisee_id == user.id, GrowthPlan.supervisor_id == user.id))
        .options(joinedload(GrowthPlan.supervisee)).order_by(GrowthPlan.review_on)).all()
