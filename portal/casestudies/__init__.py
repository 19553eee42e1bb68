"""De-identified case studies for learning with peers (案例交流): drafted from a case, reviewed by
the author, approved by a supervisor before anyone may download or share them."""
from flask import Blueprint

bp = Blueprint("casestudies", __name__)

from . import views  # noqa: E402,F401
