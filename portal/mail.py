"""Outgoing mail, when MAIL_SERVER is configured.

Messages say what kind of thing happened and link to the portal; callers never put a student's
name or case content in them. queue() only collects messages on the database session: they are sent
after the transaction commits (and dropped if it rolls back), in a background thread, so a slow or
dead mail server never holds a request, a database lock, or a half-made report.
"""
import logging
import smtplib
import threading
from email.message import EmailMessage

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from .extensions import db

log = logging.getLogger("portal.mail")
CONNECT_TIMEOUT = 5


def queue(to: str | None, subject: str, body: str) -> bool:
    cfg = current_app.config
    if not cfg.get("MAIL_SERVER") or not to:
        return False
    msg = EmailMessage()
    msg["From"] = cfg["MAIL_FROM"]
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    db.session.connection()  # the message belongs to the current transaction: begin it if needed
    outbox = db.session.info.setdefault("outbox", {"server": (cfg["MAIL_SERVER"], cfg["MAIL_PORT"]),
                                                   "async": cfg.get("MAIL_ASYNC", True), "messages": []})
    outbox["messages"].append(msg)
    return True


def _send_all(server, messages):
    try:
        with smtplib.SMTP(*server, timeout=CONNECT_TIMEOUT) as smtp:
            for msg in messages:
                smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        # The in-app alert stands; mail is a second channel. Log the failure, never the message.
        log.warning("%d message(s) could not be sent: %s", len(messages), exc.__class__.__name__)


@event.listens_for(Session, "after_commit")
def _after_commit(session):
    outbox = session.info.pop("outbox", None)
    if not outbox:
        return
    if outbox["async"]:
        threading.Thread(target=_send_all, args=(outbox["server"], outbox["messages"]), daemon=True).start()
    else:
        _send_all(outbox["server"], outbox["messages"])


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session, previous_transaction):
    session.info.pop("outbox", None)  # nothing happened, so nobody is told
