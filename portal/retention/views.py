"""Legal holds on the case page: a supervisor above the case's worker places or lifts one."""
from flask import flash
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user, login_required

from ..cases import timeline
from ..cases.sections import section
from ..cases.views import case_page, load_case
from ..extensions import db
from ..permissions import can, require
from ..web import see_other
from . import bp, services
from .forms import HoldForm

MESSAGES = {
    "already_held": _l("This case is already under a legal hold."),
    "not_held": _l("This case is not under a legal hold."),
    "required": _l("Say why."),
    "too_long": _l("This is too long."),
}


@timeline.summary("legal_hold_placed")
def _placed(params):
    return _l("Legal hold placed: retention will not erase this case")


@timeline.summary("legal_hold_lifted")
def _lifted(params):
    return _l("Legal hold lifted")


@section("legal_hold", "retention/_case_section.html", order=90)
def case_section(case, user, overrides):
    """Everyone on the case sees a hold; the supervisors above the worker place and lift it."""
    if not can(user, "case.view", case):
        return None
    hold = services.active_hold(case)
    may = can(user, "case.legal_hold", case)
    if hold is None and not may:
        return None
    return {"case": case, "hold": hold, "may": may, "form": overrides.get("form") or HoldForm(formdata=None),
            "open": bool(overrides.get("form"))}


def _act(case_id, action):
    case = load_case(case_id)
    require("case.legal_hold", case)
    form = HoldForm()
    if form.validate_on_submit():
        try:
            action(current_user, case, form.reason.data)
        except services.RetentionError as exc:
            db.session.rollback()
            if exc.field:
                form.reason.errors.append(str(MESSAGES[exc.code]))
            else:
                flash(str(MESSAGES[exc.code]), "error")
                return see_other(f"/cases/{case_id}#legal-hold")
        else:
            db.session.commit()
            return None
    return case_page(load_case(case_id), status=422, section_overrides={"legal_hold": {"form": form}})


@bp.route("/cases/<int:case_id>/legal-hold", methods=["POST"])
@login_required
def hold(case_id):
    resp = _act(case_id, services.place_hold)
    if resp is None:
        flash(_("Legal hold placed. Retention will not erase this case until the hold is lifted."), "success")
        return see_other(f"/cases/{case_id}#legal-hold")
    return resp


@bp.route("/cases/<int:case_id>/legal-hold/lift", methods=["POST"])
@login_required
def lift(case_id):
    resp = _act(case_id, services.lift_hold)
    if resp is None:
        flash(_("Legal hold lifted."), "success")
        return see_other(f"/cases/{case_id}#legal-hold")
    return resp
