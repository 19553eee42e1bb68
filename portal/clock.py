"""The one source of "now", so tests can move time (follow-ups, idle timeout, escalations)."""
from datetime import datetime, timezone

_frozen = None


def now() -> datetime:
    """Naive UTC: stored that way on SQLite and PostgreSQL alike; shown in the user's zone."""
    if _frozen is not None:
        return _frozen
    return datetime.now(timezone.utc).replace(tzinfo=None)


def freeze(moment):
    """Test helper: pin the clock (None releases it)."""
    global _frozen
    _frozen = moment
