import csv
import io

from flask import abort, make_response, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .. import audit
from ..extensions import db
from ..formkit import choices
from ..permissions import require
from ..web import render
from . import bp, charts, registry
from .forms import PeriodForm
from .tables import TOTAL


@bp.route("/")
@login_required
def index():
    require("report.view")
    return render("reports/index.html", reports=registry.available(current_user))


def _build(key):
    rep = registry.get(key)
    if rep is None:
        abort(404)
    require(rep.permission)
    form = PeriodForm(request.args)
    form.validate()
    if form.start.data and form.end.data and form.start.data > form.end.data:
        form.end.errors = list(form.end.errors) + [_("The end of the period comes after its start.")]
    scope = registry.make_scope(current_user, form.start.data if not form.start.errors else None,
                                form.end.data if not form.end.errors else None, form.school.data)
    form.school.choices = choices([("", _("All my schools"))] + list(scope.schools.items()))
    form.start.data, form.end.data, form.school.data = scope.start, scope.end, scope.school_id
    tables = [t.finish(scope.threshold) for t in rep.build(scope)]
    return rep, form, scope, tables


@bp.route("/<key>")
@login_required
def show(key):
    rep, form, scope, tables = _build(key)
    drawn = {t.key: charts.bar_chart(t, f"chart-{t.key}", columns=(t.chart or {}).get("columns"),
                                     unit=(t.chart or {}).get("unit", "")) if t.chart and t.rows else None
             for t in tables}
    return render("reports/show.html", status=422 if form.errors else 200, report=rep, form=form, scope=scope,
                  tables=tables, charts=drawn, TOTAL=TOTAL, threshold=scope.threshold,
                  csv_args={k: v for k, v in request.args.items() if k in ("start", "end", "school")})


def _safe(text):
    """A spreadsheet must not read a label as a formula."""
    text = str(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@bp.route("/<key>/export.csv")
@login_required
def export(key):
    rep, form, scope, tables = _build(key)
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow([_safe(rep.title)])
    w.writerow([_("Period"), scope.start.isoformat(), scope.end.isoformat()])
    w.writerow([_("School"), _safe(scope.school_name(scope.school_id)) if scope.school_id else _("All my schools")])
    if any(t.has_masked() for t in tables):
        w.writerow([_("Figures below %(n)d are shown as <%(n)d; * is hidden so that they cannot be worked out; "
                      "— is a median or share of fewer than %(n)d.", n=scope.threshold)])
    for t in tables:
        w.writerow([])
        w.writerow([_safe(t.caption)])
        w.writerow([_safe(t.row_header)] + [_safe(label) for _c, label in t.all_columns()])
        for r, label in t.all_rows():
            w.writerow([_safe(label)] + [t.cells[(r, c)].text if (r, c) in t.cells else ""
                                         for c, _label in t.all_columns()])
    audit.record("report.exported", details={"report": key, "start": scope.start.isoformat(),
                                             "end": scope.end.isoformat(), "school": scope.school_id})
    db.session.commit()
    resp = make_response(("\ufeff" + out.getvalue()).encode("utf-8"))  # a BOM: spreadsheets read it as UTF-8
    resp.headers["Content-Type"] = "text/csv; charset=utf-8"
    resp.headers["Content-Disposition"] = (f'attachment; filename="{key}-{scope.start.isoformat()}-'
                                           f'{scope.end.isoformat()}.csv"')
    return resp
