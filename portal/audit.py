"""Append-only, hash-chained audit log.

Every state change and every read of confidential content calls record() inside the same
transaction as the change, so an event exists exactly when the change does. Each event's hash
covers its fields and the previous hash; verify() walks the chain and reports the first break
(an edited field, a deleted row, a truncated tail). Details never hold confidential text.
"""
import hashlib
import json

from flask import g, has_request_context, request
from flask_login import current_user
from sqlalchemy import select, update

from . import clock
from .extensions import db
from .models import AuditEvent, AuditHead

GENESIS = "0" * 64
# Work the portal does on its own (escalations, reminders), whoever's request happened to run it.
SYSTEM = object()


def _digest(ev: AuditEvent) -> str:
    payload = json.dumps(
        [ev.seq, ev.at.isoformat(timespec="microseconds"), ev.actor_id, ev.actor_username,
         ev.action, ev.object_type, ev.object_id, ev.ip, ev.details or {}, ev.prev_hash],
        sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _current_actor():
    if has_request_context() and current_user and current_user.is_authenticated:
        return current_user
    return None


def record(action: str, obj=None, *, actor=None, object_type=None, object_id=None, details=None):
    """Append one event. Flushes; the caller's commit makes it permanent with its change."""
    system = actor is SYSTEM
    actor = None if system else (actor or _current_actor())
    if obj is not None:
        object_type = object_type or obj.__tablename__
        object_id = object_id if object_id is not None else obj.id
    ip = request.remote_addr if has_request_context() else None
    # Take the head row's write lock before reading it, so two writers cannot fork the chain.
    bumped = db.session.execute(
        update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1)).rowcount
    if not bumped:
        db.session.add(AuditHead(id=1, seq=1, last_hash=GENESIS))
        db.session.flush()
    head = db.session.execute(
        select(AuditHead).where(AuditHead.id == 1).execution_options(populate_existing=True)
    ).scalar_one()
    ev = AuditEvent(
        seq=head.seq, at=clock.now(), actor_id=actor.id if actor else None,
        actor_username=actor.username if actor else ("system" if system else None), action=action,
        object_type=object_type, object_id=None if object_id is None else str(object_id),
        ip=ip, details=details or {}, prev_hash=head.last_hash,
    )
    ev.hash = _digest(ev)
    head.last_hash = ev.hash
    db.session.add(ev)
    db.session.flush()
    if has_request_context():
        g.setdefault("audit_actions", []).append(action)
    return ev


def verify(batch: int = 1000):
    """Return (ok, events_checked, problem) where problem names the first broken link."""
    prev_hash, expected_seq, count = GENESIS, 1, 0
    stmt = select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=batch)
    result = db.session.scalars(stmt)
    try:
        for ev in result:
            if ev.seq != expected_seq:
                return False, count, f"event #{expected_seq} is missing (next present is #{ev.seq})"
            if ev.prev_hash != prev_hash:
                return False, count, f"event #{ev.seq} does not follow event #{ev.seq - 1}"
            if _digest(ev) != ev.hash:
                return False, count, f"event #{ev.seq} was altered after it was written"
            prev_hash, expected_seq, count = ev.hash, expected_seq + 1, count + 1
    finally:
        result.close()  # a server-side cursor on PostgreSQL
    head = db.session.get(AuditHead, 1)
    if head is not None and (head.seq != count or head.last_hash != prev_hash):
        return False, count, f"the chain ends at #{count} but {head.seq} events were written"
    return True, count, None
