"""The audit log: append-only events, chained by SHA-256 off the request path.

A request appends an event with a plain INSERT: no lock, no read of the chain's head,
so token issuance on any number of nodes never waits on another request. The event is
durable from that commit on, but not yet *sealed*: its chain fields are NULL.

The sealer (:func:`seal`, run by ``idp worker``; one active across nodes, by the lease
row) takes the unsealed events in id order, gives each the next place in the chain
(``seq``), its predecessor's hash and its own, and now and then writes a checkpoint:
the head's place and hash signed with ``IDP_AUDIT_KEY`` (HMAC-SHA256), a key that the
database does not hold. :func:`verify` checks every link and every checkpoint, so a
changed, deleted (the newest too) or reordered event is reported once a checkpoint
covers it, and a chain recomputed inside the database no longer matches the signed
head. Events committed but not yet sealed are counted and reported as not covered.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Iterator

from flask import Flask, current_app
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import AuditCheckpoint, AuditEvent, AuditSealerLease, utcnow

GENESIS = "0" * 64

SEAL_BATCH = 500  # events linked per sealer transaction (short: SQLite has one writer)
CHECKPOINT_EVERY = timedelta(seconds=10)  # at most one checkpoint this often while sealing
LEASE_TTL = timedelta(seconds=30)  # a sealer that stops renewing is replaced after this
_LEASE_ID = 1

RecordHook = Callable[[AuditEvent], None]
_ON_RECORD = "idp.audit.on_record"
_COLUMNS = ("id", "created_at", "event_type", "outcome", "actor", "subject", "client", "ip",
            "details", "seq", "prev_hash", "hash")

log = logging.getLogger("idp.audit")


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
    """Append one event to the caller's transaction: one INSERT, no lock, no read of
    the chain head, never committed here.

    The event is kept or lost with the action it records: the request's, command's or
    worker step's boundary commits both (``idp.services.database``); the sealer chains it
    after that commit.
    """
    event = AuditEvent(created_at=utcnow(), event_type=event_type, outcome=outcome,
                       actor=actor, subject=subject, client=client, ip=ip,
                       details=details or {})
    db.session.add(event)
    db.session.flush()  # its id is known to the hooks; the caller's boundary commits it
    for hook in current_app.extensions.get(_ON_RECORD, ()):
        try:
            hook(event)
        except Exception:  # noqa: BLE001  (an observer must not break the caller)
            log.exception("audit hook failed")
    return event


# -- the sealer --------------------------------------------------------------------------

def new_holder() -> str:
    """A name for one sealer, unique across nodes and processes."""
    return f"sealer-{uuid.uuid4().hex}"


def _take_lease(holder: str, now: datetime) -> bool:
    """Take or renew the one sealer lease inside the current transaction.

    The conditional UPDATE locks the lease row until commit (PostgreSQL; SQLite's write
    lock does the same), so a second sealer waits for the first batch to end and then
    finds the lease held. The unique ``seq`` and ``prev_hash`` are the last line: even a
    sealer whose lease ran out unnoticed cannot store a fork.
    """
    taken = db.session.execute(
        update(AuditSealerLease)
        .where(AuditSealerLease.id == _LEASE_ID,
               or_(AuditSealerLease.holder == holder, AuditSealerLease.expires_at < now))
        .values(holder=holder, expires_at=now + LEASE_TTL)
    ).rowcount
    if taken:
        return True
    if db.session.get(AuditSealerLease, _LEASE_ID) is not None:
        return False
    try:
        with db.session.begin_nested():
            db.session.add(AuditSealerLease(id=_LEASE_ID, holder=holder,
                                            expires_at=now + LEASE_TTL))
    except IntegrityError:  # another sealer created it first
        return False
    return True


def release(holder: str) -> None:
    """Give the lease up at once (a stopping worker), so another sealer need not wait."""
    db.session.execute(
        update(AuditSealerLease)
        .where(AuditSealerLease.id == _LEASE_ID, AuditSealerLease.holder == holder)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()


def _head() -> tuple[int, str]:
    row = db.session.execute(
        select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.seq.is_not(None))
        .order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    return (row.seq, row.hash) if row else (0, GENESIS)


def _seal_batch(holder: str) -> int | None:
    """Link one batch of unsealed events; None when another sealer holds the lease."""
    if not _take_lease(holder, utcnow()):
        db.session.rollback()
        return None
    seq, prev = _head()
    events = db.session.execute(
        select(AuditEvent).where(AuditEvent.hash.is_(None))
        .order_by(AuditEvent.id).limit(SEAL_BATCH)
    ).scalars().all()
    # In id order, not commit order: an event that commits late simply takes a later place.
    for event in events:
        seq += 1
        event.seq, event.prev_hash = seq, prev
        event.hash = prev = _digest(prev, event)
    db.session.commit()
    return len(events)


def sign_checkpoint(seq: int, head_hash: str, created_at: datetime, key: str) -> str:
    """HMAC-SHA256 of the checkpoint with IDP_AUDIT_KEY."""
    message = f"idp-audit-checkpoint:v1:{seq}:{head_hash}:" \
              f"{created_at.isoformat(timespec='microseconds')}"
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


def _checkpoint(holder: str, force: bool) -> AuditCheckpoint | None:
    """Sign the head if it moved since the last checkpoint (and that one is old enough)."""
    now = utcnow()
    if not _take_lease(holder, now):
        db.session.rollback()
        return None
    seq, head = _head()
    last = db.session.execute(
        select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(1)
    ).scalar()
    if seq == 0 or (last is not None and (
            last.seq == seq or (not force and now - last.created_at < CHECKPOINT_EVERY))):
        db.session.commit()
        return None
    point = AuditCheckpoint(seq=seq, head_hash=head, created_at=now,
                            signature=sign_checkpoint(seq, head, now,
                                                      current_app.config["AUDIT_KEY"]))
    db.session.add(point)
    db.session.commit()
    # A copy outside the database: the log shows what the newest checkpoint should be.
    log.info("audit checkpoint seq=%d head=%s at=%s signature=%s",
             seq, head, now.isoformat(), point.signature)
    return point


@dataclass
class SealResult:
    sealed: int = 0
    checkpoint: AuditCheckpoint | None = None
    held_elsewhere: bool = False  # another sealer holds the lease: this one did nothing


def seal(holder: str | None = None, *, force_checkpoint: bool = False) -> SealResult:
    """Chain every unsealed event, then checkpoint the head (at most every 10 seconds,
    or at once with ``force_checkpoint``). Only the lease holder does anything.

    A worker passes its own ``holder`` and keeps the lease from pass to pass; without
    one this is a one-shot seal that gives the lease back when done.
    """
    one_shot = holder is None
    holder = holder or new_holder()
    result = SealResult()
    while True:
        sealed = _seal_batch(holder)
        if sealed is None:
            result.held_elsewhere = True
            return result
        result.sealed += sealed
        if sealed < SEAL_BATCH:
            break
    result.checkpoint = _checkpoint(holder, force_checkpoint)
    if one_shot:
        release(holder)
    return result


# -- verification ------------------------------------------------------------------------

def iter_events(batch: int = 1000) -> Iterator[AuditEvent]:
    """The sealed events in chain order."""
    last = 0
    while True:
        rows = db.session.execute(
            select(AuditEvent).where(AuditEvent.seq > last)
            .order_by(AuditEvent.seq).limit(batch)
        ).scalars().all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def verify_chain() -> tuple[int, AuditEvent | None, str]:
    """Check every link of the sealed events (not the checkpoints: see :func:`verify`).

    Returns (events checked, first bad event or None, reason).
    """
    prev, count = GENESIS, 0
    for event in iter_events():
        count += 1
        if event.seq != count or event.prev_hash != prev:
            return count, event, "the previous event was changed, deleted or moved"
        if _digest(prev, event) != event.hash:
            return count, event, "this event was changed"
        prev = event.hash
    return count, None, ""


@dataclass
class Report:
    sealed: int = 0  # sealed events whose links were checked
    unsealed: int = 0  # committed, not yet chained: no check covers them yet
    covered: int = 0  # chain position of the newest checkpoint that verified
    checkpoints: int = 0
    bad: AuditEvent | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _check_checkpoints(report: Report, key: str) -> None:
    """Each checkpoint: signed with the key, and its position still holds its hash."""
    rows = db.session.execute(
        select(AuditCheckpoint, AuditEvent.hash)
        .outerjoin(AuditEvent, AuditEvent.seq == AuditCheckpoint.seq)
        .order_by(AuditCheckpoint.id)
    )
    for point, stored in rows:
        report.checkpoints += 1
        named = f"checkpoint {point.id} ({point.created_at:%Y-%m-%d %H:%M:%S}Z)"
        expected = sign_checkpoint(point.seq, point.head_hash, point.created_at, key)
        if not hmac.compare_digest(expected, point.signature):
            report.problems.append(f"{named} is not signed with IDP_AUDIT_KEY: it was forged "
                                   "or changed in the database")
        elif stored is None:
            report.problems.append(f"{named} names position {point.seq}, which no longer "
                                   "exists: events up to it were deleted")
        elif stored != point.head_hash:
            report.problems.append(f"{named} names another event at position {point.seq}: "
                                   "events up to it were changed or the chain recomputed")
        elif report.bad is None or point.seq < report.bad.seq:
            report.covered = max(report.covered, point.seq)


def verify() -> Report:
    """Check every link and every checkpoint; count what is not covered yet."""
    report = Report()
    count, bad, reason = verify_chain()
    report.sealed = count if bad is None else count - 1
    if bad is not None:
        report.bad = bad
        report.problems.append(
            f"chain broken at event {bad.id} (position {bad.seq}, {bad.event_type}, "
            f"{bad.created_at:%Y-%m-%d %H:%M:%S}Z): {reason}")
    _check_checkpoints(report, current_app.config["AUDIT_KEY"])
    report.unsealed = db.session.execute(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.hash.is_(None))
    ).scalar_one()
    return report
