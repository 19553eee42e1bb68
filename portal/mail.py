"""Outgoing mail, when MAIL_SERVER is configured. Messages say what kind of thing happened and
link to the portal; callers never put a student's name or case content in them."""
import logging
import smtplib
from email.message import EmailMessage

from flask import current_app

log = logging.getLogger("portal.mail")


def send(to: str | None, subject: str, body: str) -> bool:
    server = current_app.config.get("MAIL_SERVER")
    if not server or not to:
        return False
    msg = EmailMessage()
    msg["From"] = current_app.config["MAIL_FROM"]
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    try:
        with smtplib.SMTP(server, current_app.config["MAIL_PORT"], timeout=10) as smtp:
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        # The in-app alert stands; mail is a second channel. Log the failure, never the message.
        log.warning("mail to a user could not be sent: %s", exc.__class__.__name__)
        return False
    return True
