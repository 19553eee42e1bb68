"""Request ids and structured (JSON) logs without personal data.

Every request gets an id (a proxy's X-Request-ID when it looks like one, else a random one),
returned in the X-Request-ID header and shown on the error page, so a person reporting a problem
and the logs name the same request. With PORTAL_LOG_FORMAT=json each log record is one JSON
object per line, and each request is logged once with its route pattern (`/cases/<int:case_id>`,
never the path or the query string), method, status and duration. No addresses, user names or
exception messages (which can quote data) go into a JSON record: an exception is its type and
stack only. SQL parameters are never put into exception messages either (hide_parameters).
"""
import json
import logging
import re
import secrets
import time
import traceback
from datetime import datetime, timezone

from flask import g, has_request_context, request

_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
QUIET_ENDPOINTS = {"ops.healthz", "static"}  # polled by load balancers / cached files
request_log = logging.getLogger("portal.request")


def request_id() -> str | None:
    return g.get("request_id") if has_request_context() else None


class RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.request_id = request_id()
        return True


class JsonFormatter(logging.Formatter):
    FIELDS = ("method", "route", "status", "duration_ms", "endpoint")

    def format(self, record):
        out = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or request_id()
        if rid:
            out["request_id"] = rid
        for key in self.FIELDS:
            if hasattr(record, key):
                out[key] = getattr(record, key)
        if record.exc_info:
            exc_type, _exc, tb = record.exc_info
            out["exc_type"] = getattr(exc_type, "__name__", str(exc_type))
            out["stack"] = [f"{f.filename}:{f.lineno} {f.name}" for f in traceback.extract_tb(tb)][-12:]
        return json.dumps(out, ensure_ascii=False)


def init_logging(app):
    @app.before_request
    def assign_request_id():
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _VALID_ID.match(incoming) else secrets.token_hex(8)
        g.request_started = time.perf_counter()

    @app.after_request
    def log_request(resp):
        rid = g.get("request_id")
        if rid:
            resp.headers["X-Request-ID"] = rid
        if app.config["LOG_FORMAT"] == "json" and request.endpoint not in QUIET_ENDPOINTS:
            started = g.get("request_started")
            request_log.info("request", extra={
                "method": request.method, "status": resp.status_code, "endpoint": request.endpoint or "-",
                "route": request.url_rule.rule if request.url_rule else "-",
                "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None})
        return resp

    if app.config["LOG_FORMAT"] == "json":
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        handler.addFilter(RequestIdFilter())
        root = logging.getLogger()
        root.handlers[:] = [handler]
        root.setLevel(logging.INFO)
        app.logger.handlers[:] = []  # Flask's own handler would print a second, plain copy
        app.logger.propagate = True
        # The development server's access lines carry the client address and the query string.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("portal").setLevel(logging.INFO)
