"""Deliver back-channel logouts from the outbox (OIDC Back-Channel Logout 1.0).

Rows are written by :mod:`idp.services.logout` in the transaction that ends a
session. Here a worker claims due rows, signs a fresh logout token for each,
POSTs it, and records the outcome: delivered, retried later with exponential
backoff, or given up after ``IDP_LOGOUT_MAX_ATTEMPTS`` or ``IDP_LOGOUT_MAX_AGE``.

Several workers may run at once (an ``idp worker`` process per node, the inline
thread, the immediate-delivery thread): a claim moves the row's
``next_attempt_at`` forward by a lease in one statement, so each attempt is
made by exactly one of them, and a worker that dies mid-attempt only delays
the row until the lease runs out.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Iterable

from flask import Flask, current_app

from ..extensions import db
from ..models import Client, LogoutDelivery, utcnow
from ..models._base import random_id
from . import audit, keys, outbound, outbox
from .database import unit_of_work

log = logging.getLogger("idp.logout")

# OIDC Back-Channel Logout 1.0 §2.4: the event that makes a JWT a logout token.
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
# §2.4: "explicit typing of Logout Tokens is RECOMMENDED" with typ logout+jwt.
LOGOUT_TYP = "logout+jwt"
# A claimed row is not offered to another worker for this long (longer than an attempt).
LEASE = timedelta(seconds=60)
BATCH = 20
PARALLEL = 8  # deliveries in flight at once per worker (each holds a database connection)


@dataclass(frozen=True)
class Outcome:
    """What one delivery attempt did, for the caller's logs and tests."""

    delivery_id: int
    status: str  # delivered, pending (will retry) or failed (given up)
    attempts: int
    error: str | None = None


def logout_token(client: Client, *, sid: str | None, sub: str | None) -> str:
    """A signed logout token for one client (Back-Channel Logout 1.0 §2.4)."""
    cfg = current_app.config
    now = int(utcnow().timestamp())
    claims: dict = {
        "iss": cfg["ISSUER"],
        "aud": client.client_id,
        "iat": now,
        "exp": now + cfg["LOGOUT_TOKEN_TTL"],
        "jti": random_id(16),
        "events": {BACKCHANNEL_EVENT: {}},
    }
    # §2.4: a logout token MUST contain sub or sid, and MAY contain both. §2.2: a client
    # with backchannel_logout_session_required needs the sid. It MUST NOT contain a nonce.
    if sub:
        claims["sub"] = sub
    if sid and (client.backchannel_logout_session_required or not sub):
        claims["sid"] = sid
    alg = client.id_token_signed_response_alg
    return keys.sign(claims, alg=alg if alg in keys.SUPPORTED_ALGS else "RS256", typ=LOGOUT_TYP)


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff: base, 2·base, 4·base ... capped at IDP_LOGOUT_RETRY_MAX."""
    cfg = current_app.config
    seconds = cfg["LOGOUT_RETRY_BASE"] * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, cfg["LOGOUT_RETRY_MAX"]))


def claim(ids: Iterable[int] | None = None, limit: int = BATCH) -> list[int]:
    """Claim up to ``limit`` due rows (or only some of ``ids``) for this worker."""
    return outbox.claim_due(LogoutDelivery, LEASE, limit, ids)


def _post(uri: str, token: str) -> str | None:
    """POST the token; None on success, else a short fixed description of the failure.

    The description holds no text of the answer (only its status): the row and the
    audit event that carry it are read by administrators and auditors.
    """
    cfg = current_app.config
    try:
        # §2.5: sent as application/x-www-form-urlencoded; never follow a redirect. The
        # address rules (no loopback, private or link-local host) apply at connect time.
        reply = outbound.send(
            "POST", uri, outbound.policy(cfg), timeout=cfg["LOGOUT_HTTP_TIMEOUT"], max_bytes=0,
            form={"logout_token": token}, headers={"Cache-Control": "no-store"},
        )
    except outbound.Refused as exc:
        return f"Refused: {exc}"[:500]
    except outbound.OutboundError as exc:
        return str(exc)[:500]
    # §2.8: the RP answers 200 OK (204 is common too); 400 when the logout failed.
    if 200 <= reply.status < 300:
        return None
    return f"HTTP {reply.status}"


def deliver(row_id: int) -> Outcome:
    """Make one attempt for a claimed row and record its outcome.

    Two units of work, and none open while the client answers: read the row and sign
    the token; then record the outcome and its audit event together.
    """
    with unit_of_work():
        row = db.session.get(LogoutDelivery, row_id)
        client = row.client
        send = client is not None and client.enabled
        if send:
            uri, token = row.uri, logout_token(client, sid=row.sid, sub=row.sub)
    error = _post(uri, token) if send else "the client is disabled or deleted"
    with unit_of_work():
        return _record(row, client, error)


def _record(row: LogoutDelivery, client: Client | None, error: str | None) -> Outcome:
    now = utcnow()
    cfg = current_app.config
    if error is None:
        row.status, row.delivered_at, row.last_error = "delivered", now, None
    else:
        row.last_error = error
        too_old = now - row.created_at > timedelta(seconds=cfg["LOGOUT_MAX_AGE"])
        if row.attempts >= cfg["LOGOUT_MAX_ATTEMPTS"] or too_old or client is None:
            row.status = "failed"
        else:
            row.next_attempt_at = now + retry_delay(row.attempts)
    # Write the row first: on SQLite that takes the write lock, so that concurrent
    # workers append their audit events one after the other (PostgreSQL locks in record).
    db.session.flush()
    audit.record(
        "logout.delivery", outcome="success" if error is None else "failure",
        subject=row.sub, client=client.client_id if client else None,
        details={"sid": row.sid, "attempt": row.attempts, "status": row.status,
                 **({"error": error} if error else {})},
    )
    if error:
        log.info("back-channel logout %s attempt %s: %s", row.id, row.attempts, error)
    return Outcome(row.id, row.status, row.attempts, error)


def _deliver_in_context(app: Flask, row_id: int) -> Outcome:
    with app.app_context():
        try:
            return deliver(row_id)
        finally:
            db.session.remove()


def deliver_due(ids: Iterable[int] | None = None, limit: int = BATCH) -> list[Outcome]:
    """One worker pass: claim the due rows (of ``ids``, if given) and deliver them.

    The attempts run side by side, so that one client that does not answer (up to
    IDP_LOGOUT_HTTP_TIMEOUT) does not hold up the logouts of the others.
    """
    claimed = claim(ids, limit)
    if len(claimed) <= 1:
        return [deliver(row_id) for row_id in claimed]
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    with ThreadPoolExecutor(max_workers=min(PARALLEL, len(claimed)),
                            thread_name_prefix="idp-logout-send") as pool:
        return list(pool.map(lambda row_id: _deliver_in_context(app, row_id), claimed))
