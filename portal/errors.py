"""Friendly error pages; a refusal is audited."""
from flask import g, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError

from . import audit
from .extensions import db
from .web import is_htmx, render, toast

MESSAGES = {
    400: lambda: _("The request could not be understood."),
    403: lambda: _("You do not have access to this page or record."),
    404: lambda: _("We could not find that page or record."),
    405: lambda: _("That action is not available here."),
    413: lambda: _("The file is too large."),
    429: lambda: _("Too many attempts. Please wait a few minutes and try again."),
    500: lambda: _("Something went wrong on our side. The error has been recorded; please try again."),
}


def _page(code, message=None):
    message = message or MESSAGES.get(code, MESSAGES[500])()
    resp = render("errors/error.html", "errors/_error.html", status=code, code=code, message=message)
    if is_htmx():
        toast(resp, message, "error")
    return resp


def register(app):
    for code in (400, 404, 405, 413, 429):
        app.register_error_handler(code, lambda e, code=code: _page(code))

    @app.errorhandler(403)
    def forbidden(e):
        db.session.rollback()
        denied = g.pop("denied", None) or {}
        audit.record("access.denied", object_type=denied.get("object_type"),
                     object_id=denied.get("object_id"),
                     details={"action": denied.get("action"), "path": request.path,
                              "method": request.method})
        db.session.commit()
        return _page(403)

    @app.errorhandler(CSRFError)
    def csrf_error(e):
        return _page(400, _("Your form expired or was sent from elsewhere. Reload the page and try again."))

    @app.errorhandler(500)
    def server_error(e):
        db.session.rollback()
        return _page(500)
