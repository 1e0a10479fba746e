"""The audit log: append-only events, each chained to the previous one by SHA-256.

The chain makes tampering detectable: changing or deleting a row breaks the link
of the next one, and ``verify_chain`` reports the first broken link.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any, Callable, Iterable, Iterator

from flask import Flask, current_app
from sqlalchemy import select

from ..extensions import db
from ..models import AuditEvent, utcnow

GENESIS = "0" * 64

RecordHook = Callable[[AuditEvent], None]
_ON_RECORD = "idp.audit.on_record"


def init_app(app: Flask, *, on_record: Iterable[RecordHook]) -> None:
    """Set what is called with each event once recorded (``create_app`` does: metrics).

    A hook must be cheap and must not write to the database; its errors never lose
    the event.
    """
    app.extensions[_ON_RECORD] = tuple(on_record)


def _digest(prev_hash: str, event: AuditEvent) -> str:
    body = json.dumps(
        {
            "prev": prev_hash,
            "at": event.created_at.isoformat(timespec="microseconds"),
            "type": event.event_type,
            "outcome": event.outcome,
            "actor": event.actor,
            "subject": event.subject,
            "client": event.client,
            "ip": event.ip,
            "details": event.details or {},
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()


# One writer at a time extends the chain. PostgreSQL: a transaction-scoped advisory lock.
# SQLite: a write that changes nothing takes the database's one write lock (held until the
# transaction ends), so the head read next is the latest and no other writer can move it.
_LOCKS = {
    "postgresql": db.text("SELECT pg_advisory_xact_lock(7411)"),
    "sqlite": db.text("UPDATE audit_events SET id = id WHERE id = -1"),
}
_HEAD = select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
_COLUMNS = ("id", "created_at", "event_type", "outcome", "actor", "subject", "client", "ip",
            "details", "prev_hash", "hash")


def _lock_chain() -> None:
    """Serialise writers so that two events never claim the same predecessor.

    The unique constraint on ``prev_hash`` is the last line: a fork cannot be stored.
    """
    lock = _LOCKS.get(db.session.get_bind().dialect.name)
    if lock is not None:
        db.session.execute(lock)


def _append(values: dict[str, Any]) -> AuditEvent:
    _lock_chain()
    event = AuditEvent(**values)
    event.prev_hash = db.session.execute(_HEAD).scalar() or GENESIS
    event.hash = _digest(event.prev_hash, event)
    db.session.add(event)
    return event


def record(
    event_type: str,
    *,
    outcome: str = "success",
    actor: str | None = None,
    subject: str | None = None,
    client: str | None = None,
    ip: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the caller's transaction (never committed here).

    The event is kept or lost with the action it records: the request's, command's or
    worker step's boundary commits both (``idp.services.database``). The chain stays
    locked until that boundary commits or rolls back.
    """
    values = dict(created_at=utcnow(), event_type=event_type, outcome=outcome, actor=actor,
                  subject=subject, client=client, ip=ip, details=details or {})
    event = _append(values)
    db.session.flush()  # its id is known to the hooks; the caller's boundary commits it
    for hook in current_app.extensions.get(_ON_RECORD, ()):
        try:
            hook(event)
        except Exception:  # noqa: BLE001  (an observer must not break the caller)
            logging.getLogger("idp.audit").exception("audit hook failed")
    return event


def iter_events(batch: int = 1000) -> Iterator[AuditEvent]:
    last_id = 0
    while True:
        rows = db.session.execute(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch)
        ).scalars().all()
        if not rows:
            return
        yield from rows
        last_id = rows[-1].id


def verify_chain() -> tuple[int, AuditEvent | None, str]:
    """Check every link. Returns (events checked, first bad event or None, reason)."""
    prev = GENESIS
    count = 0
    for event in iter_events():
        count += 1
        if event.prev_hash != prev:
            return count, event, "the previous event was changed or deleted"
        if _digest(prev, event) != event.hash:
            return count, event, "this event was changed"
        prev = event.hash
    return count, None, ""
