"""Referral pages: the agency directory, consent on the case, referrals and their letter."""
from flask import abort, current_app, flash, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy.orm.exc import StaleDataError

from .. import audit
from ..cases.sections import section
from ..cases.views import load_case
from ..crypto import preload_data_keys
from ..extensions import db
from ..formkit import choices, place_error
from ..i18n import label, local_today
from ..models import Guardian
from ..models.referrals import AGENCY_TYPES, Agency, Consent
from ..permissions import can, require
from ..web import is_htmx, render, see_other
from . import bp, services
from .forms import AgencyForm, ConsentForm, ReferralForm, RevokeForm, SendForm, StatusForm


def _messages():
    return {
        "required": _("This field is required."),
        "too_long": _("This text is too long."),
        "invalid": _("Choose one of the listed values."),
        "email": _("Give a valid email address."),
        "weeks": _("Between 0 and 104 weeks."),
        "stale": _("Someone else changed this while you were looking at it. Check the latest version and try again."),
        "already_handled": _("This has already been done."),
        "agency": _("Choose an active agency."),
        "restricted": _("This person is under a contact restriction and cannot give consent."),
        "too_young": _("The student is too young to consent on their own; a guardian must."),
        "future": _("This date is in the future."),
        "expiry": _("The consent must end after it was given, and not in the past."),
        "scope": _("Tick the information the consent covers."),
        "identity": _("A referral always says who the student is: keep the first item ticked."),
        "no_consent": _("No consent in force covers this agency and everything ticked. Record the consent first, "
                        "or choose an exemption and give the reason."),
        "transition": _("That is not a possible next step for this referral."),
        "use_send": _("Send the referral with its own button."),
        "before_sent": _("This date is before the referral was sent."),
        "outcome": _("Choose the outcome."),
        "appointment_date": _("The first appointment cannot be before the referral was sent, or more than a year away."),
        "file_type": _("Upload a PDF, PNG or JPEG file."),
        "file_too_large": _("The file is too large."),
        "empty_file": _("The file is empty."),
        "no_authority": _("Only a family member with parental responsibility, or the student where the law allows, "
                          "can give consent."),
        "case_closed": _("The case is closed: nothing more is sent about it."),
        "before_previous": _("This date is before the referral's last recorded step."),
        "before_given": _("The consent cannot be revoked before it was given."),
    }


def _fail(form, exc, messages=None):
    db.session.rollback()
    message = (messages or {}).get(exc.code) or _messages().get(exc.code, _messages()["invalid"])
    return place_error(form, exc.field, message)


def _upload(field):
    data = field.data
    if data and getattr(data, "filename", ""):
        return data.filename, data.read(current_app.config["ATTACHMENT_MAX_BYTES"] + 1)
    return None


# -- the directory ---------------------------------------------------------------------------------------------

@bp.route("/agencies")
@login_required
def agencies():
    require("agency.view")
    args = request.args
    manage = can(current_user, "agency.manage")
    stmt = services.directory_statement(args.get("q"), args.get("type"), args.get("language"), args.get("area"),
                                        include_inactive=manage and args.get("inactive") == "1")
    page = db.paginate(stmt, page=args.get("page", 1, type=int), per_page=current_app.config["PAGE_SIZE"],
                       error_out=False)
    return render("referrals/agencies.html", "referrals/_agency_list.html", page=page, types=AGENCY_TYPES,
                  figures=services.agency_figures([a.id for a in page.items]), manage=manage, args=args)


def _agency_data(form):
    return {k: getattr(form, k).data for k in services.AGENCY_FIELDS}


@bp.route("/agencies/new", methods=["GET", "POST"])
@login_required
def agency_new():
    require("agency.manage")
    form = AgencyForm()
    error = None
    if form.validate_on_submit():
        try:
            agency = services.save_agency(current_user, **_agency_data(form))
        except services.ReferralError as exc:
            error = _fail(form, exc)
        else:
            db.session.commit()
            flash(_("%(name)s added to the directory.", name=agency.name), "success")
            return see_other("referrals.agency", agency_id=agency.id)
    return render("referrals/agency_form.html", status=422 if (form.errors or error) else 200, form=form,
                  agency=None, error=error)


@bp.route("/agencies/<int:agency_id>", methods=["GET", "POST"])
@login_required
def agency(agency_id):
    agency = db.get_or_404(Agency, agency_id)
    require("agency.view")
    manage = can(current_user, "agency.manage")
    form = AgencyForm(formdata=None, obj=agency, version=agency.version_id) if request.method == "GET" else AgencyForm()
    error = None
    if request.method == "POST":
        require("agency.manage")
        if form.validate_on_submit():
            try:
                services.save_agency(current_user, agency, version=form.version.data, **_agency_data(form))
                db.session.commit()
            except services.ReferralError as exc:
                error = _fail(form, exc)
            except StaleDataError:
                db.session.rollback()
                error = _messages()["stale"]
            else:
                flash(_("Saved."), "success")
                return see_other("referrals.agency", agency_id=agency_id)
    return render("referrals/agency.html", status=422 if (form.errors or error) else 200, agency=agency, form=form,
                  manage=manage, error=error, figures=services.agency_figures([agency.id]).get(agency.id))


@bp.route("/agencies/<int:agency_id>/active", methods=["POST"])
@login_required
def agency_active(agency_id):
    agency = db.get_or_404(Agency, agency_id)
    require("agency.manage")
    form = RevokeForm()  # the CSRF token and the version are used
    if form.validate_on_submit():
        try:
            changed = services.set_agency_active(current_user, agency, request.form.get("active") == "1",
                                                 version=form.version.data)
            db.session.commit()
        except (services.ReferralError, StaleDataError):
            db.session.rollback()
            flash(_messages()["stale"], "error")
        else:
            if changed:
                flash(_("Agency reactivated.") if agency.active else _("Agency deactivated: kept for the referrals "
                                                                          "that name it, no longer offered."), "success")
    return see_other("referrals.agency", agency_id=agency_id)


# -- the case page's section: consent, referrals, disclosure log -----------------------------------------------

def _agency_choices():
    return choices([("", _("Choose…"))] + [(a.id, f"{a.name} · {label('agency_type', a.type)}")
                                          for a in db.session.scalars(services.directory_statement())])


def _consent_form(case, form=None):
    form = form or ConsentForm(formdata=None, given_on=local_today())
    form.agency_id.choices = _agency_choices()
    people = [("student", _("The student (where the law allows)"))] if services.student_may_consent(case.student) else []
    form.given_by.choices = choices([("", _("Choose…"))] + [
        (str(g.id), f"{g.name} · {g.relationship_to_student}" + (" · " + _("Do not contact") if g.no_contact else ""))
        for g in case.student.guardians] + people)
    return form


@section("referrals", "referrals/_case_section.html", order=20)
def case_section(case, user, overrides):
    if not can(user, "case.view", case):
        return None
    preload_data_keys({case.data_key_id})
    return {"case": case, "consents": services.consents_for(case), "referrals": services.referrals_for(case),
            "disclosures": services.disclosures_for(case.student), "today": local_today(),
            "consent_form": _consent_form(case, overrides.get("form")) if can(user, "consent.record", case) else None,
            "revoke_form": RevokeForm(formdata=None), "can_refer": can(user, "referral.create", case),
            "open": bool(overrides.get("form"))}


@bp.route("/cases/<int:case_id>/consents", methods=["POST"])
@login_required
def consent_new(case_id):
    case = load_case(case_id)
    require("consent.record", case)
    form = _consent_form(case, ConsentForm())
    if form.validate_on_submit():
        given_by = None if form.given_by.data == "student" else (
            db.session.get(Guardian, int(form.given_by.data)) if (form.given_by.data or "").isdigit() else False)
        try:
            if given_by is False:
                raise services.ReferralError("given_by", "required")
            services.record_consent(current_user, case, agency=db.session.get(Agency, form.agency_id.data or 0),
                                    given_by=given_by, method=form.method.data, given_on=form.given_on.data,
                                    expires_on=form.expires_on.data, scope=form.scope.data, purpose=form.purpose.data,
                                    witness=form.witness.data, document=_upload(form.document))
        except services.ReferralError as exc:
            message = _fail(form, exc)
            if message:
                flash(message, "error")
        else:
            db.session.commit()
            flash(_("Consent recorded."), "success")
            return see_other(f"/cases/{case_id}#referrals")
    from ..cases.views import case_page
    return case_page(load_case(case_id), status=422, section_overrides={"referrals": {"form": form}})


@bp.route("/consents/<int:consent_id>/revoke", methods=["POST"])
@login_required
def consent_revoke(consent_id):
    consent = db.get_or_404(Consent, consent_id)
    require("consent.revoke", consent)
    form = RevokeForm()
    if form.validate_on_submit():
        try:
            services.revoke_consent(current_user, consent, form.reason.data, revoked_on=form.revoked_on.data,
                                    version=form.version.data)
            db.session.commit()
        except services.ReferralError as exc:
            db.session.rollback()
            flash(_("Say why the consent is revoked.") if exc.field == "reason"
                  else _messages().get(exc.code, _messages()["invalid"]), "error")
        except StaleDataError:
            db.session.rollback()
            flash(_messages()["stale"], "error")
        else:
            flash(_("Consent revoked. What was already shared stays shared; nothing more goes out on it."), "success")
    return see_other(f"/cases/{consent.case_id}#referrals")


# -- referrals -----------------------------------------------------------------------------------------------------

@bp.route("/cases/<int:case_id>/referrals/new", methods=["GET", "POST"])
@login_required
def referral_new(case_id):
    case = load_case(case_id)
    require("referral.create", case)
    form = ReferralForm()
    form.agency_id.choices = _agency_choices()
    if request.method == "GET":
        form.agency_id.data = request.args.get("agency", type=int)
    error = None
    if request.method == "POST" and form.validate_on_submit():
        try:
            ref = services.create_referral(current_user, case, agency=db.session.get(Agency, form.agency_id.data or 0),
                                           urgency=form.urgency.data, items=form.items.data, reason=form.reason.data)
        except services.ReferralError as exc:
            error = _fail(form, exc)
        else:
            db.session.commit()
            flash(_("Referral drafted. Check the letter, then send it."), "success")
            return see_other("referrals.show", referral_id=ref.id)
    return render("referrals/referral_form.html", status=422 if (form.errors or error) else 200, case=case, form=form,
                  error=error)


def _load(referral_id):
    ref = services.load(referral_id)
    if ref is None:
        abort(404)
    return ref


def _page(ref, status=200, send_form=None, status_form=None, error=None):
    preload_data_keys({ref.case.data_key_id})
    may_update = can(current_user, "referral.update", ref)
    if send_form is None and may_update and ref.status == "draft":
        send_form = SendForm(formdata=None, version=ref.version_id)
    if status_form is None and may_update and services.NEXT.get(ref.status) and ref.status != "draft":
        status_form = StatusForm(formdata=None, version=ref.version_id, on=local_today())
    if status_form is not None:
        status_form.status.choices = choices([("", _("Choose…"))] + [
            (s, label("referral_state", s)) for s in services.NEXT[ref.status] if s != "sent"])
    audit.record("referral.read", ref.case, details={"referral": ref.id, "ref": ref.reference})
    consent = services.covering_consent(ref.case, ref.agency, ref.info_items) if ref.status == "draft" else ref.consent
    resp = render("referrals/referral.html", status=status, ref=ref, case=ref.case, send_form=send_form,
                  status_form=status_form, consent=consent, error=error)
    db.session.commit()
    return resp


@bp.route("/referrals/<int:referral_id>")
@login_required
def show(referral_id):
    ref = _load(referral_id)
    require("referral.view", ref)
    return _page(ref)


@bp.route("/referrals/<int:referral_id>/send", methods=["POST"])
@login_required
def send(referral_id):
    ref = _load(referral_id)
    require("referral.update", ref)
    form = SendForm()
    error = None
    if form.validate_on_submit():
        try:
            services.send(current_user, ref, exemption=form.exemption.data or None,
                          exemption_reason=form.exemption_reason.data, version=form.version.data)
            db.session.commit()
        except services.ReferralError as exc:
            error = _fail(form, exc, {"required": _("Give the reason the exemption applies.")})
        except StaleDataError:
            db.session.rollback()
            error = _messages()["stale"]
        else:
            flash(_("Referral sent. It is on the student's disclosure log."), "success")
            return see_other("referrals.show", referral_id=referral_id)
    return _page(_load(referral_id), status=422, send_form=form, error=error)


@bp.route("/referrals/<int:referral_id>/status", methods=["POST"])
@login_required
def status(referral_id):
    ref = _load(referral_id)
    require("referral.update", ref)
    form = StatusForm()
    form.status.choices = choices([(s, s) for s in services.NEXT.get(ref.status, ())])
    error = None
    if form.validate_on_submit():
        try:
            services.change_status(current_user, ref, form.status.data, on=form.on.data,
                                   first_appointment_on=form.first_appointment_on.data, outcome=form.outcome.data or None,
                                   note=form.note.data, version=form.version.data)
            db.session.commit()
        except services.ReferralError as exc:
            error = _fail(form, exc, {"required": _("This field is required.")})
        except StaleDataError:
            db.session.rollback()
            error = _messages()["stale"]
        else:
            flash(_("Referral updated."), "success")
            return see_other("referrals.show", referral_id=referral_id)
    return _page(_load(referral_id), status=422, status_form=form, error=error)


@bp.route("/referrals/<int:referral_id>/letter")
@login_required
def letter(referral_id):
    """The printable referral letter, built from the referral's fields only: what was ticked."""
    ref = _load(referral_id)
    require("referral.view", ref)
    preload_data_keys({ref.case.data_key_id, ref.case.student.data_key_id})
    audit.record("referral.letter_printed", ref.case, details={"referral": ref.id, "ref": ref.reference})
    guardians = [g for g in ref.case.student.guardians if not g.no_contact] \
        if "guardian_contact" in ref.info_items else []
    resp = render("referrals/letter.html", ref=ref, student=ref.case.student, guardians=guardians,
                  today=local_today(), is_htmx=is_htmx())
    db.session.commit()
    return resp
