"""School terms from configuration: TERM_STARTS lists the month-day each term starts
("09-01,02-15"); a term runs until the day before the next one starts."""
from datetime import date, timedelta

from flask import current_app


def _starts():
    out = []
    for part in (current_app.config.get("TERM_STARTS") or "09-01").split(","):
        month, day = (int(x) for x in part.strip().split("-"))
        out.append((month, min(day, 28) if month == 2 else day))  # no term starts on a leap day
    return sorted(set(out))


def term_of(day: date) -> tuple[date, date]:
    """(first day, last day) of the term holding `day`."""
    starts = sorted(date(y, m, d) for y in (day.year - 1, day.year, day.year + 1) for m, d in _starts())
    first = max(s for s in starts if s <= day)
    following = min(s for s in starts if s > day)
    return first, following - timedelta(days=1)


def previous(term):
    return term_of(term[0] - timedelta(days=1))


def following(term):
    return term_of(term[1] + timedelta(days=1))
