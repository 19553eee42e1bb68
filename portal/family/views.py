"""Family pages: family members and restrictions (student), contacts and home visits (case)."""
from flask import abort, current_app, flash, render_template, request
from flask_babel import gettext as _, to_user_timezone, to_utc
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError

from .. import audit, clock
from ..cases.sections import section
from ..cases.services import eligible_workers
from ..cases.views import load_case
from ..crypto import preload_data_keys
from ..extensions import db
from ..formkit import choices, place_error
from ..i18n import names
from ..models import Case, Guardian, Student, User
from ..models.family import ContactRestriction, FamilyContact, HomeVisit, CONTACT_METHODS
from ..permissions import can, require
from ..web import is_htmx, render, see_other, toast
from . import bp, services
from .forms import ContactForm, GuardianForm, LiftForm, RestrictionForm, VersionForm, VisitForm


def _messages():
    return {
        "required": _("This field is required."),
        "too_long": _("This text is too long."),
        "invalid": _("Choose one of the listed values."),
        "email": _("Give a valid email address."),
        "stale": _("Someone else changed this while you were looking at it. Check the latest version and try again."),
        "already_handled": _("This has already been done."),
        "kinds": _("Tick at least one restriction."),
        "past": _("This date is in the past."),
        "no_case": _("A document can be attached once the student has an open case you work on."),
        "people": _("Tick who the contact was with."),
        "future": _("This time is in the future."),
        "too_old": _("This is more than a year ago."),
        "duration": _("Between 1 and 600 minutes."),
        "staff": _("Choose a case worker of this school."),
        "lone_visit": _("A lone visit needs a check-in colleague who knows where you are."),
        "checkin_self": _("The check-in colleague must be someone else, who stays behind."),
        "return_before_start": _("The expected return must be after the start."),
        "too_long_visit": _("A visit of more than 12 hours cannot be right; check the times."),
        "file_type": _("Upload a PDF, PNG or JPEG file."),
        "file_too_large": _("The file is too large."),
        "empty_file": _("The file is empty."),
        "return_past": _("The expected return is already past."),
        "overdue_cancel": _("This visit is overdue: only checking in (the visitor is safe) closes it."),
        "attended": _("Tick who attended the session."),
        "visit_method": _("A home visit is recorded with the method “home visit”."),
        "visit_recorded": _("This visit has already been recorded as a contact."),
    }


def _restricted_message(exc):
    who = names(exc.info.get("names") or [])
    if exc.code == "restricted":
        return _("%(names)s must not be contacted (contact restriction). Only a supervisor can override this, "
                 "with a reason.", names=who)
    return _("%(names)s must not be contacted. Give the reason for your override.", names=who)


def _fail(form, exc):
    db.session.rollback()
    if exc.code in ("restricted", "override_reason"):
        message = _restricted_message(exc)
    else:
        message = _messages().get(exc.code, _messages()["invalid"])
    return place_error(form, exc.field, message)


def _local(value):
    return to_user_timezone(value).replace(tzinfo=None, second=0, microsecond=0) if value else None


def _utc(value):
    return to_utc(value).replace(tzinfo=None) if value is not None else None


def _load_guardian(guardian_id) -> Guardian:
    g = db.session.scalar(select(Guardian).where(Guardian.id == guardian_id).options(
        joinedload(Guardian.student).joinedload(Student.school), selectinload(Guardian.restrictions)))
    if g is None:
        abort(404)
    return g


# -- family members and restrictions ---------------------------------------------------------------------

def _guardian_data(form):
    return {k: getattr(form, k).data for k in ("name", "relationship", "legal_responsibility", "lives_with_student",
                                              "language", "interpreter_needed", "phone", "email", "address",
                                              "contact_times")}


@bp.route("/students/<int:student_id>/guardians/new", methods=["GET", "POST"])
@login_required
def guardian_new(student_id):
    student = db.get_or_404(Student, student_id)
    require("guardian.edit", student)
    form = GuardianForm()
    error = None
    if form.validate_on_submit():
        try:
            g = services.save_guardian(current_user, student, **_guardian_data(form))
        except services.FamilyError as exc:
            error = _fail(form, exc)
        else:
            db.session.commit()
            flash(_("%(name)s added to the family.", name=g.name), "success")
            return see_other("family.guardian", guardian_id=g.id)
    return render("family/guardian_form.html", status=422 if (form.errors or error) else 200, student=student,
                  form=form, guardian=None, error=error)


def _guardian_page(g, status=200, form=None, restriction_form=None, lift_forms=None, error=None):
    if form is None:
        form = GuardianForm(formdata=None, obj=g, relationship=g.relationship_to_student, phone=g.phone,
                            email=g.email, address=g.address, version=g.version_id)
    lift_forms = lift_forms or {}
    audit.record("guardian.viewed", g)
    resp = render("family/guardian.html", status=status, guardian=g, student=g.student, form=form,
                  restriction_form=restriction_form or RestrictionForm(formdata=None),
                  lift_form=lambda r: lift_forms.get(r.id) or LiftForm(formdata=None, prefix=f"lift{r.id}"), error=error)
    db.session.commit()
    return resp


@bp.route("/guardians/<int:guardian_id>", methods=["GET", "POST"])
@login_required
def guardian(guardian_id):
    g = _load_guardian(guardian_id)
    require("guardian.edit", g.student)
    if request.method == "GET":
        return _guardian_page(g)
    form = GuardianForm()
    error = None
    if form.validate_on_submit():
        try:
            services.save_guardian(current_user, g.student, g, version=form.version.data, **_guardian_data(form))
            db.session.commit()
        except services.FamilyError as exc:
            error = _fail(form, exc)
        except StaleDataError:
            db.session.rollback()
            error = _messages()["stale"]
        else:
            flash(_("Saved."), "success")
            return see_other("family.guardian", guardian_id=guardian_id)
    return _guardian_page(_load_guardian(guardian_id), status=409 if error == _messages()["stale"] else 422,
                          form=form, error=error)


@bp.route("/guardians/<int:guardian_id>/restrictions", methods=["POST"])
@login_required
def restriction_add(guardian_id):
    g = _load_guardian(guardian_id)
    require("restriction.add", g.student)
    form = RestrictionForm()
    error = None
    if form.validate_on_submit():
        upload = form.document.data
        document = None
        if upload and getattr(upload, "filename", ""):
            data = upload.read(current_app.config["ATTACHMENT_MAX_BYTES"] + 1)
            document = (upload.filename, data)
        try:
            services.add_restriction(current_user, g, kinds=form.kinds.data, basis=form.basis.data,
                                     details=form.details.data, ends_on=form.ends_on.data, document=document)
        except services.FamilyError as exc:
            error = _fail(form, exc)
        else:
            db.session.commit()
            flash(_("Restriction recorded. It now shows wherever %(name)s appears.", name=g.name), "success")
            return see_other("family.guardian", guardian_id=guardian_id)
    return _guardian_page(_load_guardian(guardian_id), status=422, restriction_form=form, error=error)


@bp.route("/restrictions/<int:restriction_id>/lift", methods=["POST"])
@login_required
def restriction_lift(restriction_id):
    r = db.get_or_404(ContactRestriction, restriction_id)
    require("restriction.lift", r)
    form = LiftForm(prefix=f"lift{restriction_id}")
    if form.validate_on_submit():
        try:
            services.lift_restriction(current_user, r, form.reason.data)
        except services.FamilyError as exc:
            db.session.rollback()
            if exc.field == "reason":
                form.reason.errors = [_("Say why the restriction is lifted.")]
            else:
                flash(_messages().get(exc.code, _messages()["invalid"]), "error")
                return see_other("family.guardian", guardian_id=r.guardian_id)
        else:
            db.session.commit()
            flash(_("Restriction lifted."), "success")
            return see_other("family.guardian", guardian_id=r.guardian_id)
    return _guardian_page(_load_guardian(r.guardian_id), status=422, lift_forms={restriction_id: form})


# -- the case page's family section, and logging a contact -----------------------------------------------

def _contact_form(case, form=None):
    # Prefixed: the case page holds other forms with a "summary" or a "reason".
    form = form or ContactForm(formdata=None, prefix="contact", occurred_at=_local(clock.now()))
    people = [(g.id, g.name + (" · " + _("Do not contact") if g.no_contact else ""))
              for g in case.student.guardians]
    form.people.choices = choices(people)
    form.attended.choices = choices(people)
    return form


@section("family", "family/_case_section.html", order=4)
def case_section(case, user, overrides):
    if not can(user, "case.view", case):
        return None
    preload_data_keys({case.data_key_id, case.student.data_key_id})
    may_log = can(user, "contact.create", case)
    form = overrides.get("form")
    visit = _returned_visit(case, request.args.get("visit", type=int)) if may_log and form is None else None
    if visit is not None:  # "Record the visit as a contact": the form opens ready for it
        form = _contact_form(case)
        form.method.data, form.visit_id.data = "home_visit", str(visit.id)
        form.occurred_at.data = _local(visit.planned_at)
    return {"case": case, "student": case.student, "contacts": services.recent_contacts(case),
            "visits": services.visits_for(case), "now": clock.now(),
            "form": _contact_form(case, form) if may_log else None,
            "can_override": can(user, "family.override", case),
            "can_plan": can(user, "visit.plan", case), "can_edit": can(user, "guardian.edit", case.student),
            "open": form is not None, "error": overrides.get("error")}


def _returned_visit(case, visit_id):
    if not visit_id:
        return None
    v = db.session.get(HomeVisit, visit_id)
    return v if v is not None and v.case_id == case.id and v.status == "returned" else None


def _section_response(case, status=200, form=None, message=None):
    """htmx: the family section alone; a plain form: the case page (with the form's errors)."""
    failed = status >= 400
    if is_htmx():
        ctx = case_section(case, current_user, {"form": form, "error": message if failed else None}
                           if form is not None else {})
        resp = current_app.make_response((render_template("family/_case_section.html", s=ctx), status))
        resp.vary.add("HX-Request")
        return toast(resp, message, "error" if status >= 400 else "success") if message else resp
    if failed:  # a message not tied to one field shows above the form, which keeps what was typed
        from ..cases.views import case_page
        return case_page(case, status=status, section_overrides={"family": {"form": form, "error": message}})
    flash(message, "success")
    return see_other(f"/cases/{case.id}#family")


@bp.route("/cases/<int:case_id>/contacts", methods=["POST"])
@login_required
def contact_new(case_id):
    case = load_case(case_id)
    require("contact.create", case)
    form = _contact_form(case, ContactForm(prefix="contact"))
    if form.validate_on_submit():
        try:
            contact = services.log_contact(
                current_user, case, guardian_ids=form.people.data, occurred_at=_utc(form.occurred_at.data),
                method=form.method.data, initiated_by=form.initiated_by.data, purpose=form.purpose.data,
                reached=form.reached.data == "yes", duration=form.duration.data,
                interpreter_used=form.interpreter_used.data, summary=form.summary.data, outcome=form.outcome.data,
                next_steps=form.next_steps.data, follow_up_on=form.follow_up_on.data,
                override_reason=form.override_reason.data, attended_ids=form.attended.data,
                as_service_record=form.as_service_record.data,
                home_visit=_returned_visit(case, int(form.visit_id.data) if (form.visit_id.data or "").isdigit() else None))
        except services.FamilyError as exc:
            message = _fail(form, exc)
            return _section_response(load_case(case_id), 422, form, message)
        db.session.commit()
        done = _("Contact logged.") if contact.reached else _("Attempt logged.")
        return _section_response(load_case(case_id), 200, None, done)
    return _section_response(case, 422, form)


@bp.route("/cases/<int:case_id>/family")
@login_required
def family_tab(case_id):
    case = load_case(case_id)
    require("case.view", case)
    student = case.student
    guardian_id = request.args.get("person", type=int)
    method = request.args.get("method") if request.args.get("method") in CONTACT_METHODS else None
    if guardian_id not in {g.id for g in student.guardians}:
        guardian_id = None
    page = db.paginate(services.contacts_statement(current_user, student, case, guardian_id, method),
                       page=request.args.get("page", 1, type=int), per_page=current_app.config["PAGE_SIZE"],
                       error_out=False)
    preload_data_keys({c.case.data_key_id for c in page.items} | {student.data_key_id})
    audit.record("contacts.read", case, details={"contacts": [c.id for c in page.items]})
    resp = render("family/tab.html", "family/_contacts.html", case=case, student=student, page=page,
                  guardian_id=guardian_id, method=method, methods=CONTACT_METHODS,
                  done_form=VersionForm(formdata=None))
    db.session.commit()
    return resp


@bp.route("/contacts/<int:contact_id>/follow-up-done", methods=["POST"])
@login_required
def follow_up_done(contact_id):
    contact = db.get_or_404(FamilyContact, contact_id)
    require("contact.follow_up", contact)
    form = VersionForm()
    if form.validate_on_submit():
        try:
            services.follow_up_done(current_user, contact, version=form.version.data)
            db.session.commit()
        except (services.FamilyError, StaleDataError):
            db.session.rollback()
            flash(_messages()["already_handled"], "error")
        else:
            flash(_("Follow-up done."), "success")
    return see_other(request.form.get("next") if (request.form.get("next") or "").startswith("/my-day")
                     else f"/cases/{contact.case_id}/family")


# -- home visits --------------------------------------------------------------------------------------------

def _visit_form(case, form=None):
    form = form or VisitForm(formdata=None, visitor=current_user.id, address=services.default_address(case.student),
                             planned_at=_local(clock.now()))
    staff = [(u.id, u.display_name) for u in eligible_workers(case.school_id)]
    none = [(0, _("Nobody"))]
    form.visitor.choices = choices(staff)
    form.companion.choices = choices(none + staff)
    form.checkin_contact.choices = choices(none + staff)
    return form


@bp.route("/cases/<int:case_id>/visits/new", methods=["GET", "POST"])
@login_required
def visit_new(case_id):
    case = load_case(case_id)
    require("visit.plan", case)
    preload_data_keys({case.data_key_id, case.student.data_key_id})
    form = _visit_form(case, VisitForm() if request.method == "POST" else None)
    error = None
    if request.method == "POST" and form.validate_on_submit():
        get = lambda uid: db.session.get(User, uid) if uid else None  # noqa: E731
        try:
            visit = services.plan_visit(current_user, case, visitor=get(form.visitor.data),
                                        companion=get(form.companion.data), checkin_contact=get(form.checkin_contact.data),
                                        planned_at=_utc(form.planned_at.data),
                                        expected_return_at=_utc(form.expected_return_at.data),
                                        address=form.address.data, purpose=form.purpose.data)
        except services.FamilyError as exc:
            error = _fail(form, exc)
        else:
            db.session.commit()
            flash(_("Home visit planned. Check in on the visit's page when you are back."), "success")
            return see_other("family.visit", visit_id=visit.id)
    restricted = services.blocked(case.student.guardians)
    return render("family/visit_form.html", status=422 if (form.errors or error) else 200, case=case, form=form,
                  error=error, restricted=restricted, grace_minutes=current_app.config["HOME_VISIT_GRACE_MINUTES"],
                  attempts=db.session.scalar(select(func.count()).select_from(FamilyContact).where(
                      FamilyContact.case_id == case.id, FamilyContact.reached.is_(False))))


def _load_visit(visit_id) -> HomeVisit:
    v = db.session.scalar(select(HomeVisit).where(HomeVisit.id == visit_id).options(
        joinedload(HomeVisit.case).joinedload(Case.student).selectinload(Student.guardians)
        .selectinload(Guardian.restrictions), joinedload(HomeVisit.visitor),
        joinedload(HomeVisit.companion), joinedload(HomeVisit.checkin_contact)))
    if v is None:
        abort(404)
    return v


@bp.route("/visits/<int:visit_id>")
@login_required
def visit(visit_id):
    v = _load_visit(visit_id)
    require("visit.view", v)
    preload_data_keys({v.case.data_key_id})
    audit.record("visit.viewed", v)
    resp = render("family/visit.html", visit=v, case=v.case, student=v.case.student,
                  form=VersionForm(formdata=None, version=v.version_id),
                  can_cancel=v.alert_id is None and v.expected_return_at >= clock.now()
                  and can(current_user, "visit.cancel", v),
                  now=clock.now(), overdue=v.status == "planned" and v.expected_return_at < clock.now(),
                  can_log=can(current_user, "contact.create", v.case))
    db.session.commit()
    return resp


@bp.route("/visits/<int:visit_id>/<any('check-in', 'cancel'):action>", methods=["POST"])
@login_required
def visit_action(visit_id, action):
    v = _load_visit(visit_id)
    require("visit.view" if action == "check-in" else "visit.cancel", v)
    form = VersionForm()
    if form.validate_on_submit():
        try:
            if action == "check-in":
                services.check_in(current_user, v)
            else:
                services.cancel_visit(current_user, v, version=form.version.data)
            db.session.commit()
        except services.FamilyError as exc:
            db.session.rollback()
            flash(_messages().get(exc.code, _messages()["already_handled"]), "error")
        except StaleDataError:
            db.session.rollback()
            flash(_messages()["stale"], "error")
        else:
            flash(_("Checked in. Welcome back.") if action == "check-in" else _("Visit cancelled."), "success")
    return see_other("family.visit", visit_id=visit_id)
