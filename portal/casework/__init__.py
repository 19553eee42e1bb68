"""The case work cycle: service records, case plans, and the supervisors' review queue."""
from flask import Blueprint

bp = Blueprint("casework", __name__)

from . import views  # noqa: E402,F401
