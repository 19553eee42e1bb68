"""Students: live search scoped to the user's schools, the student record, CSV import."""
from flask import Blueprint

bp = Blueprint("students", __name__, url_prefix="/students")

from . import views  # noqa: E402,F401
