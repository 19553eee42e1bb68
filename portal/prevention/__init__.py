"""Prevention and mental-health education: activities, the term calendar and their figures."""
from flask import Blueprint

bp = Blueprint("prevention", __name__)

from . import reports, views  # noqa: E402,F401
