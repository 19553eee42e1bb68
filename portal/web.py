"""Helpers shared by every blueprint: page-or-fragment rendering, toasts, security headers."""
import json
from urllib.parse import urlsplit

from flask import current_app, redirect, render_template, request, url_for
from flask_login import current_user


def is_htmx() -> bool:
    """A partial-update request (htmx, not a boosted navigation and not a history restore)."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"


def render(page_template: str, fragment: str | None = None, /, status: int = 200, **ctx):
    """One template set, two renderings: htmx gets the fragment, everyone else the full page."""
    template = fragment if (fragment and is_htmx()) else page_template
    resp = current_app.make_response((render_template(template, **ctx), status))
    resp.vary.add("HX-Request")
    return resp


def toast(resp, message: str, level: str = "success"):
    """Ask the page to show a toast (handled in static/js/app.js)."""
    events = json.loads(resp.headers.get("HX-Trigger", "{}") or "{}")
    events["portal:toast"] = {"message": str(message), "level": level}
    # Header values must be ASCII (gunicorn rejects others): \uXXXX escapes, which htmx decodes.
    resp.headers["HX-Trigger"] = json.dumps(events, ensure_ascii=True)
    return resp


def see_other(endpoint_or_url: str, **values):
    """Redirect after a POST. An htmx request gets HX-Redirect so the browser loads a full page."""
    url = url_for(endpoint_or_url, **values) if not endpoint_or_url.startswith("/") else endpoint_or_url
    if is_htmx():
        resp = current_app.make_response(("", 204))
        resp.headers["HX-Redirect"] = url
        return resp
    return redirect(url, code=303)


def safe_next(target: str | None, default: str) -> str:
    """Only same-site relative paths are followed after login."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return default
    return target


CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'")


def security_headers(resp):
    h = resp.headers
    h.setdefault("Content-Security-Policy", CSP)
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Referrer-Policy", "same-origin")
    h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()")
    h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        h.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    # Pages for signed-in users hold student data: never store them anywhere.
    if current_user and current_user.is_authenticated and not request.path.startswith("/static/"):
        h["Cache-Control"] = "no-store"
        h["Pragma"] = "no-cache"
    elif request.path.startswith("/static/"):
        h.setdefault("Cache-Control", "public, max-age=3600")
    else:
        h.setdefault("Cache-Control", "no-store")
    return resp


def path_for(endpoint: str, **values) -> str:
    """url_for that also works outside a request (CLI commands, services called from scripts)."""
    from flask import has_request_context
    if has_request_context():
        return url_for(endpoint, **values)
    with current_app.test_request_context():
        return url_for(endpoint, **values)


def public_url(endpoint: str, **values) -> str:
    """An absolute link for mail: PORTAL_PUBLIC_URL when set, else the address of this request."""
    base = current_app.config.get("PUBLIC_URL")
    if base:
        return base.rstrip("/") + path_for(endpoint, **values)
    from flask import has_request_context
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    return path_for(endpoint, **values)
