"""Record requests: a student's record exported for a guardian's or the student's own request."""
from flask import Blueprint

bp = Blueprint("records", __name__)

from . import views  # noqa: E402,F401
