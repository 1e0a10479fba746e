"""Authorization codes: single use, short-lived, stored as hashes (RFC 6749 §4.1.2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select, update

from ..extensions import db
from ..models import AuthorizationCode, Client, SsoSession, User, utcnow
from .crypto import hash_secret, new_secret


@dataclass
class CodeRequest:
    """What the authorization request bound the code to."""

    redirect_uri: str
    scope: str
    nonce: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    claims: dict[str, Any] | None = None


def issue_code(client: Client, user: User, session: SsoSession, bound: CodeRequest, *,
               code: str | None = None) -> str:
    """Store a new code (its hash) and return the code itself (not committed).

    ``code`` is the value Authlib generated, when called from its storage hook."""
    code = code or new_secret(32)
    now = utcnow()
    db.session.add(AuthorizationCode(
        code_hash=hash_secret(code), client_id=client.id, user_id=user.id,
        session_id=session.id, redirect_uri=bound.redirect_uri, scope=bound.scope,
        nonce=bound.nonce, code_challenge=bound.code_challenge,
        code_challenge_method=bound.code_challenge_method, claims=bound.claims,
        auth_time=session.auth_time, acr=session.acr, amr=list(session.amr or []),
        created_at=now,
        # RFC 6749 §4.1.2: short-lived; the lifetime comes from IDP_TOKEN_CODE_TTL.
        expires_at=now + timedelta(seconds=current_app.config["TOKEN_CODE_TTL"]),
    ))
    return code


def find_code(code: str) -> AuthorizationCode | None:
    if not code or len(code) > 512:
        return None
    return db.session.execute(
        select(AuthorizationCode).where(AuthorizationCode.code_hash == hash_secret(code))
    ).scalar_one_or_none()


def is_expired(row: AuthorizationCode) -> bool:
    return row.expires_at <= utcnow()


def claim_code(row: AuthorizationCode) -> bool:
    """Spend a code. Exactly one of concurrent redemptions gets True (not committed)."""
    return db.session.execute(
        update(AuthorizationCode)
        .where(AuthorizationCode.id == row.id, AuthorizationCode.used_at.is_(None))
        .values(used_at=utcnow())
    ).rowcount == 1
