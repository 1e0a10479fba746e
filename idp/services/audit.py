"""The audit log: append-only events, each chained to the previous one by SHA-256.

The chain makes tampering detectable: changing or deleting a row breaks the link
of the next one, and ``verify_chain`` reports the first broken link.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any, Callable, Iterator

from sqlalchemy import select

from ..extensions import db
from ..models import AuditEvent, utcnow

GENESIS = "0" * 64

# Called with each event once it is recorded (e.g. metrics counters); a hook must be
# cheap, must not write to the database, and its errors never lose the event.
on_record: list[Callable[[AuditEvent], None]] = []


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


def _lock_chain() -> None:
    """Serialise writers so that two events never claim the same predecessor."""
    bind = db.session.get_bind()
    if bind.dialect.name == "postgresql":
        db.session.execute(db.text("SELECT pg_advisory_xact_lock(7411)"))


def record(
    event_type: str,
    *,
    outcome: str = "success",
    actor: str | None = None,
    subject: str | None = None,
    client: str | None = None,
    ip: str | None = None,
    details: dict[str, Any] | None = None,
    commit: bool = True,
) -> AuditEvent:
    """Append one event. Commits by default so that the event is never lost."""
    _lock_chain()
    last = db.session.execute(
        select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).scalar()
    event = AuditEvent(
        created_at=utcnow(), event_type=event_type, outcome=outcome, actor=actor,
        subject=subject, client=client, ip=ip, details=details or {},
    )
    event.prev_hash = last or GENESIS
    event.hash = _digest(event.prev_hash, event)
    db.session.add(event)
    if commit:
        db.session.commit()
    for hook in on_record:
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
