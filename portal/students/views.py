from flask import abort, current_app, request
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from .. import audit
from ..extensions import db
from ..models import Case, Guardian, Student
from ..permissions import can, require, visible_cases_clause
from ..web import render
from . import bp
from .services import search_statement


@bp.route("/")
@login_required
def search():
    require("student.search")
    stmt, q = search_statement(current_user, request.args.get("q", ""))
    page = db.paginate(stmt, page=request.args.get("page", 1, type=int),
                       per_page=current_app.config["PAGE_SIZE"], error_out=False)
    return render("students/search.html", "students/_results.html", q=q, page=page)


@bp.route("/<int:student_id>")
@login_required
def show(student_id):
    student = db.session.scalar(select(Student).where(Student.id == student_id)
                                .options(joinedload(Student.school),
                                         selectinload(Student.guardians).selectinload(Guardian.restrictions)))
    if student is None:
        abort(404)
    require("student.view", student)
    audit.record("student.viewed", student)  # guardian contact details are confidential
    db.session.commit()
    cases = db.session.scalars(
        select(Case).where(Case.student_id == student.id, visible_cases_clause(current_user))
        .options(joinedload(Case.worker)).order_by(Case.opened_at.desc())).all()
    has_open = db.session.scalar(select(Case.id).where(Case.student_id == student.id,
                                                       Case.status != "closed").limit(1))
    # Open crises first: a worker about to start one must see that one is already running.
    from ..models import Alert, Crisis
    crises = [c for c in db.session.scalars(
        select(Crisis).join(Case, Case.id == Crisis.case_id).where(Case.student_id == student.id,
                                                                   Crisis.status != "closed")
        .options(joinedload(Crisis.case).selectinload(Case.members),
                 joinedload(Crisis.alert).selectinload(Alert.recipients)))
        if can(current_user, "crisis.view", c)]
    disclosures = []
    if can(current_user, "disclosure.read", student):
        from ..referrals.services import disclosures_for
        disclosures = disclosures_for(student)
    from ..records.services import requests_for
    record_requests = requests_for(student) if can(current_user, "student.export", student) else None
    return render("students/show.html", student=student, cases=cases, has_open_case=bool(has_open),
                  can_open=can(current_user, "case.open", student), crises=crises, disclosures=disclosures,
                  record_requests=record_requests)
