"""Production server settings: gunicorn -c gunicorn.conf.py wsgi:app

Run behind a TLS-terminating proxy (nginx, a load balancer) and set PORTAL_PROXY_HOPS=1 so the
portal sees the client's address (login throttling and the audit trail depend on it).
"""
import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
timeout = 60
graceful_timeout = 30
keepalive = 5
# Bound request sizes (uploads are capped in the app too).
limit_request_line = 4094
limit_request_field_size = 8190
# Access log with the path only: a query string may carry a searched student name.
accesslog = "-"
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)s'
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
# PORTAL_LOG_FORMAT=json: the portal logs each request itself (route pattern, status, duration,
# request id; no address, no query string), so gunicorn's access log is off and its own messages
# use the same JSON lines.
if os.environ.get("PORTAL_LOG_FORMAT") == "json":
    accesslog = None
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "portal.ops.logs.JsonFormatter"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json",
                                 "stream": "ext://sys.stderr"}},
        "root": {"level": "INFO", "handlers": ["console"]},
        "loggers": {"gunicorn.error": {"level": "INFO", "handlers": ["console"], "propagate": False}},
    }
# Trust X-Forwarded-* only from the local proxy.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
