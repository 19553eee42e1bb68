"""The case timeline: one mechanism every feature writes to.

A feature calls add(case, kind, ...) and registers how its kind reads with summary(kind).
Entries are ordered by when things happened (occurred_at), not when they were typed.
"""
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .. import clock
from ..crypto import new_uid, preload_data_keys
from ..extensions import db
from ..i18n import label
from ..models import TimelineEntry

_SUMMARIES = {}


def summary(kind):
    """Decorator: register the one-line, translated summary of a kind of entry."""
    def deco(fn):
        _SUMMARIES[kind] = fn
        return fn
    return deco


def describe(entry) -> str:
    fn = _SUMMARIES.get(entry.kind)
    return str(fn(entry.params or {})) if fn else entry.kind


def add(case, kind, *, actor, occurred_at=None, params=None, detail=None, ref=None):
    entry = TimelineEntry(uid=new_uid(), case=case, kind=kind, actor=actor,
                          occurred_at=occurred_at or clock.now(), params=params or {})
    if ref is not None:
        entry.ref_type, entry.ref_id = ref.__tablename__, ref.id
    if detail:
        entry.detail = detail
    db.session.add(entry)
    return entry


def page_of(case, page: int, per_page: int):
    stmt = (select(TimelineEntry).where(TimelineEntry.case_id == case.id)
            .options(selectinload(TimelineEntry.actor))
            .order_by(TimelineEntry.occurred_at.desc(), TimelineEntry.id.desc()))
    result = db.paginate(stmt, page=page, per_page=per_page, error_out=False)
    preload_data_keys({case.data_key_id})
    return result


# -- the foundation's own kinds ----------------------------------------------------------------

@summary("case_opened")
def _opened(p):
    return _l("Case opened and assigned to %(worker)s", worker=p.get("worker", ""))


@summary("status_changed")
def _status(p):
    return _l("Status changed from %(old)s to %(new)s",
              old=label("case_status", p.get("old")), new=label("case_status", p.get("new")))


@summary("case_reopened")
def _reopened(p):
    return _l("Case reopened")


@summary("risk_changed")
def _risk(p):
    return _l("Risk level changed from %(old)s to %(new)s",
              old=label("risk", p.get("old")), new=label("risk", p.get("new")))


@summary("worker_assigned")
def _assigned(p):
    return _l("Case reassigned from %(old)s to %(new)s", old=p.get("old", ""), new=p.get("new", ""))


@summary("member_added")
def _member_added(p):
    return _l("%(name)s joined the case team", name=p.get("name", ""))


@summary("member_removed")
def _member_removed(p):
    return _l("%(name)s left the case team", name=p.get("name", ""))
