"""The supervision line and supervision sessions."""
from flask import abort, current_app, flash, request
from flask_babel import gettext as _, ngettext
from flask_login import current_user, login_required
from sqlalchemy.orm.exc import StaleDataError

from .. import audit
from ..cases.sections import section
from ..crypto import preload_data_keys
from ..extensions import db
from ..formkit import choices, place_error
from ..i18n import label, local_today
from ..models import ActionItem, Case, User
from ..models.people import TIERS
from ..permissions import can, require
from ..web import is_htmx, render, safe_next, see_other, toast
from . import bp, line, sessions
from .forms import ActionForm, DoneForm, HandoverForm, MoveForm, SessionCaseForm, SessionEditForm, SessionForm, \
    policy_form_class

PolicyForm = policy_form_class()


def messages():
    return {
        "required": _("This field is required."),
        "too_long": _("This text is too long."),
        "invalid": _("Choose one of the listed values."),
        "stale": _("Someone else changed this while you were editing. Reload and try again."),
        "already_handled": _("Someone else has already handled this, or it changed since you opened it."),
        "ratio_range": _("Each tier's share of the ratio is a whole number from 1 to 1000."),
        "ratio_two": _("Give the ratio for at least two tiers."),
        "ratio_order": _("A lower tier cannot have fewer people than the tier above it."),
        "caseload_range": _("Between 1 and 500."),
        "share_range": _("Between 0 and 200 per cent."),
        "not_higher": _("A supervisor must be of a higher tier than the person they supervise."),
        "no_line": _("Teachers and administrators are not on the supervision line."),
        "inactive": _("That supervisor's account is deactivated."),
        "unchanged": _("That is the current supervisor already."),
        "outside_line": _("Choose someone in your own line."),
        "has_cases": _("This person is on the team of open cases. Hand their work over first: case access "
                       "follows the supervision line."),
        "nothing_to_hand_over": _("This person holds no open work: nothing to hand over."),
        "worker_required": _("Choose who takes over each case."),
        "same_person": _("Choose someone else: the cases are being handed over from this person."),
        "worker_not_eligible": _("Choose an active social worker or supervisor of the case's school."),
        "unchanged_worker": _("That person already holds the case."),
        "future": _("This date is in the future."),
        "too_old": _("Record sessions of the last twelve months."),
        "duration": _("Between 5 and 600 minutes."),
        "attendees_required": _("Choose who attended."),
        "not_in_line": _("Attendees are people of your own supervision line."),
        "individual_one": _("An individual session has exactly one supervisee."),
        "group_two": _("A group session has at least two attendees."),
        "owner_left": _("Someone who owns an open action of this session would no longer attend it."),
        "case_not_discussable": _("Choose an open case of one of the attendees."),
        "owner_not_present": _("The owner is the supervisor or one of the attendees."),
        "past": _("Choose a date that is not in the past."),
        "action_case": _("The owner of an action on a case must be able to read that case."),
    }


def fail(form, exc, extra=None):
    """Put a rule's refusal beside its field; return it as a general message when it has none."""
    db.session.rollback()
    text = (extra or {}).get(exc.code) or messages().get(exc.code, messages()["invalid"])
    return place_error(form, exc.field, text)


# -- overview -------------------------------------------------------------------------------------------

@bp.route("/")
@login_required
def index():
    require("supervision.view")
    from . import growth, performance
    actions = sessions.open_actions(current_user)
    preload_data_keys({a.session.data_key_id for a in actions} | {a.case.data_key_id for a in actions if a.case})
    recent = db.session.scalars(sessions.sessions_statement(current_user).limit(5)).all()
    ctx = {"actions": actions, "recent": recent, "today": local_today(),
           "plan": growth.active_plan_of(current_user),
           "reviews": performance.mine(current_user), "warnings": None,
           "readable": {a.id: (a.case is None or can(current_user, "case.view", a.case)) for a in actions},
           "done_form": lambda a: DoneForm(formdata=None, version=a.version_id)}
    if can(current_user, "line.view"):
        ctx["warnings"] = line.warning_count(line.tree(current_user))
    return render("supervision/index.html", **ctx)


# -- the line -------------------------------------------------------------------------------------------

@bp.route("/line")
@login_required
def line_page():
    require("line.view")
    policy = line.current_policy()
    return render("supervision/line.html", tree=line.tree(current_user, policy), policy=policy,
                  describe=describe_warning, links=person_links)


def person_links(person):
    """What the viewer may do for a person on the tree (links beside their name)."""
    from flask import url_for
    out = []
    if can(current_user, "line.handover", person):
        out.append((_("Hand over work"), url_for("supervision.handover", user_id=person.id)))
    if can(current_user, "line.manage", person):
        out.append((_("Change supervisor"), url_for("supervision.move", user_id=person.id)))
    return out


def describe_warning(w):
    if w["kind"] == "caseload":
        return _("%(n)d open cases, above the limit of %(limit)d for this tier", n=w["actual"], limit=w["limit"])
    role = label("role", w["role"])
    expected = str(w["low"]) if w["low"] == w["high"] else _("%(low)d–%(high)d", low=w["low"], high=w["high"])
    return _("%(role)s: %(n)d in this line, where the policy's ratio expects %(expected)s", role=role,
             n=w["actual"], expected=expected)


def _policy_values(form, policy):
    form.caseload_limit.data = policy.caseload_limit
    form.version.data = policy.version or ""
    ratio = dict(policy.ratio)
    for role in TIERS:
        getattr(form, f"ratio_{role}").data = ratio.get(role)
        getattr(form, f"share_{role}").data = policy.load_shares.get(role)


@bp.route("/policy", methods=["GET", "POST"])
@login_required
def policy():
    require("line.policy")
    form = PolicyForm()
    current = line.current_policy()
    error = None
    if request.method == "GET":
        _policy_values(form, current)
    elif form.validate_on_submit():
        try:
            line.save_policy(current_user, ratio={r: getattr(form, f"ratio_{r}").data for r in TIERS},
                             caseload_limit=form.caseload_limit.data,
                             shares={r: getattr(form, f"share_{r}").data for r in TIERS}, version=form.version.data)
            db.session.commit()
        except line.LineError as exc:
            error = fail(form, exc)
            if exc.field == "ratio":
                error, form.ratio_error = None, messages()[exc.code]
            elif exc.field == "shares":
                error, form.share_error = None, messages()[exc.code]
        except StaleDataError:
            db.session.rollback()
            error = messages()["stale"]
        else:
            flash(_("The line's policy was saved."), "success")
            return see_other("supervision.line_page" if can(current_user, "line.view") else "admin.line")
    return render("supervision/policy.html", status=422 if (form.errors or error or getattr(form, "ratio_error", None)
                                                             or getattr(form, "share_error", None)) else 200,
                  form=form, policy=current, roles=list(TIERS), error=error)


def _person(user_id):
    person = db.session.get(User, user_id)
    if person is None or person.role not in TIERS:
        abort(404)
    return person


@bp.route("/line/<int:user_id>/move", methods=["GET", "POST"])
@login_required
def move(user_id):
    person = _person(user_id)
    require("line.manage", person)
    form = MoveForm()
    candidates = line.supervisor_candidates(current_user, person)
    form.supervisor.choices = choices([("", _("Choose…"))] + [
        (u.id, f"{u.display_name} · {label('role', u.role)}") for u in candidates])
    error = None
    if request.method == "GET":
        form.version.data = person.version_id
    elif form.validate_on_submit():
        try:
            line.move(current_user, person, db.session.get(User, form.supervisor.data), version=form.version.data)
            db.session.commit()
        except line.LineError as exc:
            error = fail(form, exc)
        except StaleDataError:
            db.session.rollback()
            error = messages()["stale"]
        else:
            flash(_("%(name)s now reports to %(sup)s.", name=person.display_name,
                    sup=person.supervisor.display_name), "success")
            return see_other("supervision.line_page")
    open_cases = line.orphans(person)["cases"] + line.orphans(person)["memberships"]
    return render("supervision/move.html", status=422 if (form.errors or error) else 200, form=form, person=person,
                  error=error, open_cases=open_cases, can_hand_over=can(current_user, "line.handover", person))


@bp.route("/line/<int:user_id>/handover", methods=["GET", "POST"])
@login_required
def handover(user_id):
    person = _person(user_id)
    require("line.handover", person)
    work = line.open_work(person)
    eligible = line.eligible_for(work["cases"])
    everyone = sorted({u.id: u for us in eligible.values() for u in us if u.id != person.id}.values(),
                      key=lambda u: u.display_name)
    form = HandoverForm()
    form.default_worker.choices = choices([("", _("Choose…"))] + [
        (u.id, f"{u.display_name} · {label('role', u.role)}") for u in everyone])
    chosen = {c.id: request.form.get(f"worker_{c.id}", type=int) for c in work["cases"]}
    error = None
    if request.method == "POST" and form.validate_on_submit():
        valid = {u.id: u for u in everyone}
        try:
            counts = line.hand_over(current_user, person,
                                    default_worker=valid.get(form.default_worker.data),
                                    per_case={cid: valid.get(uid) for cid, uid in chosen.items() if uid})
            db.session.commit()
        except line.LineError as exc:
            db.session.rollback()
            error = messages().get(exc.code, exc.code)
            if exc.info.get("case"):
                error = _("%(case)s: %(problem)s", case=exc.info["case"], problem=error)
        else:
            flash(ngettext("%(num)d case of %(name)s was handed over; nothing is left waiting on them.",
                           "%(num)d cases of %(name)s were handed over; nothing is left waiting on them.",
                           counts["cases"], name=person.display_name), "success")
            return see_other("supervision.line_page")
        work = line.open_work(person)
    preload_data_keys({a.session.data_key_id for a in work["actions"]})
    return render("supervision/handover.html", status=422 if error else 200, form=form, person=person, work=work,
                  eligible=eligible, chosen=chosen, error=error)


# -- sessions ---------------------------------------------------------------------------------------------

@bp.route("/sessions")
@login_required
def sessions_list():
    require("supervision.view")
    person = request.args.get("person", type=int)
    page = db.paginate(sessions.sessions_statement(current_user, person), page=request.args.get("page", 1, type=int),
                       per_page=current_app.config["PAGE_SIZE"], error_out=False)
    return render("supervision/sessions.html", "supervision/_sessions_list.html", page=page,
                  can_create=can(current_user, "session.create"))


def _session_choices(form, attendees):
    form.attendees.choices = choices((u.id, f"{u.display_name} · {label('role', u.role)}") for u in attendees)


def _owner_choices(people):
    return choices([("", _("Choose…"))] + [(u.id, u.display_name) for u in people])


@bp.route("/sessions/new", methods=["GET", "POST"])
@login_required
def session_new():
    require("session.create")
    form = SessionForm()
    people = sessions.attendee_choices(current_user)
    _session_choices(form, people)
    for row in form.actions:
        row.owner.choices = _owner_choices([current_user] + people)
    error = None
    if request.method == "GET":
        form.held_on.data = local_today()
        form.duration.data = 60
        if request.args.get("with", type=int) in {u.id for u in people}:
            form.attendees.data = [request.args.get("with", type=int)]
            form.kind.data = "individual"
    elif form.validate_on_submit():
        try:
            s = sessions.record_session(
                current_user, kind=form.kind.data, held_on=form.held_on.data, duration=form.duration.data,
                attendee_ids=form.attendees.data, topics=form.topics.data, decisions=form.decisions.data,
                actions=[{"owner_id": r.owner.data, "due_on": r.due_on.data, "text": r.text.data}
                         for r in form.actions])
            db.session.commit()
        except sessions.SessionError as exc:
            row = exc.info.get("row")
            error = fail(form.actions[row] if row is not None else form, exc)
        else:
            flash(_("Supervision session recorded."), "success")
            return see_other("supervision.session", session_id=s.id)
    return render("supervision/session_form.html", status=422 if (form.errors or error) else 200, form=form,
                  error=error, session=None, people=people)


def _load_session(session_id):
    s = sessions.load(session_id)
    if s is None:
        abort(404)
    return s


def session_page(s, status=200, case_form=None, action_form=None, error=None):
    user = current_user
    readable = {sc.case_id: can(user, "case.view", sc.case) for sc in s.cases}
    readable.update({a.case_id: can(user, "case.view", a.case) for a in s.actions if a.case_id})
    preload_data_keys({s.data_key_id} | {sc.case.data_key_id for sc in s.cases if readable[sc.case_id]})
    editable = can(user, "session.edit", s)
    if editable:
        case_form = case_form or SessionCaseForm(formdata=None)
        case_form.case.choices = choices([("", _("Choose…"))] + [
            (c.id, f"{c.reference} · {c.student.name} · {c.worker.display_name}") for c in sessions.discussable_cases(s)])
        action_form = action_form or ActionForm(formdata=None)
        action_form.owner.choices = _owner_choices([s.supervisor] + list(s.attendees))
        action_form.case.choices = choices([("", _("— none —"))] + [
            (sc.case_id, f"{sc.case.reference} · {sc.case.student.name}") for sc in s.cases if readable[sc.case_id]])
    shown = sorted(cid for cid, ok in readable.items() if ok)
    audit.record("session.viewed", s, details={"cases_read": shown})
    resp = render("supervision/session.html", status=status, s=s, readable=readable, editable=editable,
                  case_form=case_form if editable else None, action_form=action_form if editable else None,
                  error=error, today=local_today(), done_form=lambda a: DoneForm(formdata=None, version=a.version_id))
    db.session.commit()
    if error:
        toast(resp, error, "error")
    return resp


@bp.route("/sessions/<int:session_id>")
@login_required
def session(session_id):
    s = _load_session(session_id)
    require("session.view", s)
    return session_page(s)


@bp.route("/sessions/<int:session_id>/edit", methods=["GET", "POST"])
@login_required
def session_edit(session_id):
    s = _load_session(session_id)
    require("session.edit", s)
    people = sessions.attendee_choices(current_user)
    people += [u for u in s.attendees if u.id not in {p.id for p in people}]
    if request.method == "GET":
        preload_data_keys({s.data_key_id})
        form = SessionEditForm(formdata=None, obj=s, duration=s.duration_minutes, topics=s.topics,
                               decisions=s.decisions, version=s.version_id)
        form.attendees.data = [u.id for u in s.attendees]
    else:
        form = SessionEditForm()
    _session_choices(form, people)
    error = None
    if request.method == "POST" and form.validate_on_submit():
        try:
            sessions.update_session(current_user, s, version=form.version.data, kind=form.kind.data,
                                    held_on=form.held_on.data, duration=form.duration.data,
                                    attendee_ids=form.attendees.data, topics=form.topics.data,
                                    decisions=form.decisions.data)
            db.session.commit()
        except sessions.SessionError as exc:
            error = fail(form, exc)
        except StaleDataError:
            db.session.rollback()
            error = messages()["stale"]
        else:
            flash(_("Session saved."), "success")
            return see_other("supervision.session", session_id=s.id)
    return render("supervision/session_form.html", status=422 if (form.errors or error) else 200, form=form,
                  error=error, session=s, people=people)


@bp.route("/sessions/<int:session_id>/cases", methods=["POST"])
@login_required
def session_case(session_id):
    s = _load_session(session_id)
    require("session.edit", s)
    form = SessionCaseForm()
    if form.validate_on_submit():
        case = db.session.get(Case, form.case.data) if form.case.data else None
        try:
            sessions.add_case(current_user, s, case, form.notes.data)
            db.session.commit()
        except sessions.SessionError as exc:
            message = fail(form, exc)
            return session_page(_load_session(session_id), status=422, case_form=form, error=message)
        flash(_("Case added to the session."), "success")
        return see_other(f"/supervision/sessions/{s.id}#cases")
    return session_page(s, status=422, case_form=form)


@bp.route("/sessions/<int:session_id>/actions", methods=["POST"])
@login_required
def session_action(session_id):
    s = _load_session(session_id)
    require("session.edit", s)
    form = ActionForm()
    if form.validate_on_submit():
        try:
            item = sessions.add_action(current_user, s, owner=db.session.get(User, form.owner.data or 0),
                                       due_on=form.due_on.data, text=form.text.data,
                                       case=db.session.get(Case, form.case.data) if form.case.data else None)
            db.session.commit()
        except sessions.SessionError as exc:
            message = fail(form, exc)
            return session_page(_load_session(session_id), status=422, action_form=form, error=message)
        flash(_("Action added."), "success")
        return see_other(f"/supervision/sessions/{s.id}#action-{item.id}")
    return session_page(s, status=422, action_form=form)


@bp.route("/actions/<int:action_id>/done", methods=["POST"])
@login_required
def action_done(action_id):
    item = db.session.get(ActionItem, action_id)
    if item is None:
        abort(404)
    require("action.complete", item)
    form = DoneForm()
    error = None
    if form.validate_on_submit():
        try:
            sessions.complete_action(current_user, item, version=form.version.data)
            db.session.commit()
        except sessions.SessionError as exc:
            error = fail(None, exc)
        except StaleDataError:
            db.session.rollback()
            error = messages()["already_handled"]
    else:
        error = messages()["already_handled"]
    back = safe_next(request.form.get("back"), f"/supervision/sessions/{item.session_id}#action-{item.id}")
    if is_htmx():
        item = db.session.get(ActionItem, action_id)
        can_read = item.case is None or can(current_user, "case.view", item.case)
        resp = render("supervision/session.html", "supervision/_action.html", status=409 if error else 200, a=item,
                      can_read=can_read, today=local_today(), show_session=request.form.get("back") is not None,
                      done_form=lambda a: DoneForm(formdata=None, version=a.version_id))
        return toast(resp, error or _("Marked as done."), "error" if error else "success")
    flash(error or _("Marked as done."), "error" if error else "success")
    return see_other(back)


# -- the case page ------------------------------------------------------------------------------------------

@section("supervision", "supervision/_case_section.html", order=60)
def case_section(case, user, overrides):
    """Where the case was discussed in supervision, with the notes (under the case's key)."""
    if not can(user, "case.view", case):
        return None
    discussions = sessions.case_discussions(case)
    return {"case": case, "discussions": discussions} if discussions else None
