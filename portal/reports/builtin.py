"""The reports every district needs: concerns, time to first action, crises, referrals, case
outcomes. Each reads a fixed number of queries, whatever the amount of data."""
from collections import Counter, defaultdict
from datetime import timedelta

from flask import current_app
from flask_babel import format_date, lazy_gettext as _l, lazy_pgettext
from sqlalchemy import func, select

from .. import clock
from ..extensions import db
from ..i18n import LABELS, label, local_date
from ..models import Agency, Alert, AlertRecipient, Case, Closure, Concern, Crisis, FollowUp, Referral
from ..models.casework import CLOSURE_REASONS, GOALS_MET
from ..models.concerns import CONCERN_CATEGORIES, URGENCIES
from ..models.crisis import CRISIS_TYPES
from ..models.referrals import OUTCOMES
from .registry import report
from .tables import Table, median


def _months(scope):
    """(key, label) of every month of the period."""
    out, d = [], scope.start.replace(day=1)
    while d <= scope.end:
        out.append((d.strftime("%Y-%m"), format_date(d, "MMM y")))
        d = (d + timedelta(days=32)).replace(day=1)
    return out


def _hours(a, b):
    return None if a is None or b is None else (b - a).total_seconds() / 3600


def _school_columns(scope, school_ids):
    return [(f"s{s}", scope.school_name(s), "count") for s in sorted(school_ids, key=scope.school_name)]


# -- concerns -------------------------------------------------------------------------------------------------

@report("concerns", title=_l("Concerns by category, school and month"), order=10,
        description=_l("Concern reports received in the period, by month and by category, for each school."))
def concerns(scope):
    lo, hi = scope.bounds
    rows = db.session.execute(select(Concern.school_id, Concern.created_at, Concern.categories).where(
        scope.concerns(), Concern.created_at >= lo, Concern.created_at < hi)).all()
    schools = {r.school_id for r in rows} or ({scope.school_id} if scope.school_id else set())
    cols = _school_columns(scope, schools)
    by_month = Table("by_month", _l("Concerns by month"), _l("Month"), cols, school_level=True, row_totals=True,
                     col_totals=True, total_label=_l("All"), chart={"type": "stacked" if len(cols) > 1 else "bars"})
    counts = Counter((local_date(r.created_at).strftime("%Y-%m"), r.school_id) for r in rows)
    for key, name in _months(scope):
        by_month.add(key, name, {f"s{s}": counts.get((key, s), 0) for s in schools})
    by_category = Table("by_category", _l("Concerns by category"), _l("Category"), cols, school_level=True,
                        row_totals=True, total_label=_l("All schools"), chart={"type": "bars"},
                        note=_l("A concern about several things counts once in each of its categories."))
    cats = Counter((c, r.school_id) for r in rows for c in set(r.categories or ()))
    for c in CONCERN_CATEGORIES:
        by_category.add(c, label("concern_category", c), {f"s{s}": cats.get((c, s), 0) for s in schools})
    return [by_month, by_category]


# -- time to first action -------------------------------------------------------------------------------------

def _response_columns():
    return [("concerns", _l("Concerns"), "count"), ("handled", _l("Handled"), "count"),
            ("median", _l("Median hours to the first action"), "hours"),
            ("within_day", _l("Handled within 24 hours"), "percent"), ("waiting", _l("Still waiting"), "count")]


def _response_values(items):
    handled = [i for i in items if i.triaged_at is not None]
    hours = [_hours(i.created_at, i.triaged_at) for i in handled]
    return {"concerns": len(items), "handled": len(handled), "median": median(hours),
            "within_day": (100 * sum(1 for h in hours if h <= 24) / len(hours)) if hours else None,
            "waiting": len(items) - len(handled)}


@report("concern_response", title=_l("Time from concern to first action"), order=20,
        description=_l("How long concern reports waited for a case worker's first action (a case opened, the "
                       "concern added to the open case, or closed with a reason), by urgency and by school."))
def concern_response(scope):
    lo, hi = scope.bounds
    rows = db.session.execute(select(Concern.school_id, Concern.urgency, Concern.created_at, Concern.triaged_at).where(
        scope.concerns(), Concern.created_at >= lo, Concern.created_at < hi)).all()
    schools = {r.school_id for r in rows}
    counts_of = {"median": "handled", "within_day": "handled"}
    by_urgency = Table("by_urgency", _l("By urgency"), _l("Urgency"), _response_columns(),
                       school_level=scope.school_level(schools), col_totals=False, count_of=counts_of,
                       relations=[(["handled", "waiting"], "concerns")],
                       chart={"type": "bars", "columns": ["median"], "unit": " h"})
    for u in URGENCIES:
        by_urgency.add(u, label("urgency", u), _response_values([r for r in rows if r.urgency == u]))
    by_school = Table("by_school", _l("By school"), _l("School"), _response_columns(), school_level=True,
                      count_of=counts_of, columns_add_up=True, relations=[(["handled", "waiting"], "concerns")])
    for s in sorted(schools, key=scope.school_name):
        by_school.add(f"s{s}", scope.school_name(s), _response_values([r for r in rows if r.school_id == s]))
    return [by_urgency, by_school]


# -- crises ------------------------------------------------------------------------------------------------------

@report("crises", title=_l("Crises by type and response times"), order=30,
        description=_l("Crises started in the period: how soon someone alerted acknowledged the alert, how long "
                       "to sign-off, and missed follow-ups."))
def crises(scope):
    lo, hi = scope.bounds
    first_ack = select(AlertRecipient.alert_id, func.min(AlertRecipient.acknowledged_at).label("at")) \
        .group_by(AlertRecipient.alert_id).subquery()
    rows = db.session.execute(
        select(Crisis.id, Crisis.school_id, Crisis.type, Crisis.started_at, Crisis.closed_at, Crisis.status,
               Alert.created_at.label("alerted_at"), first_ack.c.at.label("acked_at"))
        .join(Case, Case.id == Crisis.case_id).outerjoin(Alert, Alert.id == Crisis.alert_id)
        .outerjoin(first_ack, first_ack.c.alert_id == Crisis.alert_id)
        .where(scope.cases(), Crisis.started_at >= lo, Crisis.started_at < hi)).all()
    grace = timedelta(hours=current_app.config["CRISIS_FOLLOW_UP_GRACE_HOURS"])
    missed = Counter(cid for cid, due, status, done in db.session.execute(
        select(FollowUp.crisis_id, FollowUp.due_at, FollowUp.status, FollowUp.done_at)
        .join(Crisis, Crisis.id == FollowUp.crisis_id).join(Case, Case.id == Crisis.case_id)
        .where(scope.cases(), Crisis.started_at >= lo, Crisis.started_at < hi))
        if (status == "pending" and due + grace < clock.now()) or (status == "done" and done and done > due + grace))
    schools = {r.school_id for r in rows}
    cols = [("crises", _l("Crises"), "count"), ("acked", _l("Alert acknowledged"), "count"),
            ("ack_minutes", _l("Median minutes to the first acknowledgement"), "minutes"),
            ("closed", _l("Signed off"), "count"), ("close_days", _l("Median days to sign-off"), "days"),
            ("missed", _l("Follow-ups missed"), "count")]
    by_type = Table("by_type", _l("By type of crisis"), _l("Type"), cols, school_level=scope.school_level(schools),
                    count_of={"ack_minutes": "acked", "close_days": "closed"},
                    chart={"type": "bars", "columns": ["crises"]})
    for t in CRISIS_TYPES:
        items = [r for r in rows if r.type == t]
        if not items:
            continue
        acked = [r for r in items if r.acked_at is not None and r.alerted_at is not None]
        closed = [r for r in items if r.closed_at is not None]
        by_type.add(t, label("crisis_type", t), {
            "crises": len(items), "acked": len(acked),
            "ack_minutes": median(_hours(r.alerted_at, r.acked_at) * 60 for r in acked),
            "closed": len(closed), "close_days": median(_hours(r.started_at, r.closed_at) / 24 for r in closed),
            "missed": sum(missed.get(r.id, 0) for r in items)})
    cols = _school_columns(scope, schools)
    by_school = Table("by_school", _l("By school and type"), _l("Type"), cols, school_level=True, row_totals=True,
                      col_totals=True, total_label=_l("All"))
    per = Counter((r.type, r.school_id) for r in rows)
    for t in CRISIS_TYPES:
        if any(per.get((t, s)) for s in schools):
            by_school.add(t, label("crisis_type", t), {f"s{s}": per.get((t, s), 0) for s in schools})
    return [by_type, by_school]


# -- referrals ---------------------------------------------------------------------------------------------------

@report("referrals", title=_l("Referrals by agency and outcome"), order=40,
        description=_l("Referrals sent in the period, by agency: their outcome (or still open), and the time to "
                       "the first appointment."))
def referrals(scope):
    lo, hi = scope.bounds
    rows = db.session.execute(
        select(Referral.agency_id, Agency.name, Case.school_id, Referral.status, Referral.outcome, Referral.sent_at,
               Referral.first_appointment_on)
        .join(Case, Case.id == Referral.case_id).join(Agency, Agency.id == Referral.agency_id)
        .where(scope.cases(), Referral.sent_at.is_not(None), Referral.sent_at >= lo, Referral.sent_at < hi)).all()
    schools = {r.school_id for r in rows}
    level = scope.school_level(schools)
    cols = [(o, LABELS["referral_outcome"][o], "count") for o in OUTCOMES] + [("open", _l("Not closed yet"), "count")]
    by_agency = Table("by_agency", _l("Outcome by agency"), _l("Agency"), cols, school_level=level, row_totals=True,
                      col_totals=True, total_label=lazy_pgettext("referral", "Sent"), chart={"type": "stacked", "columns": [c for c, *_ in cols]})
    agencies = sorted({(r.agency_id, r.name) for r in rows}, key=lambda a: a[1])
    for aid, name in agencies:
        mine = [r for r in rows if r.agency_id == aid]
        values = Counter(r.outcome if r.status == "closed" and r.outcome else "open" for r in mine)
        by_agency.add(f"a{aid}", name, {c: values.get(c, 0) for c, *_ in cols})
    timing = Table("first_appointment", _l("Time to the first appointment"), _l("Agency"),
                   [("with", _l("With a first appointment"), "count"),
                    ("days", _l("Median days from sending"), "days")], school_level=level, count_of={"days": "with"})
    for aid, name in agencies:
        seen = [r for r in rows if r.agency_id == aid and r.first_appointment_on]
        timing.add(f"a{aid}", name, {"with": len(seen), "days": median(
            (r.first_appointment_on - local_date(r.sent_at)).days for r in seen)})
    return [by_agency, timing]


# -- case outcomes -----------------------------------------------------------------------------------------------

@report("case_outcomes", title=_l("Case outcomes"), order=50,
        description=_l("Cases closed in the period: why, whether the goals were met, and how long the work lasted."))
def case_outcomes(scope):
    lo, hi = scope.bounds
    latest = select(func.max(Closure.id)).where(Closure.case_id == Case.id, Closure.status == "approved") \
        .correlate(Case).scalar_subquery()
    rows = db.session.execute(
        select(Case.school_id, Case.opened_at, Case.closed_at, Closure.reason, Closure.goals_met)
        .outerjoin(Closure, Closure.id == latest)
        .where(scope.cases(), Case.status == "closed", Case.closed_at >= lo, Case.closed_at < hi)).all()
    schools = {r.school_id for r in rows}
    cols = [(g, LABELS["goals_met"][g], "count") for g in GOALS_MET] + [("unknown", _l("Not recorded"), "count")]
    by_reason = Table("by_reason", _l("Closed cases by reason and goals met"), _l("Reason"), cols,
                      school_level=scope.school_level(schools), row_totals=True, col_totals=True,
                      total_label=_l("Closed"), chart={"type": "stacked", "columns": [c for c, *_ in cols]})
    per = defaultdict(Counter)
    for r in rows:
        per[r.reason or "unknown"][r.goals_met or "unknown"] += 1
    for reason in list(CLOSURE_REASONS) + ["unknown"]:
        if reason in per:
            by_reason.add(reason, label("closure_reason", reason) if reason != "unknown" else _l("Not recorded"),
                          {c: per[reason].get(c, 0) for c, *_ in cols})
    by_school = Table("by_school", _l("By school"), _l("School"),
                      [("closed", _l("Closed"), "count"), ("days", _l("Median days from opening to closing"), "days")],
                      school_level=True, count_of={"days": "closed"}, columns_add_up=True)
    for s in sorted(schools, key=scope.school_name):
        mine = [r for r in rows if r.school_id == s]
        by_school.add(f"s{s}", scope.school_name(s), {"closed": len(mine), "days": median(
            _hours(r.opened_at, r.closed_at) / 24 for r in mine)})
    return [by_reason, by_school]
