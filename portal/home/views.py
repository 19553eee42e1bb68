from flask import current_app, redirect, url_for
from flask_login import current_user, login_required
from sqlalchemy import case, func, select
from sqlalchemy.orm import joinedload

from ..auth.services import inactive_clause
from ..extensions import db
from ..models import Case, School, Student, User
from ..permissions import require, visible_cases_clause
from ..web import render
from . import bp


@bp.route("/")
def root():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    return redirect(url_for("auth.login"))


@bp.route("/home")
@login_required
def index():
    require("home.view")
    role = current_user.role
    if role == "admin":
        counts = {
            "users": db.session.scalar(select(func.count()).select_from(User).where(User.active.is_(True))),
            "schools": db.session.scalar(select(func.count()).select_from(School)),
            "students": db.session.scalar(select(func.count()).select_from(Student)
                                          .where(Student.active.is_(True))),
            "unused": db.session.scalar(select(func.count()).select_from(User).where(
                inactive_clause(current_app.config["INACTIVE_DAYS"]))),
        }
        return render("home/admin.html", counts=counts)
    if role == "teacher":
        return render("home/teacher.html")
    from ..permissions import can
    from ..reports import charts
    from . import dashboards
    visible = visible_cases_clause(current_user)
    ctx = {"caseload": dashboards.caseload(current_user), "line": None, "district": None, "charts": {}}
    if current_user.is_supervisor:
        ctx["line"] = dashboards.line(current_user)
        ctx["charts"]["status_risk"] = charts.bar_chart(ctx["line"]["status_risk"], "chart-status-risk",
                                                        columns=ctx["line"]["status_risk"].chart["columns"])
    if can(current_user, "dashboard.district"):
        ctx["district"] = dashboards.district(current_user)
        ctx["charts"]["district"] = charts.bar_chart(ctx["district"]["table"], "chart-district",
                                                     columns=["open"])
    by_status = dict(db.session.execute(
        select(Case.status, func.count()).where(visible, Case.status != "closed")
        .group_by(Case.status)).all())
    by_risk = dict(db.session.execute(
        select(Case.risk_level, func.count()).where(visible, Case.status != "closed")
        .group_by(Case.risk_level)).all())
    risk_first = case((Case.risk_level == "high", 0), (Case.risk_level == "moderate", 1), else_=2)
    mine = db.session.scalars(
        select(Case).where(Case.worker_id == current_user.id, Case.status != "closed")
        .options(joinedload(Case.student)).order_by(risk_first, Case.updated_at.desc()).limit(10)).all()
    high = db.session.scalars(
        select(Case).where(visible, Case.status != "closed", Case.risk_level == "high")
        .options(joinedload(Case.student), joinedload(Case.worker))
        .order_by(Case.updated_at.desc()).limit(10)).all()
    from ..models import Crisis
    crises = db.session.scalars(
        select(Crisis).join(Case, Case.id == Crisis.case_id).where(visible, Crisis.status != "closed")
        .options(joinedload(Crisis.case).joinedload(Case.student), joinedload(Crisis.alert))
        .order_by(Crisis.started_at.desc()).limit(10)).all()
    from ..reports.tables import TOTAL
    return render("home/casework.html", by_status=by_status, by_risk=by_risk, mine=mine, high=high, crises=crises,
                  TOTAL=TOTAL, **ctx)
