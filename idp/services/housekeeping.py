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
    PasswordResetToken,
    SessionClient,
    SsoSession,
    Token,
    UsedJti,
    utcnow,
)

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
        deleted = db.session.execute(
            delete(model).where(model.id.in_(_ids(model, condition, batch_size).scalar_subquery()))
            .execution_options(synchronize_session=False)
        ).rowcount
        db.session.commit()
        total += deleted
        if deleted < batch_size:
            break
    return total


def _purge_sessions(before: datetime, batch_size: int) -> int:
    """Delete sessions ended before ``before``, detaching what still points at them."""
    total = 0
    for _ in range(MAX_BATCHES):
        ids = db.session.execute(
            _ids(SsoSession, SsoSession.ended_at < before, batch_size)
        ).scalars().all()
        if not ids:
            db.session.commit()
            break
        # Explicit rather than ON DELETE: SQLite does not enforce foreign keys by default.
        for model in (Token, AuthorizationCode):
            db.session.execute(update(model).where(model.session_id.in_(ids))
                               .values(session_id=None).execution_options(synchronize_session=False))
        db.session.execute(delete(SessionClient).where(SessionClient.session_id.in_(ids))
                           .execution_options(synchronize_session=False))
        total += db.session.execute(delete(SsoSession).where(SsoSession.id.in_(ids))
                                    .execution_options(synchronize_session=False)).rowcount
        db.session.commit()
        if len(ids) < batch_size:
            break
    return total


def expired_token_condition(cutoff: datetime) -> Any:
    """Token rows no longer needed: the access token expired before ``cutoff`` and the
    refresh token too, or it was revoked, before ``cutoff`` (or there is none)."""
    refresh_done = or_(Token.refresh_expires_at.is_(None), Token.refresh_expires_at < cutoff,
                       Token.revoked_at < cutoff)
    return and_(Token.access_expires_at < cutoff, refresh_done)


def purge_expired(batch_size: int = 500, now: datetime | None = None) -> dict[str, int]:
    """Delete expired grants, used jtis, reset links, old sessions and delivered logouts.

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
    return counts
