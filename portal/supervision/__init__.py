"""Supervision management: the line (tree, policy, moves, hand-overs), supervision sessions and
their action items, growth plans and performance reviews."""
from flask import Blueprint

bp = Blueprint("supervision", __name__, url_prefix="/supervision")

from . import views, development_views  # noqa: E402,F401
