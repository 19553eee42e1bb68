"""Group work with students: groups, sessions with attendance, observations on members' cases."""
from flask import Blueprint

bp = Blueprint("groups", __name__)

from . import views  # noqa: E402,F401
