from datetime import datetime

from flask import abort, current_app, flash, render_template, request, session, url_for
from flask_babel import gettext as _, ngettext
from flask_login import current_user, login_required

from .. import audit, clock
from ..extensions import db, limiter
from ..models import User
from ..permissions import require
from ..web import render, safe_next, see_other
from . import bp, mfa
from .forms import CodeForm, ConfirmForm, LanguageForm, LoginForm, PasswordChangeForm, PasswordConfirmForm, SessionEndForm
from .services import (AccountError, active_sessions, authenticate, change_password, end_my_other_sessions,
                       end_session, end_session_by_handle, session_handle, start_session)


def _account_key():
    return "login-account:" + (request.form.get("username") or "").strip().lower()[:64]


def _failed(resp):
    """Only failed sign-ins count against the limits."""
    return resp.status_code != 303


@bp.route("/login", methods=["GET", "POST"])
# Per address: failures only, so a whole school behind one NAT address can still sign in at 8am.
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"], methods=["POST"],
               deduct_when=_failed, scope="login-address")
# Per account: every attempt is counted before the password is checked (atomically), so parallel
# guesses cannot slip past the limit while earlier ones are still being verified.
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"], methods=["POST"],
               key_func=_account_key, scope="login-account")
def login():
    if current_user.is_authenticated:
        return see_other("home.index")
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    error = None
    if form.validate_on_submit():
        user = authenticate(form.username.data, form.password.data)
        if user is not None and user.mfa_enabled:
            # The password was right; the session starts only after the second factor.
            db.session.commit()
            session["mfa_pending"] = {"user_id": user.id, "at": clock.now().isoformat(),
                                      "next": safe_next(form.next.data, "")}
            return see_other("auth.login_code")
        if user is not None:
            start_session(user, ip=request.remote_addr, user_agent=request.user_agent.string)
            db.session.commit()
            return see_other(safe_next(form.next.data, url_for("home.index")))
        db.session.commit()  # keep the audit of the failure
        error = _("That username and password do not match an active account.")
    status = 200 if request.method == "GET" else 422 if form.errors or error else 200
    return render_template("auth/login.html", form=form, error=error), status


def _pending_user():
    """The account whose password was just given, while the code step is still open."""
    pending = session.get("mfa_pending") or {}
    try:
        started = datetime.fromisoformat(pending["at"])
    except (KeyError, TypeError, ValueError):
        return None
    if (clock.now() - started).total_seconds() > current_app.config["MFA_PENDING_SECONDS"]:
        session.pop("mfa_pending", None)
        return None
    user = db.session.get(User, pending.get("user_id"))
    return user if user is not None and user.active and user.mfa_enabled else None


def _code_account_key():
    pending = session.get("mfa_pending") or {}
    return f"mfa-account:{pending.get('user_id')}"


@bp.route("/login/code", methods=["GET", "POST"])
# Like the password: failures per address, and every attempt per account, counted up front.
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"], methods=["POST"],
               deduct_when=_failed, scope="login-address")
@limiter.limit(lambda: current_app.config["MFA_LIMIT_PER_ACCOUNT"], methods=["POST"],
               key_func=_code_account_key, scope="mfa-account",
               exempt_when=lambda: not (session.get("mfa_pending") or {}).get("user_id"))
def login_code():
    if current_user.is_authenticated:
        return see_other("home.index")
    user = _pending_user()
    if user is None:
        flash(_("Please sign in again."), "info")
        return see_other("auth.login")
    form = CodeForm()
    error = None
    if form.validate_on_submit():
        how = mfa.verify(user, form.code.data)
        if how:
            target = session.get("mfa_pending", {}).get("next") or url_for("home.index")
            start_session(user, ip=request.remote_addr, user_agent=request.user_agent.string)
            db.session.commit()
            if how == "recovery":
                left = mfa.recovery_codes_left(user)
                flash(ngettext("You signed in with a recovery code; %(num)d code is left. If you lost your phone, "
                               "ask your administrator to reset your two-factor sign-in.",
                               "You signed in with a recovery code; %(num)d codes are left. If you lost your "
                               "phone, ask your administrator to reset your two-factor sign-in.", left), "warning")
            return see_other(safe_next(target, url_for("home.index")))
        audit.record("auth.mfa_code_failed", user, actor=user, details={"during": "sign_in"})
        db.session.commit()
        error = _("That code is not right. Codes change every 30 seconds; use the newest one.")
    status = 422 if (form.errors or error) else 200
    return render_template("auth/login_code.html", form=form, error=error), status


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        audit.record("auth.logout", current_user)
        end_session()
        db.session.commit()
    flash(_("You have signed out."), "info")
    return see_other("auth.login")


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password():
    require("account.self")
    form = PasswordChangeForm()
    status = 200
    if form.validate_on_submit():
        try:
            change_password(current_user, form.current_password.data, form.new_password.data,
                            form.confirm.data)
        except AccountError as exc:
            messages = {
                "wrong": _("Your current password is not correct."),
                "mismatch": _("The two new passwords are not the same."),
            }
            getattr(form, exc.field).errors.append(messages.get(exc.message, exc.message))
            db.session.rollback()
        else:
            db.session.commit()
            flash(_("Your password has been changed. Other sessions were signed out."), "success")
            return see_other("home.index")
    if form.errors:
        status = 422
    return render("auth/password.html", "auth/_password_form.html", status=status, form=form)


@bp.route("/language", methods=["POST"])
def language():
    form = LanguageForm()
    if form.validate_on_submit():
        if current_user.is_authenticated:
            current_user.locale = form.locale.data
            audit.record("account.locale_changed", current_user, details={"locale": form.locale.data})
            db.session.commit()
        else:
            session["locale"] = form.locale.data
    return see_other(safe_next(form.next.data, url_for("home.index")))


# -- the account's security: two-factor sign-in and sessions ----------------------------------------

_MESSAGES = {
    "wrong_code": lambda: _("That code is not right. Codes change every 30 seconds; use the newest one."),
    "not_pending": lambda: _("Start the set-up again."),
    "wrong": lambda: _("Your password is not correct."),
    "required": lambda: _("Two-factor sign-in is required for your role."),
    "current_session": lambda: _("This is the session you are using; sign out instead."),
    "no_session": lambda: _("That session has already ended."),
    "not_enabled": lambda: _("Two-factor sign-in is not on."),
}


@bp.route("/account/security")
@login_required
def security():
    require("account.self")
    return _security_page()


def _security_page(status=200, **extra):
    ctx = {
        "sessions": active_sessions(current_user), "handle": session_handle, "current_sid": session.get("sid"),
        "codes_left": mfa.recovery_codes_left(current_user) if current_user.mfa_enabled else 0,
        "required": mfa.required_for(current_user), "end_form": SessionEndForm(), "confirm": ConfirmForm(),
        "code_form": CodeForm(), "password_form": PasswordConfirmForm(),
    }
    ctx.update(extra)
    return render("auth/security.html", status=status, **ctx)


@bp.route("/account/two-factor", methods=["GET", "POST"])
@login_required
def mfa_setup():
    """Scan the QR code (or type the key), then confirm with a code from the app."""
    require("account.self")
    if current_user.mfa_enabled:
        return see_other("auth.security")
    secret = mfa.pending_secret(current_user, session)
    db.session.commit()  # the same secret on a reload, so an app that scanned it keeps working
    form = CodeForm()
    if form.validate_on_submit():
        try:
            codes = mfa.confirm_enrolment(current_user, form.code.data, session)
        except AccountError as exc:
            form.code.errors.append(_MESSAGES[exc.message]())
            db.session.commit()  # keep the audit of the failed code
        else:
            db.session.commit()
            flash(_("Two-factor sign-in is on. Other sessions were signed out."), "success")
            return render("auth/recovery_codes.html", codes=codes)
    uri = mfa.provisioning_uri(current_user, secret)
    return render("auth/mfa_setup.html", status=422 if form.errors else 200, form=form,
                  qr=mfa.qr_data_uri(uri), secret=" ".join(secret[i:i + 4] for i in range(0, len(secret), 4)),
                  required=mfa.required_for(current_user))


@bp.route("/account/two-factor/recovery-codes", methods=["POST"])
@login_required
def mfa_recovery_codes():
    require("account.self")
    form = CodeForm()
    if form.validate_on_submit():
        try:
            codes = mfa.regenerate_recovery_codes(current_user, form.code.data)
        except AccountError as exc:
            db.session.commit()
            form.code.errors.append(_MESSAGES[exc.message]())
        else:
            db.session.commit()
            return render("auth/recovery_codes.html", codes=codes)
    return _security_page(status=422, code_form=form)


@bp.route("/account/two-factor/off", methods=["POST"])
@login_required
def mfa_disable():
    require("account.self")
    form = PasswordConfirmForm()
    if form.validate_on_submit():
        try:
            mfa.disable(current_user, form.password.data)
        except AccountError as exc:
            db.session.rollback()
            if exc.field:
                form.password.errors.append(_MESSAGES[exc.message]())
            else:
                flash(_MESSAGES[exc.message](), "error")
        else:
            db.session.commit()
            flash(_("Two-factor sign-in is off."), "success")
            return see_other("auth.security")
    return _security_page(status=422, password_form=form)


@bp.route("/account/sessions/end", methods=["POST"])
@login_required
def session_end():
    require("account.self")
    form = SessionEndForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        end_session_by_handle(current_user, form.handle.data)
    except AccountError as exc:
        db.session.rollback()
        flash(_MESSAGES[exc.message](), "error")
    else:
        db.session.commit()
        flash(_("That session has been signed out."), "success")
    return see_other("auth.security")


@bp.route("/account/sessions/end-others", methods=["POST"])
@login_required
def sessions_end_others():
    require("account.self")
    if not ConfirmForm().validate_on_submit():
        abort(400)
    n = end_my_other_sessions(current_user)
    db.session.commit()
    flash(ngettext("Signed out %(num)d other session.", "Signed out %(num)d other sessions.", n), "success")
    return see_other("auth.security")
