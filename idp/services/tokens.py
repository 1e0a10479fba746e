"""Tokens: minting JWT access tokens (RFC 9068) and ID tokens (OIDC Core §2), and
the token store (rotation, families, revocation, status).

Access tokens are signed JWTs recorded by ``jti`` so that revocation or the end of
the SSO session makes them inactive at introspection and userinfo.  Refresh tokens
are random and stored only as hashes.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import or_, select, update
from sqlalchemy.orm import joinedload, lazyload

from ..extensions import db
from ..models import Client, SsoSession, Token, User, utcnow
from . import jose, keys
from .crypto import decrypt, encrypt, hash_secret, new_secret


@dataclass
class AuthContext:
    """How and when the user authenticated, carried from the session into tokens."""

    auth_time: datetime | None = None
    acr: str | None = None
    amr: list[str] = field(default_factory=list)
    session: SsoSession | None = None


class TokenInvalid(Exception):
    """An access token is malformed, badly signed, expired or revoked (RFC 6750 §3.1)."""


# The public reason of each way services.jose refuses an access token (RFC 6750 §3.1).
ACCESS_TOKEN_REASONS = {
    "malformed": "The access token is malformed or its signature is invalid.",
    "typ": "The token is not an access token.",
    "iss": "The access token was issued by another server.",
    "expired": "The access token expired.",
    "aud": "The access token is malformed or its signature is invalid.",
    "claims": "The access token is malformed or its signature is invalid.",
}


def signing_alg(client: Client) -> str:
    alg = client.id_token_signed_response_alg or current_app.config["KEYS_ALG"]
    return alg if alg in keys.SUPPORTED_ALGS else "RS256"


def half_hash(value: str) -> str:
    """OIDC Core §3.1.3.6 at_hash: left half of the SHA-256 of the token, base64url."""
    import base64

    digest = hashlib.sha256(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


def _ts(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment else None


def mint_access_token(client: Client, user: User | None, scope: str,
                      auth: AuthContext, now: int) -> tuple[str, str, int]:
    """An RFC 9068 JWT access token. Returns (token, jti, lifetime in seconds)."""
    ttl = client.access_token_ttl or current_app.config["TOKEN_ACCESS_TTL"]
    jti = new_secret(16)
    claims: dict[str, Any] = {
        "iss": current_app.config["ISSUER"], "exp": now + ttl, "iat": now, "jti": jti,
        # RFC 9068 §2.2: aud is the resource; without a resource indicator it is the
        # client's own API. sub is the client itself when no user is involved.
        "aud": client.client_id, "client_id": client.client_id,
        "sub": user.sub if user else client.client_id, "scope": scope,
    }
    if user is not None:
        claims.update({k: v for k, v in {
            "auth_time": _ts(auth.auth_time), "acr": auth.acr, "amr": auth.amr or None,
            "sid": auth.session.sid if auth.session else None,
        }.items() if v})
    # RFC 9068 §2.1: the typ header is "at+jwt" so that it is never taken for an ID token.
    return keys.sign(claims, alg=signing_alg(client), typ="at+jwt"), jti, ttl


def mint_id_token(client: Client, user: User, auth: AuthContext, *, now: int,
                  nonce: str | None = None, access_token: str | None = None,
                  extra: dict[str, Any] | None = None) -> str:
    """An ID token (OIDC Core §2 and §3.1.3.6), signed with the client's algorithm."""
    claims: dict[str, Any] = dict(extra or {})
    claims.update({
        "iss": current_app.config["ISSUER"], "sub": user.sub, "aud": client.client_id,
        "azp": client.client_id, "iat": now, "exp": now + current_app.config["TOKEN_ID_TTL"],
        "auth_time": _ts(auth.auth_time) or now,
    })
    if nonce:
        claims["nonce"] = nonce  # OIDC Core §3.1.3.6: the nonce of the authorization request
    if auth.acr:
        claims["acr"] = auth.acr
    if auth.amr:
        claims["amr"] = list(auth.amr)
    if auth.session is not None:
        claims["sid"] = auth.session.sid  # OIDC Back-Channel Logout 1.0 §2.1
    if access_token:
        claims["at_hash"] = half_hash(access_token)
    return keys.sign(claims, alg=signing_alg(client), typ="JWT")


def store_token(client: Client, user: User | None, response: dict[str, Any], *, jti: str,
                ttl: int, grant_type: str, auth: AuthContext, family_id: str | None = None,
                code_id: int | None = None) -> Token:
    """Add the row of a minted token response (not committed): the access token by its
    ``jti``, the refresh token by its hash; never a token string."""
    issued = utcnow()
    row = Token(
        client_id=client.id, user_id=user.id if user else None,
        session_id=auth.session.id if auth.session else None, code_id=code_id,
        family_id=family_id or new_secret(16), grant_type=grant_type, access_jti=jti,
        scope=response.get("scope", ""), auth_time=auth.auth_time, acr=auth.acr,
        amr=list(auth.amr or []), issued_at=issued,
        access_expires_at=issued + timedelta(seconds=ttl),
    )
    if response.get("refresh_token"):
        life = client.refresh_token_ttl or current_app.config["TOKEN_REFRESH_TTL"]
        row.refresh_token_hash = hash_secret(response["refresh_token"])
        row.refresh_expires_at = issued + timedelta(seconds=life)
    db.session.add(row)
    return row


def new_token_row(client: Client, user: User | None, scope: str, grant_type: str,
                  auth: AuthContext, *, refresh: bool, family_id: str | None = None,
                  code_id: int | None = None) -> tuple[dict[str, Any], Token]:
    """Mint and store a token response outside the token endpoint (test fixtures)."""
    access, jti, ttl = mint_access_token(client, user, scope, auth, int(time.time()))
    response: dict[str, Any] = {"access_token": access, "token_type": "Bearer",
                                "expires_in": ttl, "scope": scope}
    if refresh:
        response["refresh_token"] = new_secret(32)
    row = store_token(client, user, response, jti=jti, ttl=ttl, grant_type=grant_type, auth=auth,
                      family_id=family_id, code_id=code_id)
    return response, row


# --- the store ---------------------------------------------------------------------------


# A token's user and client come in the same query (every caller reads them); the
# user's roles only when a claim asks for them.
_WITH_OWNERS = (joinedload(Token.user).options(lazyload(User.roles)), joinedload(Token.client))


def find_by_refresh_token(value: str) -> Token | None:
    if not value or len(value) > 512:
        return None
    return db.session.execute(
        select(Token).options(*_WITH_OWNERS).where(Token.refresh_token_hash == hash_secret(value))
    ).scalar_one_or_none()


def find_by_jti(jti: str) -> Token | None:
    return db.session.execute(
        select(Token).options(*_WITH_OWNERS).where(Token.access_jti == jti)
    ).scalar_one_or_none()


def refresh_usable(row: Token) -> bool:
    now = utcnow()
    return (row.revoked_at is None and row.rotated_at is None
            and row.refresh_expires_at is not None and row.refresh_expires_at > now)


def access_active(row: Token) -> bool:
    return row.revoked_at is None and row.access_expires_at > utcnow()


def spend_refresh_token(row: Token) -> bool:
    """Mark a refresh token spent. Exactly one of concurrent callers gets True.

    The conditional UPDATE holds the row until the caller commits, so a concurrent
    presentation waits and then finds the token spent (RFC 9700 §4.14.2).
    """
    spent = db.session.execute(
        update(Token)
        .where(Token.id == row.id, Token.rotated_at.is_(None), Token.revoked_at.is_(None))
        .values(rotated_at=utcnow())
    ).rowcount
    return spent == 1


def keep_replacement(row: Token, response: dict[str, Any]) -> None:
    """Keep the new response, encrypted, for the grace window (IDP_TOKEN_REFRESH_GRACE)."""
    db.session.execute(
        update(Token).where(Token.id == row.id).values(replacement=encrypt(json.dumps(response)))
    )


def refresh_grace() -> int:
    """Seconds a spent refresh token may be presented again (0, the default: never).

    RFC 9700 §4.14.2: a refresh token is single use; the window is an opt-in
    (IDP_TOKEN_REFRESH_GRACE) for clients that cannot retry safely.
    """
    return max(0, int(current_app.config["TOKEN_REFRESH_GRACE"]))


def replacement_within_grace(row: Token) -> dict[str, Any] | None:
    """The response that replaced a spent refresh token, if still inside the grace window."""
    grace = refresh_grace()
    if grace == 0:
        return None
    if row.revoked_at is not None or row.rotated_at is None or not row.replacement:
        return None
    if utcnow() - row.rotated_at > timedelta(seconds=grace):
        return None
    response = json.loads(decrypt(row.replacement))
    newer = find_by_refresh_token(response.get("refresh_token", ""))
    if response.get("refresh_token") and (newer is None or newer.revoked_at is not None):
        return None
    return response


def revoke_family(family_id: str) -> int:
    """Revoke every token of a refresh-token family (not committed)."""
    return db.session.execute(
        update(Token)
        .where(Token.family_id == family_id, Token.revoked_at.is_(None))
        .values(revoked_at=utcnow(), replacement=None)
    ).rowcount


def revoke_issued_from_code(code_id: int) -> int:
    """RFC 6749 §4.1.2: revoke the tokens issued from a code presented twice (not committed)."""
    families = select(Token.family_id).where(Token.code_id == code_id).scalar_subquery()
    return db.session.execute(
        update(Token)
        .where(or_(Token.code_id == code_id, Token.family_id.in_(families)),
               Token.revoked_at.is_(None))
        .values(revoked_at=utcnow(), replacement=None)
        .execution_options(synchronize_session=False)
    ).rowcount


def _revoke_where(*conditions) -> int:
    return db.session.execute(
        update(Token).where(*conditions, Token.revoked_at.is_(None))
        .values(revoked_at=utcnow(), replacement=None)
        .execution_options(synchronize_session=False)
    ).rowcount


def revoke_for_user_and_client(user: User, client: Client) -> int:
    return _revoke_where(Token.user_id == user.id, Token.client_id == client.id)


def revoke_for_user(user: User) -> int:
    """Revoke every token of a user, in every session and none (not committed).

    For a changed or reset password and a reset second factor: what was issued on the
    old credentials, refresh tokens included, stops working at once.
    """
    # The token endpoint issues a user's tokens only while holding their session
    # (sessions.hold): locking the open sessions first makes an issue that is under way
    # commit before the UPDATE below, which then revokes its tokens as well.
    db.session.execute(
        select(SsoSession.id).where(SsoSession.user_id == user.id, SsoSession.ended_at.is_(None))
        .with_for_update()
    ).all()
    return _revoke_where(Token.user_id == user.id)


def revoke_for_client(client: Client) -> int:
    """Revoke every token issued to a client (not committed): it is being disabled."""
    return _revoke_where(Token.client_id == client.id)


def owners_active(row: Token) -> bool:
    """The token's client is enabled and its user (if any) may still sign in."""
    return bool(row.client is not None and row.client.enabled
                and (row.user is None or row.user.active))


def verify_access_token(value: str) -> tuple[dict[str, Any], Token]:
    """Check an access token's signature (any published key), type, issuer, expiry and status.

    Raises TokenInvalid with a public reason when it cannot be used.
    """
    if not value or len(value) > jose.MAX_LENGTH:
        raise TokenInvalid("The access token is missing or malformed.")
    try:
        claims = jose.verify_access_token(value)
    except jose.InvalidJWT as exc:
        raise TokenInvalid(ACCESS_TOKEN_REASONS.get(exc.reason, ACCESS_TOKEN_REASONS["malformed"])) from None
    row = find_by_jti(str(claims.get("jti", "")))
    if row is None or not access_active(row):
        raise TokenInvalid("The access token was revoked.")
    if not row.client.enabled:
        # Every caller (userinfo, the admin API, resource servers) gets this check here.
        raise TokenInvalid("The access token was revoked.")
    return claims, row


def find_by_access_token(value: str) -> Token | None:
    """The row of an access token we signed (expired or not), or None."""
    claims = jose.signed_claims(value)
    return find_by_jti(str(claims.get("jti", ""))) if claims is not None else None


def revoke_row(row: Token) -> None:
    """Revoke one token response's access token (not committed)."""
    db.session.execute(
        update(Token).where(Token.id == row.id, Token.revoked_at.is_(None))
        .values(revoked_at=utcnow(), replacement=None)
    )
