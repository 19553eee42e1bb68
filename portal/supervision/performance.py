"""Performance reviews (绩效考核): a periodic review that starts from figures the portal already
knows, the reviewer's assessment and the supervisee's comments. Flush, never commit; audit
every change.

The figures are kept with the review as they were when it was shared, so a later correction to a
record does not rewrite what the supervisee was shown."""
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import aliased, joinedload

from .. import audit, clock
from ..alerts import services as alerts
from ..crypto import new_uid
from ..extensions import db
from ..i18n import local_date, local_today, utc_bounds
from ..models import Case, CasePlan, Crisis, FamilyContact, FollowUp, PerformanceReview, ReviewEntry, ServiceRecord, User
from ..permissions import line_below
from ..rules import RuleError, clean_text
from ..web import path_for

# The figures, in the order a review shows them.
FIGURES = ("records_total", "records_on_time", "records_returned", "plan_reviews_due", "plan_reviews_kept",
           "caseload_start", "caseload_end", "follow_ups_due", "follow_ups_missed")


class PerformanceError(RuleError):
    pass


def figures(user, start: date, end: date) -> dict:
    """What the portal knows of a person's work between two days (inclusive), in six queries."""
    lo, hi = utc_bounds(start, end)
    now = clock.now()
    days = current_app.config["RECORD_ON_TIME_DAYS"]
    first = (select(func.min(ReviewEntry.created_at)).where(
        ReviewEntry.subject_type == "service_records", ReviewEntry.subject_id == ServiceRecord.id,
        ReviewEntry.action == "submitted").correlate(ServiceRecord).scalar_subquery())
    returned = (select(ReviewEntry.id).where(
        ReviewEntry.subject_type == "service_records", ReviewEntry.subject_id == ServiceRecord.id,
        ReviewEntry.action == "returned").correlate(ServiceRecord).exists())
    rows = db.session.execute(select(ServiceRecord.occurred_on, first, returned).where(
        ServiceRecord.author_id == user.id, ServiceRecord.occurred_on >= start,
        ServiceRecord.occurred_on <= end)).all()
    on_time = sum(1 for occurred, submitted, _ in rows
                  if submitted is not None and (local_date(submitted) - occurred).days <= days)

    # Plan reviews: an approved plan of the person's whose review date fell in the period (and has
    # passed) was kept if a new version was submitted, or the case closed, by the end of that day.
    newer = aliased(CasePlan)
    later = (select(func.min(newer.submitted_at)).where(newer.case_id == CasePlan.case_id,
                                                        newer.number > CasePlan.number)
             .correlate(CasePlan).scalar_subquery())
    plans = db.session.execute(
        select(CasePlan.review_on, later, Case.closed_at).join(Case, Case.id == CasePlan.case_id).where(
            CasePlan.author_id == user.id, CasePlan.status.in_(("approved", "superseded")),
            CasePlan.approved_at.is_not(None), CasePlan.review_on >= start,
            CasePlan.review_on <= min(end, local_today() - timedelta(days=1)))).all()
    kept = 0
    for review_on, next_at, closed_at in plans:
        deadline = utc_bounds(review_on, review_on)[1]
        if (next_at is not None and next_at < deadline) or (closed_at is not None and closed_at < deadline):
            kept += 1

    def caseload(at):
        return db.session.scalar(select(func.count()).select_from(Case).where(
            Case.worker_id == user.id, Case.opened_at < at, or_(Case.closed_at.is_(None), Case.closed_at >= at)))
    end_at = min(hi, now)

    grace = timedelta(hours=current_app.config["CRISIS_FOLLOW_UP_GRACE_HOURS"])
    crisis_rows = db.session.execute(
        select(FollowUp.due_at, FollowUp.status, FollowUp.done_at).join(Crisis, Crisis.id == FollowUp.crisis_id)
        .join(Case, Case.id == Crisis.case_id).where(Case.worker_id == user.id, FollowUp.due_at >= lo,
                                                     FollowUp.due_at < min(hi, now - grace))).all()
    crisis_missed = sum(1 for due, status, done in crisis_rows
                        if status == "pending" or (status == "done" and done and done > due + grace))
    family_rows = db.session.execute(select(FamilyContact.follow_up_on, FamilyContact.follow_up_done_at).where(
        FamilyContact.author_id == user.id, FamilyContact.follow_up_on >= start,
        FamilyContact.follow_up_on <= min(end, local_today() - timedelta(days=1)))).all()
    family_missed = sum(1 for due, done in family_rows if done is None or local_date(done) > due)
    return {"records_total": len(rows), "records_on_time": on_time,
            "records_returned": sum(1 for *_, r in rows if r), "plan_reviews_due": len(plans),
            "plan_reviews_kept": kept, "caseload_start": caseload(lo), "caseload_end": caseload(end_at),
            "follow_ups_due": len(crisis_rows) + len(family_rows),
            "follow_ups_missed": crisis_missed + family_missed, "on_time_days": days,
            "computed_at": now.isoformat(timespec="minutes")}


def share(part, whole):
    """A share as a whole percentage, or None when there is nothing to divide."""
    return None if not whole else round(100 * part / whole)


# -- the review's life -------------------------------------------------------------------------------

def _check(review, status, version):
    if review.status != status or (version not in (None, "") and str(version) != str(review.version_id)):
        raise PerformanceError(None, "already_handled")


def supervisee_choices(user):
    return sorted(db.session.scalars(select(User).where(User.id.in_(line_below(user)), User.active.is_(True))
                                     .order_by(User.display_name)), key=lambda u: -u.tier)


def start_review(actor, supervisee, start, end):
    if supervisee is None or supervisee.id not in line_below(actor):
        raise PerformanceError("supervisee", "not_in_line")
    if start is None or end is None or end < start:
        raise PerformanceError("period_end", "period_order")
    if start > local_today():
        raise PerformanceError("period_start", "future")
    if (end - start).days > 400:
        raise PerformanceError("period_end", "period_long")
    review = PerformanceReview(uid=new_uid(), supervisee=supervisee, reviewer=actor, period_start=start,
                               period_end=end, status="draft", figures=figures(supervisee, start, end),
                               created_at=clock.now())
    db.session.add(review)
    db.session.flush()
    audit.record("performance.started", review, actor=actor, details={"supervisee": supervisee.id})
    return review


def refresh(actor, review, *, version=None):
    _check(review, "draft", version)
    review.figures = figures(review.supervisee, review.period_start, review.period_end)
    audit.record("performance.refreshed", review, actor=actor)


def save_assessment(actor, review, text, *, version=None, share_now=False):
    _check(review, "draft", version)
    text = clean_text(text, "assessment", required=share_now, limit=10000, error=PerformanceError)
    review.assessment = text or None
    audit.record("performance.assessed", review, actor=actor)
    if share_now:
        review.figures = figures(review.supervisee, review.period_start, review.period_end)
        review.status, review.shared_at = "shared", clock.now()
        db.session.flush()
        audit.record("performance.shared", review, actor=actor)
        alerts.notify(review.supervisee, "performance_shared", path_for("supervision.review", review_id=review.id),
                      params={"by": actor.display_name})


def comment(actor, review, text, *, version=None):
    _check(review, "shared", version)
    review.comments = clean_text(text, "comments", limit=10000, error=PerformanceError)
    review.status, review.acknowledged_at = "acknowledged", clock.now()
    db.session.flush()
    audit.record("performance.commented", review, actor=actor)
    alerts.notify(review.reviewer, "performance_commented", path_for("supervision.review", review_id=review.id),
                  params={"by": actor.display_name})


def load(review_id):
    return db.session.scalar(select(PerformanceReview).where(PerformanceReview.id == review_id).options(
        joinedload(PerformanceReview.supervisee), joinedload(PerformanceReview.reviewer)))


def mine(user):
    """The user's own reviews, once shared with them."""
    return db.session.scalars(select(PerformanceReview).where(
        PerformanceReview.supervisee_id == user.id, PerformanceReview.status != "draft")
        .options(joinedload(PerformanceReview.reviewer)).order_by(PerformanceReview.period_end.desc())).all()


def reviews_statement(user):
    """Reviews of people below the user on the line, and the user's own (once shared)."""
    return (select(PerformanceReview).where(or_(
        PerformanceReview.supervisee_id.in_(line_below(user)),
        and_(PerformanceReview.supervisee_id == user.id, PerformanceReview.status != "draft")))
        .options(joinedload(PerformanceReview.supervisee), joinedload(PerformanceReview.reviewer))
        .order_by(PerformanceReview.period_end.desc(), PerformanceReview.id.desc()))


def waiting_for_comments(user):
    return db.session.scalars(select(PerformanceReview).where(PerformanceReview.supervisee_id == user.id,
                                                              PerformanceReview.status == "shared")
                              .options(joinedload(PerformanceReview.reviewer))).all()


def default_period(today=None):
    """The last full half-year: a common review cycle."""
    today = today or local_today()
    if today.month > 6:
        return date(today.year, 1, 1), date(today.year, 6, 30)
    return date(today.year - 1, 7, 1), date(today.year - 1, 12, 31)
