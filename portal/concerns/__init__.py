"""Concern reports: teachers report in under a minute; social workers triage."""
from flask import Blueprint

bp = Blueprint("concerns", __name__, url_prefix="/concerns")

from . import views  # noqa: E402,F401
