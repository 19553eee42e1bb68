"""Alerts and notifications: raised by features, shown live on every page, acknowledged."""
from flask import Blueprint

bp = Blueprint("alerts", __name__)

from . import views  # noqa: E402,F401
