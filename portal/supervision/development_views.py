"""Growth plans and performance reviews: the development side of supervision."""
from flask import abort, current_app, flash, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy.orm.exc import StaleDataError

from .. import audit
from ..crypto import preload_data_keys
from ..extensions import db
from ..formkit import choices
from ..i18n import label, local_today
from ..models import GrowthGoal, User
from ..permissions import can, require
from ..web import render, see_other
from . import bp, growth, performance
from .forms import AssessmentForm, CommentsForm, GoalStatusForm, GrowthPlanForm, GrowthReviewForm, \
    PerformanceNewForm, ProgressForm
from .views import fail, messages


def _messages():
    return {**messages(),
            "not_in_line": _("Choose someone below you on the supervision line."),
            "review_after_start": _("The review comes after the start of the plan."),
            "one_goal": _("Write at least one goal."),
            "plan_in_force": _("This person already has a growth plan in force; review it before setting a new one."),
            "own_plan": _("Your own plan is reviewed by someone above you on the line."),
            "period_order": _("The end of the period comes after its start."),
            "period_long": _("A review covers at most about a year."),
            "future": _("This date is in the future.")}


def _people(options):
    return choices([("", _("Choose…"))] + [(u.id, f"{u.display_name} · {label('role', u.role)}") for u in options])


# -- growth plans ----------------------------------------------------------------------------------------

@bp.route("/growth")
@login_required
def growth_plans():
    require("supervision.view")
    status = request.args.get("status") if request.args.get("status") in ("active", "reviewed") else None
    page = db.paginate(growth.plans_statement(current_user, status), page=request.args.get("page", 1, type=int),
                       per_page=current_app.config["PAGE_SIZE"], error_out=False)
    preload_data_keys({p.data_key_id for p in page.items})
    return render("supervision/growth_plans.html", page=page, status=status, today=local_today(),
                  can_create=can(current_user, "growth.create"))


@bp.route("/growth/new", methods=["GET", "POST"])
@login_required
def growth_new():
    require("growth.create")
    form = GrowthPlanForm()
    people = growth.supervisee_choices(current_user)
    form.supervisee.choices = _people(people)
    error = None
    if request.method == "GET":
        form.starts_on.data = local_today()
        if request.args.get("for", type=int) in {u.id for u in people}:
            form.supervisee.data = request.args.get("for", type=int)
    elif form.validate_on_submit():
        try:
            plan = growth.set_plan(current_user, db.session.get(User, form.supervisee.data or 0), focus=form.focus.data,
                                   starts_on=form.starts_on.data, review_on=form.review_on.data,
                                   goals=form.goals.data)
            db.session.commit()
        except growth.GrowthError as exc:
            error = fail(form, exc, _messages())
            if exc.field == "goals":
                error = _messages()[exc.code]
        else:
            flash(_("Growth plan set."), "success")
            return see_other("supervision.growth_plan", plan_id=plan.id)
    return render("supervision/growth_form.html", status=422 if (form.errors or error) else 200, form=form,
                  error=error)


def _load_plan(plan_id):
    plan = growth.load(plan_id)
    if plan is None:
        abort(404)
    return plan


def _plan_page(plan, status=200, progress_form=None, review_form=None, error=None):
    preload_data_keys({plan.data_key_id})
    can_progress = can(current_user, "growth.progress", plan)
    can_review = can(current_user, "growth.review", plan)
    if can_progress:
        progress_form = progress_form or ProgressForm(formdata=None)
        progress_form.goal.choices = choices([("", _("The plan as a whole"))] + [
            (g.id, g.goal) for g in plan.goals])
    if can_review:
        review_form = review_form or GrowthReviewForm(formdata=None, version=plan.version_id)
    audit.record("growth.viewed", plan)
    resp = render("supervision/growth_plan.html", status=status, plan=plan, progress=growth.progress_of(plan),
                  progress_form=progress_form if can_progress else None,
                  review_form=review_form if can_review else None, can_review=can_review, error=error,
                  today=local_today(), goal_form=lambda g: GoalStatusForm(formdata=None, status=g.status,
                                                                          version=g.version_id))
    db.session.commit()
    return resp


@bp.route("/growth/<int:plan_id>")
@login_required
def growth_plan(plan_id):
    plan = _load_plan(plan_id)
    require("growth.view", plan)
    return _plan_page(plan)


@bp.route("/growth/<int:plan_id>/progress", methods=["POST"])
@login_required
def growth_progress(plan_id):
    plan = _load_plan(plan_id)
    require("growth.progress", plan)
    form = ProgressForm()
    if form.validate_on_submit():
        goal = db.session.get(GrowthGoal, form.goal.data) if form.goal.data else None
        try:
            growth.add_progress(current_user, plan, text=form.text.data, goal=goal)
            db.session.commit()
        except growth.GrowthError as exc:
            error = fail(form, exc, _messages())
            return _plan_page(_load_plan(plan_id), status=422, progress_form=form, error=error)
        flash(_("Progress recorded."), "success")
        return see_other(f"/supervision/growth/{plan.id}#progress")
    return _plan_page(plan, status=422, progress_form=form)


@bp.route("/growth/goals/<int:goal_id>/status", methods=["POST"])
@login_required
def growth_goal(goal_id):
    goal = db.session.get(GrowthGoal, goal_id)
    if goal is None:
        abort(404)
    require("growth.review", goal.plan)
    form = GoalStatusForm()
    if form.validate_on_submit():
        try:
            growth.set_goal_status(current_user, goal, form.status.data, version=form.version.data)
            db.session.commit()
        except (growth.GrowthError, StaleDataError) as exc:
            db.session.rollback()
            flash(_messages().get(getattr(exc, "code", "stale"), _messages()["stale"]), "error")
        else:
            flash(_("Goal updated."), "success")
    else:
        flash(_messages()["invalid"], "error")
    return see_other("supervision.growth_plan", plan_id=goal.plan_id)


@bp.route("/growth/<int:plan_id>/review", methods=["POST"])
@login_required
def growth_review(plan_id):
    plan = _load_plan(plan_id)
    require("growth.review", plan)
    form = GrowthReviewForm()
    if form.validate_on_submit():
        try:
            growth.review_plan(current_user, plan, form.review.data, version=form.version.data)
            db.session.commit()
        except (growth.GrowthError, StaleDataError) as exc:
            error = fail(form, exc, _messages()) if isinstance(exc, growth.GrowthError) else _messages()["stale"]
            db.session.rollback()
            return _plan_page(_load_plan(plan_id), status=409, review_form=form, error=error)
        flash(_("Growth plan reviewed."), "success")
        return see_other("supervision.growth_plan", plan_id=plan.id)
    return _plan_page(plan, status=422, review_form=form)


# -- performance reviews -------------------------------------------------------------------------------

@bp.route("/reviews")
@login_required
def reviews():
    require("supervision.view")
    page = db.paginate(performance.reviews_statement(current_user), page=request.args.get("page", 1, type=int),
                       per_page=current_app.config["PAGE_SIZE"], error_out=False)
    return render("supervision/reviews.html", page=page, can_create=can(current_user, "performance.create"))


@bp.route("/reviews/new", methods=["GET", "POST"])
@login_required
def review_new():
    require("performance.create")
    form = PerformanceNewForm()
    people = performance.supervisee_choices(current_user)
    form.supervisee.choices = _people(people)
    error = None
    if request.method == "GET":
        form.period_start.data, form.period_end.data = performance.default_period()
        if request.args.get("for", type=int) in {u.id for u in people}:
            form.supervisee.data = request.args.get("for", type=int)
    elif form.validate_on_submit():
        try:
            r = performance.start_review(current_user, db.session.get(User, form.supervisee.data or 0),
                                         form.period_start.data, form.period_end.data)
            db.session.commit()
        except performance.PerformanceError as exc:
            error = fail(form, exc, _messages())
        else:
            flash(_("Review started from the portal's figures. Write your assessment, then share it."), "success")
            return see_other("supervision.review", review_id=r.id)
    return render("supervision/review_form.html", status=422 if (form.errors or error) else 200, form=form,
                  error=error)


def _load_review(review_id):
    r = performance.load(review_id)
    if r is None:
        abort(404)
    return r


def _review_page(r, status=200, assessment_form=None, comments_form=None, error=None):
    preload_data_keys({r.data_key_id})
    writable = can(current_user, "performance.write", r)
    commentable = can(current_user, "performance.comment", r)
    if writable:
        assessment_form = assessment_form or AssessmentForm(formdata=None, assessment=r.assessment,
                                                            version=r.version_id)
    if commentable:
        comments_form = comments_form or CommentsForm(formdata=None, version=r.version_id)
    audit.record("performance.viewed", r)
    resp = render("supervision/review.html", status=status, r=r, f=r.figures or {}, share=performance.share,
                  assessment_form=assessment_form if writable else None,
                  comments_form=comments_form if commentable else None, error=error)
    db.session.commit()
    return resp


@bp.route("/reviews/<int:review_id>")
@login_required
def review(review_id):
    r = _load_review(review_id)
    require("performance.view", r)
    return _review_page(r)


@bp.route("/reviews/<int:review_id>/assessment", methods=["POST"])
@login_required
def review_assessment(review_id):
    r = _load_review(review_id)
    require("performance.write", r)
    form = AssessmentForm()
    sharing = request.form.get("action") == "share"
    if form.validate_on_submit():
        try:
            performance.save_assessment(current_user, r, form.assessment.data, version=form.version.data,
                                        share_now=sharing)
            if request.form.get("action") == "refresh":
                performance.refresh(current_user, r)
            db.session.commit()
        except (performance.PerformanceError, StaleDataError) as exc:
            error = fail(form, exc, _messages()) if isinstance(exc, performance.PerformanceError) \
                else _messages()["stale"]
            db.session.rollback()
            if getattr(exc, "field", None) == "assessment":
                form.assessment.errors = [_("Write your assessment before you share the review.")]
                error = None
            return _review_page(_load_review(review_id), status=422 if error is None else 409,
                                assessment_form=form, error=error)
        flash(_("Review shared with %(name)s.", name=r.supervisee.display_name) if sharing
              else _("Figures refreshed.") if request.form.get("action") == "refresh" else _("Review saved."), "success")
        return see_other("supervision.review", review_id=r.id)
    return _review_page(r, status=422, assessment_form=form)


@bp.route("/reviews/<int:review_id>/comments", methods=["POST"])
@login_required
def review_comments(review_id):
    r = _load_review(review_id)
    require("performance.comment", r)
    form = CommentsForm()
    if form.validate_on_submit():
        try:
            performance.comment(current_user, r, form.comments.data, version=form.version.data)
            db.session.commit()
        except (performance.PerformanceError, StaleDataError) as exc:
            error = fail(form, exc, _messages()) if isinstance(exc, performance.PerformanceError) \
                else _messages()["stale"]
            db.session.rollback()
            return _review_page(_load_review(review_id), status=409, comments_form=form, error=error)
        flash(_("Your comments were added to the review."), "success")
        return see_other("supervision.review", review_id=r.id)
    return _review_page(r, status=422, comments_form=form)
