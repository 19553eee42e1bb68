"""Referrals to outside agencies: the directory, consent, referrals tracked to an outcome."""
from flask import Blueprint

bp = Blueprint("referrals", __name__)

from . import views  # noqa: E402,F401
