"""Confidential notes, encrypted attachments, break-the-glass access and the case's read log."""
from flask import Blueprint

bp = Blueprint("notes", __name__, url_prefix="/cases/<int:case_id>")

from . import views  # noqa: E402,F401
