"""The reports, as a registry a feature adds to without the reports blueprint knowing it:

    @report("concerns", title=_l("Concerns by category, school and month"), order=10)
    def concerns(scope): ...   # -> a list of tables.Table

A report reads only through `scope`: the viewer's cases (the policy's visible_cases_clause), the
concerns they may read, the period and the school chosen. The blueprint renders every report the
same way (tables, SVG charts, CSV) and applies the small-number rule to school-level tables.
"""
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..i18n import local_today, utc_bounds
from ..models import School
from ..permissions import can, school_ids, visible_cases_clause, visible_concerns_clause

_REPORTS = {}


@dataclass
class Report:
    key: str
    title: object
    description: object
    order: int
    build: object
    permission: str = "report.view"


def report(key, *, title, description="", order=50, permission="report.view"):
    def deco(fn):
        _REPORTS[key] = Report(key, title, description, order, fn, permission)
        return fn
    return deco


def available(user):
    return [r for r in sorted(_REPORTS.values(), key=lambda r: r.order) if can(user, r.permission)]


def get(key):
    return _REPORTS.get(key)


def term_start(today=None) -> date:
    """The first day of the current term (TERM_STARTS, MM-DD, latest on or before today)."""
    today = today or local_today()
    starts = []
    for part in current_app.config["TERM_STARTS"].split(","):
        try:
            month, day = (int(x) for x in part.strip().split("-"))
        except ValueError:
            continue
        for year in (today.year - 1, today.year):
            try:
                starts.append(date(year, month, day))
            except ValueError:
                pass
    past = [d for d in starts if d <= today]
    return max(past) if past else today - timedelta(days=120)


@dataclass
class Scope:
    """What a report may count: the viewer's own reach, a period of days and perhaps one school."""
    user: object
    start: date
    end: date
    school_id: int | None = None
    threshold: int = 5
    schools: dict = field(default_factory=dict)  # id -> name, the schools within the viewer's reach
    names: dict = field(default_factory=dict)    # id -> name of every school, for labels

    @property
    def bounds(self):
        return utc_bounds(self.start, self.end)

    def cases(self):
        """SQL filter: the viewer's cases (and the chosen school)."""
        from ..models import Case
        clause = visible_cases_clause(self.user)
        return clause if not self.school_id else (clause & (Case.school_id == self.school_id))

    def concerns(self):
        from ..models import Concern
        clause = visible_concerns_clause(self.user)
        return clause if not self.school_id else (clause & (Concern.school_id == self.school_id))

    def school_name(self, school_id):
        return self.names.get(school_id) or str(school_id)

    def school_level(self, school_ids_in_data) -> bool:
        """Figures describe one school's students when they come from a single school."""
        return bool(self.school_id) or len(set(school_ids_in_data)) <= 1


def make_scope(user, start=None, end=None, school_id=None) -> Scope:
    today = local_today()
    end = min(end or today, today)
    start = start or term_start(today)
    if start > end:
        start = end
    mine = school_ids(user)
    names = {s.id: s.name for s in db.session.scalars(select(School).order_by(School.name))}
    schools = {i: n for i, n in names.items() if i in mine}
    if school_id not in schools:
        school_id = None
    return Scope(user, start, end, school_id, current_app.config["SUPPRESS_BELOW"], schools, names)
