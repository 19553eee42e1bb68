from flask import current_app, flash, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .. import audit
from ..extensions import db, limiter
from ..permissions import require
from ..web import render, safe_next, see_other
from . import bp
from .forms import LanguageForm, LoginForm, PasswordChangeForm
from .services import AccountError, authenticate, change_password, end_session, start_session


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
        if user is not None:
            start_session(user, ip=request.remote_addr, user_agent=request.user_agent.string)
            db.session.commit()
            return see_other(safe_next(form.next.data, url_for("home.index")))
        db.session.commit()  # keep the audit of the failure
        error = _("That username and password do not match an active account.")
    status = 200 if request.method == "GET" else 422 if form.errors or error else 200
    return render_template("auth/login.html", form=form, error=error), status


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
