"""Reports with charts and CSV export, from a registry features add to (see registry.py)."""
from flask import Blueprint

bp = Blueprint("reports", __name__, url_prefix="/reports")

from . import builtin, views  # noqa: E402,F401
