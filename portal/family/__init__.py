"""Family liaison: family members and contact restrictions, the contact log, home visits."""
from flask import Blueprint

bp = Blueprint("family", __name__)

from . import views  # noqa: E402,F401
