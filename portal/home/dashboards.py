"""The figures of each role's home page: a worker's caseload and what is due; a supervisor's line
(open cases by status and risk, review turnaround, overdue items, crises this term); the district
view for the top tier. Aggregates only: the number of queries does not grow with the data."""
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import case as sql_case, func, or_, select, union_all

from .. import clock
from ..extensions import db
from ..i18n import LABELS, label, local_today, utc_bounds
from ..models import (ActionItem, Case, CasePlan, CaseStudy, Closure, Concern, Crisis, FamilyContact, FollowUp,
                      GrowthPlan, Referral, ReviewEntry, ServiceRecord)
from ..models.cases import CASE_STATUSES, RISK_LEVELS
from ..permissions import line_below, school_ids, team_scope, visible_cases_clause, visible_concerns_clause
from ..reports.registry import term_start
from ..reports.tables import Table, median

OPEN_STATUSES = [s for s in CASE_STATUSES if s != "closed"]
REVIEWED = (ServiceRecord, CasePlan, Closure)


def _grace():
    return timedelta(hours=current_app.config["CRISIS_FOLLOW_UP_GRACE_HOURS"])


def caseload(user):
    """The user's own open cases by status, against the limit for their tier, and what is due."""
    from ..supervision.line import current_policy
    today = local_today()
    by_status = dict(db.session.execute(select(Case.status, func.count()).where(
        Case.worker_id == user.id, Case.status != "closed").group_by(Case.status)).all())
    mine = (Case.worker_id == user.id, Case.status != "closed")
    plans = db.session.execute(select(
        func.count(), func.sum(sql_case((CasePlan.review_on < today, 1), else_=0))).select_from(CasePlan)
        .join(Case, Case.id == CasePlan.case_id).where(*mine, CasePlan.status == "approved",
                                                        CasePlan.review_on <= today + timedelta(days=7))).one()
    follow_ups = db.session.scalar(select(func.count()).select_from(FollowUp).join(Crisis).join(
        Case, Case.id == Crisis.case_id).where(*mine, FollowUp.status == "pending", Crisis.status == "open",
                                              FollowUp.due_at <= clock.now() + timedelta(days=1)))
    family = db.session.scalar(select(func.count()).select_from(FamilyContact).join(
        Case, Case.id == FamilyContact.case_id).where(
        Case.status != "closed", FamilyContact.follow_up_done_at.is_(None),
        FamilyContact.follow_up_on <= today + timedelta(days=1),
        or_(Case.worker_id == user.id, FamilyContact.author_id == user.id)))
    actions = db.session.scalar(select(func.count()).select_from(ActionItem).where(
        ActionItem.owner_id == user.id, ActionItem.status == "open", ActionItem.due_on <= today + timedelta(days=7)))
    returned = union_all(*(select(m.id).where(m.author_id == user.id, m.status == "returned")
                           for m in REVIEWED + (CaseStudy,))).subquery()
    growth = db.session.scalar(select(func.count()).select_from(GrowthPlan).where(
        GrowthPlan.status == "active", GrowthPlan.review_on <= today + timedelta(days=7),
        or_(GrowthPlan.supervisee_id == user.id, GrowthPlan.supervisor_id == user.id)))
    total = sum(by_status.values())
    limit = current_policy().limit_for(user.role)
    return {"by_status": by_status, "total": total, "limit": limit, "over": limit is not None and total > limit,
            "due": {"plan_reviews": plans[0] or 0, "plan_reviews_overdue": int(plans[1] or 0),
                    "follow_ups": follow_ups, "family_follow_ups": family, "actions": actions,
                    "returned": db.session.scalar(select(func.count()).select_from(returned)),
                    "growth_reviews": growth}}


def _status_risk(user):
    grid = dict(((s, r), n) for s, r, n in db.session.execute(
        select(Case.status, Case.risk_level, func.count()).where(visible_cases_clause(user), Case.status != "closed")
        .group_by(Case.status, Case.risk_level)))
    table = Table("status_risk", _l("Open cases by status and risk"), _l("Status"),
                  [(r, label("risk", r), "count") for r in reversed(RISK_LEVELS)], row_totals=True, col_totals=True,
                  total_label=_l("All"), chart={"type": "stacked", "columns": list(reversed(RISK_LEVELS))})
    for s in OPEN_STATUSES:
        table.add(s, LABELS["case_status"][s], {r: grid.get((s, r), 0) for r in RISK_LEVELS})
    return table.finish(current_app.config["SUPPRESS_BELOW"])


def _turnaround(user, days=30):
    """Decisions on the line's records, plans and closures in the last `days`: hours from the
    (re)submission to the decision. And what waits now, and since when."""
    since = clock.now() - timedelta(days=days)
    submitted = ReviewEntry.__table__.alias("sub")
    asked = (select(func.max(submitted.c.created_at)).where(
        submitted.c.subject_type == ReviewEntry.subject_type, submitted.c.subject_id == ReviewEntry.subject_id,
        submitted.c.action.in_(("submitted", "revised")), submitted.c.created_at <= ReviewEntry.created_at)
        .correlate(ReviewEntry).scalar_subquery())
    pairs = db.session.execute(select(asked, ReviewEntry.created_at).join(Case, Case.id == ReviewEntry.case_id).where(
        visible_cases_clause(user), ReviewEntry.action.in_(("accepted", "returned", "approved")),
        ReviewEntry.subject_type.in_([m.__tablename__ for m in REVIEWED]), ReviewEntry.created_at >= since)).all()
    hours = [(b - a).total_seconds() / 3600 for a, b in pairs if a is not None]
    below = line_below(user)
    waiting_q = union_all(*(select(m.submitted_at.label("at")).where(m.status == "submitted", m.author_id.in_(below))
                            for m in REVIEWED)).subquery()
    overdue_days = current_app.config["REVIEW_OVERDUE_DAYS"]
    waiting, oldest, late = db.session.execute(select(
        func.count(), func.min(waiting_q.c.at),
        func.sum(sql_case((waiting_q.c.at < clock.now() - timedelta(days=overdue_days), 1), else_=0)))).one()
    return {"decided": len(hours), "median_hours": median(hours), "days": days,
            "within": sum(1 for h in hours if h <= 24 * overdue_days), "waiting": waiting or 0,
            "oldest": (clock.now() - oldest) if oldest else None, "late": int(late or 0), "overdue_days": overdue_days}


def _overdue(user):
    today, visible = local_today(), visible_cases_clause(user)
    plans = db.session.scalar(select(func.count()).select_from(CasePlan).join(Case, Case.id == CasePlan.case_id).where(
        visible, Case.status != "closed", CasePlan.status == "approved", CasePlan.review_on < today))
    follow_ups = db.session.scalar(select(func.count()).select_from(FollowUp).join(Crisis).join(
        Case, Case.id == Crisis.case_id).where(visible, Crisis.status != "closed", FollowUp.status == "pending",
                                              FollowUp.due_at < clock.now() - _grace()))
    family = db.session.scalar(select(func.count()).select_from(FamilyContact).join(
        Case, Case.id == FamilyContact.case_id).where(visible, Case.status != "closed",
                                                    FamilyContact.follow_up_done_at.is_(None),
                                                    FamilyContact.follow_up_on < today))
    actions = db.session.scalar(select(func.count()).select_from(ActionItem).where(
        ActionItem.owner_id.in_(team_scope(user)), ActionItem.status == "open", ActionItem.due_on < today))
    return {"plan_reviews": plans, "follow_ups": follow_ups, "family_follow_ups": family, "actions": actions}


def _crises_this_term(user):
    start = term_start()
    lo, _hi = utc_bounds(start, start)
    still_open = func.sum(sql_case((Crisis.status != "closed", 1), else_=0))
    rows = db.session.execute(select(Crisis.type, func.count(), still_open)
                              .join(Case, Case.id == Crisis.case_id)
                              .where(visible_cases_clause(user), Crisis.started_at >= lo).group_by(Crisis.type)).all()
    return {"since": start, "by_type": sorted(((t, n, int(o or 0)) for t, n, o in rows), key=lambda x: -x[1]),
            "total": sum(n for _t, n, _o in rows), "open": sum(int(o or 0) for *_x, o in rows)}


def line(user):
    return {"status_risk": _status_risk(user), "turnaround": _turnaround(user), "overdue": _overdue(user),
            "crises": _crises_this_term(user)}


def district(user):
    """One row per school of the viewer: open cases, high risk, crises and concerns this term, open
    referrals. School-level figures: small counts are suppressed."""
    from ..models import School
    start = term_start()
    lo, _hi = utc_bounds(start, start)
    visible = visible_cases_clause(user)
    schools = db.session.scalars(select(School).where(School.id.in_(school_ids(user))).order_by(School.name)).all()

    def per_school(stmt):
        return dict(db.session.execute(stmt).all())
    open_cases = per_school(select(Case.school_id, func.count()).where(visible, Case.status != "closed")
                            .group_by(Case.school_id))
    high = per_school(select(Case.school_id, func.count()).where(visible, Case.status != "closed",
                                                                 Case.risk_level == "high").group_by(Case.school_id))
    crises = per_school(select(Case.school_id, func.count()).select_from(Crisis).join(Case, Case.id == Crisis.case_id)
                        .where(visible, Crisis.started_at >= lo).group_by(Case.school_id))
    concerns = per_school(select(Concern.school_id, func.count()).where(visible_concerns_clause(user),
                                                                        Concern.created_at >= lo)
                          .group_by(Concern.school_id))
    referrals = per_school(select(Case.school_id, func.count()).select_from(Referral)
                           .join(Case, Case.id == Referral.case_id)
                           .where(visible, Referral.status.not_in(("draft", "closed", "withdrawn"))).group_by(Case.school_id))
    table = Table("district", _l("Schools"), _l("School"), [
        ("open", _l("Open cases"), "count"), ("high", _l("High risk"), "count"),
        ("crises", _l("Crises this term"), "count"), ("concerns", _l("Concerns this term"), "count"),
        ("referrals", _l("Referrals open"), "count")], school_level=True, col_totals=True,
        total_label=_l("District"), chart={"type": "bars", "columns": ["open"]})
    for s in schools:
        table.add(f"s{s.id}", s.name, {"open": open_cases.get(s.id, 0), "high": high.get(s.id, 0),
                                       "crises": crises.get(s.id, 0), "concerns": concerns.get(s.id, 0),
                                       "referrals": referrals.get(s.id, 0)})
    return {"table": table.finish(current_app.config["SUPPRESS_BELOW"]), "since": start}
