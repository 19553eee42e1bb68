"""Sign-in, sign-out, password change, language choice; the login-session loader."""
from flask import Blueprint

bp = Blueprint("auth", __name__)

from . import views  # noqa: E402,F401
from .services import init_login  # noqa: E402,F401
