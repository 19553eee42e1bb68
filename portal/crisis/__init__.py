"""Crisis intervention: alerts up the line, the protocol, risk screens, safety plans, follow-ups."""
from flask import Blueprint

bp = Blueprint("crisis", __name__)

from . import views  # noqa: E402,F401
