"""Group pages: the list, a group with its members and sessions, recording, reviewing and revising
a session; and the Groups section of a member's case (their own attendance and observations)."""
import secrets

from flask import abort, current_app, flash, request, url_for
from flask_babel import gettext as _, ngettext
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from .. import audit
from ..cases.sections import section
from ..casework.forms import ReviewForm
from ..casework.services import WorkError, thread
from ..casework.views import _decide as review_decision  # the one review step of the work cycle
from ..crypto import preload_data_keys
from ..extensions import db
from ..formkit import choices, place_error
from ..i18n import label, local_today
from ..models import GroupMember, School, Student, User
from ..models.people import CASEWORK_ROLES
from ..permissions import can, in_team, require, school_ids
from ..web import is_htmx, render, see_other
from . import bp, services
from .forms import GroupForm, MembersForm, ReviseSessionForm, SessionForm, VersionForm


def _messages():
    return {
        "required": _("This field is required."),
        "too_long": _("This text is too long."),
        "invalid": _("Choose one of the listed values."),
        "sessions": _("Between 1 and 100 sessions."),
        "one_facilitator": _("Choose at least one facilitator."),
        "facilitator": _("Facilitators must be active case workers of the group's school."),
        "own_group": _("Include yourself, or someone you supervise, among the facilitators."),
        "stale": _("Someone else changed this group while you were looking at it. Check the latest version and "
                   "try again."),
        "ended": _("This group has ended."),
        "student": _("Choose students of the group's school."),
        "full": _("A group has at most %(n)d members.", n=services.MAX_MEMBERS),
        "none_added": _("Tick at least one student who is not in the group yet."),
        "future": _("This date is in the future."),
        "before_group": _("This date is long before the group was set up."),
        "duration": _("Between 1 and 600 minutes."),
        "mark": _("Mark whether this student came."),
        "not_member": _("Attendance can only be marked for the group's members."),
        "no_members": _("Add the group's students before recording a session."),
        "concurrent": _("Someone recorded a session of this group at the same moment. Check the group's sessions "
                        "and try again."),
        "already_handled": _("Someone else has already handled this, or it changed since you opened it."),
    }


def _fail(form, exc):
    """Roll back; put the message beside its field (or the student's row), else return it."""
    db.session.rollback()
    message = _messages().get(exc.code, _messages()["invalid"])
    member_id = exc.info.get("member_id")
    if exc.field == "attendance" and member_id and hasattr(form, "attendance"):
        for entry in form.attendance:
            if str(entry.member_id.data) == str(member_id):
                target = entry.status if exc.code == "mark" else entry.observation
                target.errors = list(target.errors) + [message]
                form.attendance.errors = [e.errors for e in form.attendance]  # the list caches its own
                return None
    return place_error(form, None if exc.field == "attendance" else exc.field, message)


def _load(group_id):
    group = services.load_group(group_id)
    if group is None:
        abort(404)
    return group


def _load_session(group, session_id):
    s = services.load_session(group, session_id)
    if s is None:
        abort(404)
    return s


# -- the list -------------------------------------------------------------------------------------------

@bp.route("/groups")
@login_required
def index():
    require("group.list")
    state = request.args.get("status") if request.args.get("status") in ("active", "ended", "all") else "active"
    school_id = request.args.get("school", type=int)
    if school_id not in school_ids(current_user):
        school_id = None
    stmt = services.visible_statement(current_user, None if state == "all" else state, school_id)
    page = db.paginate(stmt, page=request.args.get("page", 1, type=int), per_page=current_app.config["PAGE_SIZE"],
                       error_out=False)
    schools = db.session.scalars(select(School).where(School.id.in_(school_ids(current_user)))
                                 .order_by(School.name)).all()
    return render("groups/index.html", "groups/_list.html", page=page, state=state, school_id=school_id,
                  schools=schools, tallies=services.tallies([g.id for g in page.items]))


# -- creating and editing ---------------------------------------------------------------------------------

def _facilitator_choices(form, school_ids_):
    people = db.session.scalars(select(User).where(
        User.role.in_(CASEWORK_ROLES), User.active.is_(True), User.schools.any(School.id.in_(school_ids_)))
        .order_by(User.display_name)).all()
    form.facilitators.choices = choices((u.id, f"{u.display_name} · {label('role', u.role)}") for u in people)
    return form


def _group_data(form):
    ids = set(form.facilitators.data or [])
    people = db.session.scalars(select(User).where(User.id.in_(ids))).all() if ids else []
    return {"name": form.name.data, "kind": form.kind.data, "purpose": form.purpose.data,
            "planned_sessions": form.planned_sessions.data, "starts_on": form.starts_on.data,
            "meets": form.meets.data, "facilitators": people}


@bp.route("/groups/new", methods=["GET", "POST"])
@login_required
def new():
    require("group.create")
    form = _facilitator_choices(GroupForm(), school_ids(current_user))
    form.school_id.choices = choices([("", _("Choose…"))] + [(s.id, s.name) for s in current_user.schools])
    if request.method == "GET":
        form.facilitators.data = [current_user.id]
        if len(current_user.schools) == 1:
            form.school_id.data = current_user.schools[0].id
    error = None
    if form.validate_on_submit():
        try:
            group = services.create_group(current_user, db.session.get(School, form.school_id.data or 0),
                                          **_group_data(form))
        except services.GroupError as exc:
            error = _fail(form, exc)
        else:
            db.session.commit()
            flash(_("Group created. Now add its students."), "success")
            return see_other(url_for("groups.show", group_id=group.id) + "#members")
    return render("groups/form.html", status=422 if (form.errors or error) else 200, form=form, group=None,
                  error=error)


@bp.route("/groups/<int:group_id>/edit", methods=["GET", "POST"])
@login_required
def edit(group_id):
    group = _load(group_id)
    require("group.edit", group)
    if request.method == "GET":
        form = GroupForm(formdata=None, obj=group, version=group.version_id, purpose=group.purpose,
                         facilitators=[f.user_id for f in group.facilitators])
    else:
        form = GroupForm()
    _facilitator_choices(form, {group.school_id})
    form.school_id.choices = choices([(group.school_id, group.school.name)])
    form.school_id.data = group.school_id
    error = None
    if request.method == "POST" and form.validate_on_submit():
        try:
            services.update_group(current_user, group, version=form.version.data, **_group_data(form))
            db.session.commit()
        except services.GroupError as exc:
            error = _fail(form, exc)
        except StaleDataError:
            db.session.rollback()
            error = _messages()["stale"]
        else:
            flash(_("Saved."), "success")
            return see_other("groups.show", group_id=group_id)
    return render("groups/form.html", status=422 if (form.errors or error) else 200, form=form,
                  group=_load(group_id) if error else group, error=error)


@bp.route("/groups/<int:group_id>/end", methods=["POST"])
@login_required
def end(group_id):
    group = _load(group_id)
    require("group.edit", group)
    form = VersionForm()
    if form.validate_on_submit():
        try:
            services.end_group(current_user, group, version=form.version.data)
            db.session.commit()
            flash(_("The group has ended. Its sessions stay on record."), "success")
        except (services.GroupError, StaleDataError):
            db.session.rollback()
            flash(_messages()["stale"], "error")
    return see_other("groups.show", group_id=group_id)


# -- the group page and its members -----------------------------------------------------------------------

def _group_page(group, status=200, error=None):
    sessions = services.sessions_of(group)
    present = {}
    for s in sessions:
        for a in s.attendance:
            if a.status == "present":
                present[a.member_id] = present.get(a.member_id, 0) + 1
    q = request.args.get("q", "")
    can_edit = can(current_user, "group.edit", group)
    preload_data_keys({group.data_key_id})
    # A member's case is linked for whoever is on its team (no query per member: teams are loaded).
    case_links = {m.id for m in group.members if m.case is not None and in_team(current_user, m.case)}
    audit.record("group.viewed", group)
    resp = render("groups/show.html", status=status, group=group, sessions=sessions, present=present, q=q,
                  options=services.students_to_add(group, q) if (q and can_edit) else [], can_edit=can_edit,
                  can_record=can(current_user, "group.session", group), case_links=case_links,
                  members_form=MembersForm(formdata=None), version_form=VersionForm(formdata=None,
                                                                                    version=group.version_id),
                  error=error)
    db.session.commit()
    return resp


@bp.route("/groups/<int:group_id>")
@login_required
def show(group_id):
    group = _load(group_id)
    require("group.view", group)
    return _group_page(group)


@bp.route("/groups/<int:group_id>/student-options")
@login_required
def student_options(group_id):
    """Type-ahead: checkboxes for the school's students matching q who are not in the group yet."""
    group = _load(group_id)
    require("group.edit", group)
    q = request.args.get("q", "")
    if not is_htmx():
        return see_other(url_for("groups.show", group_id=group.id, q=q) + "#members")
    return render("groups/show.html", "groups/_member_options.html", group=group, q=q,
                  options=services.students_to_add(group, q))


@bp.route("/groups/<int:group_id>/members", methods=["POST"])
@login_required
def add_members(group_id):
    group = _load(group_id)
    require("group.edit", group)
    form = MembersForm()
    back = url_for("groups.show", group_id=group_id) + "#members"
    if not form.validate_on_submit():
        flash(_messages()["none_added"], "error")
        return see_other(back)
    ids = set(form.student_ids.data or [])
    students = db.session.scalars(select(Student).where(Student.id.in_(ids))).all() if ids else []
    try:
        if len(students) != len(ids):
            raise services.GroupError("student_ids", "student")
        added = services.add_members(current_user, group, students)
    except services.GroupError as exc:
        db.session.rollback()
        flash(_messages().get(exc.code, _messages()["invalid"]), "error")
        return see_other(back)
    db.session.commit()
    flash(ngettext("%(num)d student added to the group.", "%(num)d students added to the group.", len(added)),
          "success")
    return see_other(back)


@bp.route("/groups/<int:group_id>/members/<int:member_id>/remove", methods=["POST"])
@login_required
def remove_member(group_id, member_id):
    group = _load(group_id)
    require("group.edit", group)
    member = db.session.scalar(select(GroupMember).where(GroupMember.id == member_id,
                                                         GroupMember.group_id == group.id))
    if member is None:
        abort(404)
    form = VersionForm()
    if form.validate_on_submit():
        try:
            services.remove_member(current_user, member, version=form.version.data)
            db.session.commit()
            flash(_("%(name)s left the group; the sessions they attended stay on record.", name=member.student.name),
                  "success")
        except services.GroupError:
            db.session.rollback()
            flash(_messages()["already_handled"], "info")
    return see_other(url_for("groups.show", group_id=group_id) + "#members")


# -- sessions ---------------------------------------------------------------------------------------------

def _marks(form):
    return {int(e.member_id.data): (e.status.data, e.observation.data)
            for e in form.attendance if str(e.member_id.data or "").isdigit()}


def _session_data(form):
    return {"occurred_on": form.occurred_on.data, "duration": form.duration.data, "topic": form.topic.data,
            "summary": form.summary.data, "marks": _marks(form)}


@bp.route("/groups/<int:group_id>/sessions/new", methods=["GET", "POST"])
@login_required
def session_new(group_id):
    group = _load(group_id)
    require("group.session", group)
    form = SessionForm()
    if request.method == "GET":
        form.token.data = secrets.token_urlsafe(24)
        form.occurred_on.data = local_today()
        for m in group.current_members:
            form.attendance.append_entry({"member_id": m.id})
    error = None
    if request.method == "POST" and form.validate_on_submit():
        try:
            s = services.record_session(current_user, group, token=form.token.data, **_session_data(form))
        except services.GroupError as exc:
            error = _fail(form, exc)
        else:
            db.session.commit()
            flash(_("Session %(n)d recorded and sent for review. Each student's attendance and observation is on "
                    "their case.", n=s.number), "success")
            return see_other("groups.session", group_id=group_id, session_id=s.id)
    if error:
        group = _load(group_id)
    if request.method == "POST":  # someone who joined since the form was drawn gets a row to mark
        drawn = {str(e.member_id.data) for e in form.attendance}
        for m in group.current_members:
            if str(m.id) not in drawn:
                form.attendance.append_entry({"member_id": m.id}).status.errors = [_messages()["mark"]]
                error = None if error == _messages()["mark"] else error
                form.attendance.errors = [e.errors for e in form.attendance]
    return render("groups/session_form.html", status=422 if (form.errors or error) else 200, group=group, form=form,
                  members={m.id: m for m in group.members}, error=error)


def _session_page(group, s, status=200, review_form=None, revise_form=None, error=None):
    preload_data_keys({group.data_key_id} | {(a.case or a.student).data_key_id for a in s.attendance})
    if revise_form is None and s.status == "returned" and can(current_user, "group_session.revise", s):
        revise_form = ReviseSessionForm(formdata=None, occurred_on=s.occurred_on, duration=s.duration_minutes,
                                        topic=s.topic, summary=s.summary, version=s.version_id)
        for a in s.attendance:
            revise_form.attendance.append_entry({"member_id": a.member_id, "status": a.status,
                                                 "observation": a.observation})
    if review_form is None and s.status == "submitted" and can(current_user, "group_session.review", s):
        review_form = ReviewForm(formdata=None, version=s.version_id)
    # The observations shown are case content: the read names the cases they belong to.
    audit.record("group_session.read", s, details={"cases": sorted({a.case_id for a in s.attendance if a.case_id})})
    resp = render("groups/session.html", "groups/_session.html", status=status, group=group, session=s,
                  thread=thread(s), review_form=review_form, revise_form=revise_form, error=error,
                  members={m.id: m for m in group.members})
    db.session.commit()
    return resp


@bp.route("/groups/<int:group_id>/sessions/<int:session_id>")
@login_required
def session(group_id, session_id):
    group = _load(group_id)
    s = _load_session(group, session_id)
    require("group_session.view", s)
    return _session_page(group, s)


@bp.route("/groups/<int:group_id>/sessions/<int:session_id>/review", methods=["POST"])
@login_required
def session_review(group_id, session_id):
    group = _load(group_id)
    s = _load_session(group, session_id)
    require("group_session.review", s)
    return review_decision(
        "group_session", s, lambda: _load_session(group, session_id), services.review_session,
        {"accept": _("Session record accepted."), "return": _("Session record returned with your comments.")},
        _("Write a comment when you return a record."),
        url_for("groups.session", group_id=group_id, session_id=session_id),
        lambda item, form, status, error: _session_page(_load(group_id), item, status=status, review_form=form,
                                                        error=error))


@bp.route("/groups/<int:group_id>/sessions/<int:session_id>/revise", methods=["POST"])
@login_required
def session_revise(group_id, session_id):
    group = _load(group_id)
    s = _load_session(group, session_id)
    require("group_session.revise", s)
    form = ReviseSessionForm()
    error = None
    if form.validate_on_submit():
        try:
            services.revise_session(current_user, s, form.reply.data, version=form.version.data,
                                    **_session_data(form))
            db.session.commit()
        except services.GroupError as exc:
            error = _fail(form, exc)
        except (WorkError, StaleDataError):
            db.session.rollback()
            error = _messages()["already_handled"]
        else:
            flash(_("Revision sent for review."), "success")
            return see_other("groups.session", group_id=group_id, session_id=session_id)
    status = 409 if error == _messages()["already_handled"] else 422
    group = _load(group_id)
    return _session_page(group, _load_session(group, session_id), status=status, revise_form=form, error=error)


# -- the case page: the student's own attendance and observations ------------------------------------------

@section("groups", "groups/_case_section.html", order=16)
def case_section(case, user, overrides):
    if not can(user, "case.view", case):
        return None
    rows = services.for_case(case)
    if not rows:
        return None
    preload_data_keys({case.data_key_id, case.student.data_key_id})
    by_group = {}
    for a in rows:
        by_group.setdefault(a.session.group, []).append(a)
    return {"case": case, "groups": [(g, atts, sum(1 for a in atts if a.status == "present"))
                                     for g, atts in by_group.items()]}
