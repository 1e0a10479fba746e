"""Housekeeping: delete what has expired, in small batches, each its own transaction.

Each batch is ``DELETE ... WHERE id IN (SELECT id ... LIMIT n)`` and commits at
once, so that no statement holds locks for long and the provider keeps serving
while a large backlog drains.  Audit events are never deleted (their hash chain
is the record).  ``idp worker`` calls :func:`purge_expired` once a minute (it also
ends timed-out sessions, see ``logout.end_timed_out_sessions``, which this module
leaves alone); ``idp housekeeping`` runs it once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, delete, or_, select, update

from ..extensions import db
from ..models import (
    AuthorizationCode,
    LogoutDelivery,
    OutgoingMail,
    PasswordResetToken,
    SessionClient,
    SsoSession,
    ThrottleCounter,
    Token,
    UsedJti,
    User,
    utcnow,
)
from . import audit, throttle
from .database import unit_of_work

# Batches of one kind run per call at most; what is left waits for the next call, so
# that one call never holds the worker for long.
MAX_BATCHES = 20


def _ids(model: Any, condition: Any, batch_size: int):
    query = select(model.id).where(condition).order_by(model.id).limit(batch_size)
    if db.session.get_bind().dialect.name == "postgresql":
        # Two workers purging at once take different rows rather than wait on each other.
        query = query.with_for_update(skip_locked=True)
    return query


def _purge(model: Any, condition: Any, batch_size: int) -> int:
    """Delete the rows matching ``condition`` batch by batch; return how many went."""
    total = 0
    for _ in range(MAX_BATCHES):
        with unit_of_work():  # one batch, one short transaction: locks are held briefly
            deleted = db.session.execute(
                delete(model).where(model.id.in_(_ids(model, condition, batch_size).scalar_subquery()))
                .execution_options(synchronize_session=False)
            ).rowcount
        total += deleted
        if deleted < batch_size:
            break
    return total


def _purge_sessions(before: datetime, batch_size: int) -> int:
    """Delete sessions ended before ``before``, detaching what still points at them."""
    total = 0
    for _ in range(MAX_BATCHES):
        with unit_of_work():  # one batch, one short transaction
            ids = db.session.execute(
                _ids(SsoSession, SsoSession.ended_at < before, batch_size)
            ).scalars().all()
            if ids:
                total += _delete_sessions(ids)
        if len(ids) < batch_size:
            break
    return total


def _delete_sessions(ids: list[int]) -> int:
    # Explicit rather than ON DELETE: SQLite does not enforce foreign keys by default.
    for model in (Token, AuthorizationCode):
        db.session.execute(update(model).where(model.session_id.in_(ids))
                           .values(session_id=None).execution_options(synchronize_session=False))
    db.session.execute(delete(SessionClient).where(SessionClient.session_id.in_(ids))
                       .execution_options(synchronize_session=False))
    return db.session.execute(delete(SsoSession).where(SsoSession.id.in_(ids))
                              .execution_options(synchronize_session=False)).rowcount


def _stale_counter_condition(now: datetime) -> Any:
    """Counter rows whose window is over and whose hold (if any) has run out."""
    cfg = current_app.config
    key, started = ThrottleCounter.key, ThrottleCounter.window_started_at
    special = [(key.like(prefix + "%"), window(cfg)) for prefix, window in throttle.WINDOWS.items()]
    over = [and_(match, started < now - timedelta(seconds=seconds)) for match, seconds in special]
    default = and_(*[~match for match, _ in special],
                   started < now - timedelta(seconds=cfg["LOCKOUT_SECONDS"]))
    unheld = or_(ThrottleCounter.locked_until.is_(None), ThrottleCounter.locked_until < now)
    return and_(or_(default, *over), unheld)


def _summarise_refusals(rows: list[ThrottleCounter]) -> None:
    """One audit event per aggregated refusal counter (``throttle.first_refusal``) that
    counted more than the one attempt already audited."""
    for row in rows:
        if not row.key.startswith(throttle.AUDIT_PREFIX) or row.failures <= 1:
            continue
        reason, _index, key = row.key[len(throttle.AUDIT_PREFIX):].split(":", 2)
        subject = None
        if key.startswith("user:") and key[5:].isdigit():
            user = db.session.get(User, int(key[5:]))
            subject = user.username if user else None
        audit.record("login.refused", outcome="failure", actor="system", subject=subject,
                     ip=key[3:] if key.startswith("ip:") else None,
                     details={"reason": reason, "key": key, "count": row.failures,
                              "since": row.window_started_at.isoformat(timespec="seconds")})


def _purge_counters(now: datetime, batch_size: int) -> int:
    """Delete the lockout / rate counters that no longer count (summarising refusals)."""
    total = 0
    for _ in range(MAX_BATCHES):
        query = (select(ThrottleCounter).where(_stale_counter_condition(now))
                 .order_by(ThrottleCounter.key).limit(batch_size))
        if db.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        with unit_of_work():  # the summaries and the deletion together
            rows = db.session.execute(query).scalars().all()
            if rows:
                _summarise_refusals(rows)
                keys = [row.key for row in rows]
                total += db.session.execute(
                    delete(ThrottleCounter).where(ThrottleCounter.key.in_(keys))
                    .execution_options(synchronize_session=False)).rowcount
        if len(rows) < batch_size:
            break
    return total


def expired_token_condition(cutoff: datetime) -> Any:
    """Token rows no longer needed: the access token expired before ``cutoff`` and the
    refresh token too, or it was revoked, before ``cutoff`` (or there is none)."""
    refresh_done = or_(Token.refresh_expires_at.is_(None), Token.refresh_expires_at < cutoff,
                       Token.revoked_at < cutoff)
    return and_(Token.access_expires_at < cutoff, refresh_done)


def purge_expired(batch_size: int = 500, now: datetime | None = None) -> dict[str, int]:
    """Delete expired grants, used jtis, reset links, old sessions, delivered logouts,
    stale lockout counters and given-up mail.

    Returns the number of rows ended or deleted, by kind.
    """
    cfg = current_app.config
    now = now or utcnow()
    cutoff = now - timedelta(seconds=cfg["HOUSEKEEPING_MARGIN"])
    counts = {"codes": _purge(AuthorizationCode, AuthorizationCode.expires_at < cutoff, batch_size)}
    counts["tokens"] = _purge(Token, expired_token_condition(cutoff), batch_size)
    counts["used_jtis"] = _purge(UsedJti, UsedJti.expires_at < cutoff, batch_size)
    counts["password_reset_tokens"] = _purge(
        PasswordResetToken, PasswordResetToken.expires_at < cutoff, batch_size)
    counts["sessions"] = _purge_sessions(
        now - timedelta(seconds=cfg["HOUSEKEEPING_SESSION_RETENTION"]), batch_size)
    counts["logout_deliveries"] = _purge(
        LogoutDelivery,
        and_(LogoutDelivery.status == "delivered",
             LogoutDelivery.delivered_at < now - timedelta(
                 seconds=cfg["HOUSEKEEPING_OUTBOX_RETENTION"])),
        batch_size,
    )
    counts["throttle_counters"] = _purge_counters(now, batch_size)
    counts["mail_outbox"] = _purge(
        OutgoingMail,
        and_(OutgoingMail.status == "failed", OutgoingMail.created_at < now - timedelta(
            seconds=cfg["HOUSEKEEPING_OUTBOX_RETENTION"])),
        batch_size,
    )
    return counts
