"""Operations: the health check for load balancers, request ids and structured logs."""
from flask import Blueprint

bp = Blueprint("ops", __name__)

from . import views  # noqa: E402,F401
from .logs import init_logging  # noqa: E402,F401
