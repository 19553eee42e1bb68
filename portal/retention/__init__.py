"""Retention: the rules that make records due for erasure, legal holds, crypto-erasure."""
from flask import Blueprint

bp = Blueprint("retention", __name__)

from . import views  # noqa: E402,F401
