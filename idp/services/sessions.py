"""SSO sessions: created at sign-in, found from the opaque cookie, ended once.

The browser holds only a random value; the database keeps its SHA-256, so a copy
of the database does not let anyone take over a session.  Idle and absolute
timeouts come from configuration (OWASP ASVS 3.3.1, 3.3.2).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Callable, Iterable

from flask import Flask, current_app
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..extensions import db
from ..models import AuthorizationCode, SessionClient, SsoSession, Token, User, utcnow
from .crypto import hash_secret, new_secret

SessionEndHook = Callable[[SsoSession, str], None]
_ON_END = "idp.sessions.on_end"

TOUCH_EVERY = timedelta(seconds=30)


def init_app(app: Flask, *, on_end: Iterable[SessionEndHook]) -> None:
    """Set what runs, in order, when one of the app's sessions ends (``create_app`` does).

    Each hook is called with (session, reason) inside the transaction that ends the
    session; it adds rows but does not commit. Every way a session ends (logout,
    timeout, admin) runs them.
    """
    app.extensions[_ON_END] = tuple(on_end)


def create_session(user: User, *, amr: list[str], acr: str | None, ip: str = "",
                   user_agent: str = "") -> tuple[SsoSession, str]:
    """Start a session; returns it and the cookie value (a new id at every sign-in).

    The row is flushed (its ``sid`` is known) for the caller's boundary to commit.
    """
    now = utcnow()
    cookie = new_secret(32)
    session = SsoSession(
        cookie_hash=hash_secret(cookie), user=user, created_at=now, last_seen_at=now,
        auth_time=now, amr=list(amr), acr=acr, ip=ip[:64], user_agent=user_agent[:512],
        expires_at=now + timedelta(seconds=current_app.config["SESSION_ABSOLUTE_TIMEOUT"]),
    )
    user.last_login_at = now
    db.session.add(session)
    db.session.flush()
    return session, cookie


def is_live(session: SsoSession) -> bool:
    now = utcnow()
    idle = timedelta(seconds=current_app.config["SESSION_IDLE_TIMEOUT"])
    return (
        session.ended_at is None
        and session.expires_at > now
        and session.last_seen_at + idle > now
        and session.user.active
    )


def hold(session_id: int | None) -> SsoSession | None:
    """The session read afresh and share-locked until the caller's transaction ends.

    The token endpoint holds the session while it issues tokens in it; ``end_session``
    updates the row first, so it waits for the issue to commit and then revokes the new
    tokens too, or the issue waits and sees the session ended (no token outlives a
    logout that raced with it). SQLite serialises writers and ignores the lock.
    """
    if not session_id:
        return None
    return db.session.execute(
        select(SsoSession).where(SsoSession.id == session_id)
        .with_for_update(read=True).execution_options(populate_existing=True)
    ).scalar_one_or_none()


def find_session(cookie: str | None, *, touch: bool = True) -> SsoSession | None:
    """The live session behind a cookie value, or None. Ends a timed-out session."""
    if not cookie or len(cookie) > 128:
        return None
    session = db.session.execute(
        select(SsoSession).where(SsoSession.cookie_hash == hash_secret(cookie))
    ).scalar_one_or_none()
    if session is None or session.ended_at is not None:
        return None
    if not is_live(session):
        end_session(session, "timeout")
        return None
    now = utcnow()
    if touch and now - session.last_seen_at > TOUCH_EVERY:
        session.last_seen_at = now
    return session


def upgrade_session(session: SsoSession, *, amr: list[str], acr: str | None) -> None:
    """Record a further authentication (e.g. the second factor) in the same session."""
    session.amr = sorted(set(session.amr or []) | set(amr))
    session.acr = acr
    session.last_seen_at = utcnow()


def join(session: SsoSession, client_pk: int) -> None:
    """Remember that a client received tokens in this session (for single logout).

    One INSERT that does nothing when the pair is known: concurrent token requests of one
    session and client (two codes, or the racing redemptions of one code, whose loser is
    rolled back later) never fail on the unique pair.
    """
    dialect = db.session.get_bind().dialect.name
    insert = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}[dialect]
    db.session.execute(
        insert(SessionClient)
        .values(session_id=session.id, client_id=client_pk)
        .on_conflict_do_nothing(index_elements=["session_id", "client_id"])
    )


def end_session(session: SsoSession, reason: str) -> bool:
    """End a session and revoke the tokens issued in it. False if it had ended already."""
    now = utcnow()
    # One UPDATE decides who ends it, so that concurrent logouts fan out only once.
    ended = db.session.execute(
        update(SsoSession)
        .where(SsoSession.id == session.id, SsoSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason)
    ).rowcount
    if not ended:  # another request ended it first; the caller's other work stands
        return False
    db.session.execute(
        update(Token)
        .where(Token.session_id == session.id, Token.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    # Codes not yet redeemed die with their session (their tokens would belong to none).
    db.session.execute(
        update(AuthorizationCode)
        .where(AuthorizationCode.session_id == session.id, AuthorizationCode.used_at.is_(None))
        .values(used_at=now)
    )
    session.ended_at, session.end_reason = now, reason
    # Hooks add their rows (e.g. the logout outbox) to this same transaction, so that
    # a session never ends without its logouts queued, even if the process dies.
    for hook in current_app.extensions.get(_ON_END, ()):
        hook(session, reason)
    return True


def end_all_sessions(user: User, reason: str) -> int:
    sessions = db.session.execute(
        select(SsoSession).where(SsoSession.user_id == user.id, SsoSession.ended_at.is_(None))
    ).scalars().all()
    return sum(1 for session in sessions if end_session(session, reason))
