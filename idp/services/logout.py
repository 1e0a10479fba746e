"""Single logout fan-out: what happens when an SSO session ends, however it ends.

``create_app`` passes :func:`queue_backchannel` and :func:`audit_session_end` to
``sessions.init_app``: they run inside the transaction that ends the session, queue
the back-channel logouts in the outbox (OIDC Back-Channel Logout 1.0) and write the
audit event, so that a session never ends without its logouts queued, even if the
process dies just after. Delivery is :mod:`idp.services.backchannel`'s job (the
worker); with IDP_LOGOUT_IMMEDIATE, :func:`init_app` also has a best-effort thread
try the new rows right after the commit.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import event, or_, select
from sqlalchemy.orm import Session

from ..extensions import db
from ..models import Client, LogoutDelivery, SsoSession, utcnow
from . import audit, sessions

log = logging.getLogger("idp.logout")
_PENDING_KEY = "idp.logout.pending"


def queue_backchannel(session: SsoSession, reason: str) -> list[LogoutDelivery]:
    """Add an outbox row for each joined client with a back-channel logout URI."""
    rows = []
    for joined in session.clients:
        client = joined.client
        if not client.backchannel_logout_uri or not client.enabled:
            continue
        rows.append(LogoutDelivery(
            client_id=client.id, uri=client.backchannel_logout_uri,
            sid=session.sid, sub=session.user.sub,
        ))
    db.session.add_all(rows)  # committed by end_session with the session's end
    if rows and current_app.config["LOGOUT_IMMEDIATE"]:
        db.session.flush()
        pending = db.session.info.setdefault(_PENDING_KEY, [])
        pending.extend(row.id for row in rows)
    return rows


def audit_session_end(session: SsoSession, reason: str) -> None:
    """Every end of a session is an audit event (logout, timeout, admin, everywhere)."""
    audit.record(
        "session.ended", subject=session.user.sub,
        details={"sid": session.sid, "reason": reason,
                 "clients": sorted(j.client.client_id for j in session.clients)},
    )


def frontchannel_clients(session: SsoSession) -> list[Client]:
    """Joined clients to be told through the browser (Front-Channel Logout 1.0 §2)."""
    return [j.client for j in session.clients
            if j.client.frontchannel_logout_uri and j.client.enabled]


def end_timed_out_sessions(limit: int = 500) -> int:
    """End sessions past their idle or absolute timeout that no request touched.

    Such sessions would otherwise end only when their cookie is next presented;
    ending them here fans out their logouts too. Returns how many were ended.
    """
    now = utcnow()
    idle = timedelta(seconds=current_app.config["SESSION_IDLE_TIMEOUT"])
    stale = db.session.execute(
        select(SsoSession)
        .where(SsoSession.ended_at.is_(None),
               or_(SsoSession.expires_at <= now, SsoSession.last_seen_at <= now - idle))
        .order_by(SsoSession.id)
        .limit(limit)
    ).scalars().all()
    return sum(1 for session in stale if sessions.end_session(session, "timeout"))


# --- immediate delivery --------------------------------------------------------------


def init_app(app: Flask) -> None:
    """With IDP_LOGOUT_IMMEDIATE, deliver the logouts a commit queued right after it.

    The listeners are on the provider's own session (``db.session``), not on SQLAlchemy's
    global ``Session`` class; every app shares that session, so they are attached once.
    """
    if not app.config["LOGOUT_IMMEDIATE"]:
        return
    if not event.contains(db.session, "after_commit", _after_commit):
        event.listen(db.session, "after_commit", _after_commit)
        event.listen(db.session, "after_soft_rollback", _after_rollback)


def _deliver_now(app: Flask, ids: list[int]) -> None:
    from . import backchannel

    with app.app_context():
        try:
            backchannel.deliver_due(ids)
        except Exception:  # best effort: the worker retries from the outbox
            log.exception("immediate back-channel logout failed")
            db.session.rollback()
        finally:
            db.session.remove()


def _after_commit(session: Session) -> None:
    ids: list[int] = session.info.pop(_PENDING_KEY, [])
    if ids:
        app: Any = current_app._get_current_object()  # type: ignore[attr-defined]
        threading.Thread(target=_deliver_now, args=(app, ids), daemon=True,
                         name="idp-logout-now").start()


def _after_rollback(session: Session, previous_transaction: Any) -> None:
    session.info.pop(_PENDING_KEY, None)
