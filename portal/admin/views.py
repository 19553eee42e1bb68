from flask import abort, current_app, flash, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError

from datetime import timedelta

from .. import clock
from ..auth import mfa
from ..auth.services import AccountError, inactive_clause
from ..config import ROLES
from ..extensions import db
from ..formkit import choices
from ..i18n import label
from ..models import School, Student, User, user_schools
from ..permissions import require
from ..students.importer import import_students
from ..web import render, see_other
from . import bp, services
from .forms import ConfirmForm, ImportForm, SchoolForm, UserForm


def _account_messages():
    return {
        "taken": _("That is already in use."),
        "stale": _("Someone else changed this account while you were editing. Reload and try again."),
        "self": _("You cannot deactivate your own account."),
        "has_supervisees": _("This person still supervises active staff. Move them to another supervisor first."),
        "has_cases": _("This person still has open cases. Ask their supervisor to reassign them first."),
        "has_open_items": _("Escalations, home visits or supervision actions still wait on this person. Ask their "
                            "supervisor to hand their work over first."),
        "not_higher": _("A supervisor must be of a higher tier than the person they supervise."),
        "no_line": _("Teachers and administrators are not on the supervision line."),
        "inactive": _("That supervisor's account is deactivated."),
        "would_break_line": _("This role would be at or below someone this person supervises."),
        "has_cases_transfer": _("This person is on the team of open cases. Ask their supervisor to reassign "
                                "those cases before changing their schools, supervisor or role."),
        "reactivate_line": _("This person's supervisor is no longer valid. Choose a new supervisor first."),
        "self_reset": _("You cannot reset your own two-factor sign-in; ask another administrator."),
    }


# -- users -------------------------------------------------------------------------------------

@bp.route("/users")
@login_required
def users():
    require("admin.users")
    q = request.args.get("q", "").strip()[:60]
    role = request.args.get("role", "")
    unused = request.args.get("unused") == "1"
    days = current_app.config["INACTIVE_DAYS"]
    stmt = select(User).options(selectinload(User.schools), joinedload(User.supervisor))
    if unused:
        stmt = stmt.where(inactive_clause(days))
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(or_(func.lower(User.username).like(like), func.lower(User.display_name).like(like)))
    if role in ROLES:
        stmt = stmt.where(User.role == role)
    stmt = stmt.order_by(User.active.desc(), User.display_name)
    page = db.paginate(stmt, page=request.args.get("page", 1, type=int),
                       per_page=current_app.config["PAGE_SIZE"], error_out=False)
    cutoff = clock.now() - timedelta(days=days)
    return render("admin/users.html", "admin/_users_list.html", page=page, q=q, role=role, roles=ROLES,
                  confirm=ConfirmForm(), unused=unused, days=days, cutoff=cutoff)


def _user_form_choices(form):
    form.schools.choices = choices((s.id, f"{s.name} ({s.code})")
                                   for s in db.session.scalars(select(School).order_by(School.name)))
    form.supervisor.choices = choices([(0, _("— none —"))] + [
        (u.id, f"{u.display_name} · {label('role', u.role)}") for u in services.supervisor_choices()])


def _form_data(form):
    return {"username": form.username.data, "display_name": form.display_name.data,
            "email": form.email.data, "role": form.role.data, "school_ids": form.schools.data,
            "supervisor_id": form.supervisor.data or None, "on_duty": form.on_duty.data,
            "password": form.password.data}


def _account_error(form, exc):
    db.session.rollback()
    message = _account_messages().get(exc.message, exc.message)
    if exc.field and hasattr(form, exc.field):
        getattr(form, exc.field).errors.append(message)
        return None
    return message


@bp.route("/users/new", methods=["GET", "POST"])
@login_required
def user_new():
    require("admin.users")
    form = UserForm()
    _user_form_choices(form)
    error = None
    if form.validate_on_submit():
        try:
            user = services.create_user(current_user, _form_data(form))
        except AccountError as exc:
            error = _account_error(form, exc)
        else:
            db.session.commit()
            flash(_("Account %(name)s created.", name=user.username), "success")
            return see_other("admin.users")
    return render("admin/user_form.html", status=422 if (form.errors or error) else 200,
                  form=form, user=None, error=error)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@login_required
def user_edit(user_id):
    require("admin.users")
    user = db.get_or_404(User, user_id)
    form = UserForm(obj=user) if request.method == "GET" else UserForm()
    _user_form_choices(form)
    form.username.data = user.username  # not editable: it names the account in the audit trail
    form.password.label.text = _("New password")
    if request.method == "GET":
        form.schools.data = [s.id for s in user.schools]
        form.supervisor.data = user.supervisor_id or 0
        form.version.data = user.version_id
    error = None
    if form.validate_on_submit():
        try:
            services.update_user(current_user, user, _form_data(form), version=form.version.data)
            db.session.commit()
        except AccountError as exc:
            error = _account_error(form, exc)
        except StaleDataError:
            db.session.rollback()
            error = _account_messages()["stale"]
        else:
            flash(_("Account %(name)s saved.", name=user.username), "success")
            return see_other("admin.users")
    return render("admin/user_form.html", status=422 if (form.errors or error) else 200,
                  form=form, user=user, error=error, confirm=ConfirmForm())


@bp.route("/users/<int:user_id>/<any(activate, deactivate):action>", methods=["POST"])
@login_required
def user_active(user_id, action):
    require("admin.users")
    user = db.get_or_404(User, user_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.set_active(current_user, user, action == "activate")
    except AccountError as exc:
        db.session.rollback()
        flash(_account_messages()[exc.message], "error")
    else:
        db.session.commit()
        flash(_("Account %(name)s activated.", name=user.username) if action == "activate"
              else _("Account %(name)s deactivated.", name=user.username), "success")
    return see_other("admin.user_edit", user_id=user.id)


@bp.route("/users/<int:user_id>/two-factor/reset", methods=["POST"])
@login_required
def user_mfa_reset(user_id):
    """A lost phone: clear the user's second factor and sign them out everywhere (audited; the
    user is told). They set it up again at their next sign-in."""
    require("admin.users")
    user = db.get_or_404(User, user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        mfa.reset(current_user, user)
    except AccountError as exc:
        db.session.rollback()
        flash(_account_messages()[exc.message], "error")
    else:
        db.session.commit()
        flash(_("Two-factor sign-in of %(name)s was reset; they were signed out everywhere.", name=user.username),
              "success")
    return see_other("admin.user_edit", user_id=user.id)


# -- schools -------------------------------------------------------------------------------------

@bp.route("/schools")
@login_required
def schools():
    require("admin.schools")
    staff = select(user_schools.c.school_id, func.count().label("n")).group_by(
        user_schools.c.school_id).subquery()
    pupils = select(Student.school_id, func.count().label("n")).where(Student.active.is_(True)) \
        .group_by(Student.school_id).subquery()
    rows = db.session.execute(
        select(School, func.coalesce(staff.c.n, 0), func.coalesce(pupils.c.n, 0))
        .outerjoin(staff, staff.c.school_id == School.id)
        .outerjoin(pupils, pupils.c.school_id == School.id).order_by(School.name)).all()
    return render("admin/schools.html", rows=rows)


@bp.route("/schools/new", methods=["GET", "POST"], defaults={"school_id": None})
@bp.route("/schools/<int:school_id>", methods=["GET", "POST"])
@login_required
def school_edit(school_id):
    require("admin.schools")
    school = db.get_or_404(School, school_id) if school_id else School(active=True)
    form = SchoolForm(obj=school)
    if form.validate_on_submit():
        try:
            services.save_school(current_user, school, form.data)
        except AccountError as exc:
            _account_error(form, exc)
        else:
            db.session.commit()
            flash(_("School %(name)s saved.", name=school.name), "success")
            return see_other("admin.schools")
    return render("admin/school_form.html", status=422 if form.errors else 200, form=form, school=school)


# -- supervision line ------------------------------------------------------------------------------

@bp.route("/line")
@login_required
def line():
    require("admin.users")
    from flask import url_for

    from ..supervision import line as supervision_line
    from ..supervision.views import describe_warning
    policy = supervision_line.current_policy()
    # Counts only: an administrator sees how many cases each person holds, never which.
    return render("admin/line.html", tree=supervision_line.tree(None, policy), policy=policy,
                  describe=describe_warning,
                  links=lambda u: [(_("Account"), url_for("admin.user_edit", user_id=u.id))])


# -- student import ----------------------------------------------------------------------------------

@bp.route("/students/import", methods=["GET", "POST"])
@login_required
def students_import():
    require("admin.students")
    form = ImportForm()
    report = None
    if form.validate_on_submit():
        data = form.file.data.read(current_app.config["IMPORT_MAX_BYTES"] + 1)
        if len(data) > current_app.config["IMPORT_MAX_BYTES"]:
            form.file.errors.append(_("The file is larger than 5 MB; split it."))
        else:
            report = import_students(current_user, data)
            if report.ok:
                db.session.commit()
                flash(_("Import finished: %(created)d added, %(updated)d updated.",
                        created=report.created, updated=report.updated), "success")
            else:
                db.session.rollback()
    status = 422 if (form.errors or (report and not report.ok)) else 200
    return render("admin/import.html", status=status, form=form, report=report)
