"""Token issuance on Authlib's seams: the token generator registered with the
AuthorizationServer (RFC 9068 JWT access tokens minted by idp.services.tokens) and
the subject it mints for.

Authlib calls ``generator(grant_type, client, user, scope, expires_in,
include_refresh_token)`` and hands the result to ``Server.save_token``; the JWT's
``jti`` and lifetime ride along as attributes of the response dict, never in its body.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..models import User
from ..services import tokens
from ..services.crypto import new_secret
from ..services.tokens import AuthContext
from .adapters import OAuthClient


@dataclass
class Grantee:
    """The user a grant issues for, with how and when they signed in (what RFC 9068
    §2.2.1 puts in auth_time, acr and amr, and OIDC's sid)."""

    user: User
    auth: AuthContext = field(default_factory=AuthContext)


class Issued(dict):
    """A token response body; ``jti`` and ``ttl`` are for the store, not the wire."""

    jti: str = ""
    ttl: int = 0
    replayed: bool = False  # a grace-window answer given again (nothing to store)


class TokenGenerator:
    """Authlib's token generator: an RFC 9068 access token and, when the grant asks
    for one, a random refresh token (stored by Server.save_token as a hash)."""

    def __call__(self, grant_type: str, client: OAuthClient, user: Grantee | None = None,
                 scope: str | None = None, expires_in: int | None = None,
                 include_refresh_token: bool = True) -> Issued:
        scope = " ".join((scope or "").split())
        if grant_type == "client_credentials" and not scope:
            # RFC 6749 §3.3: without a scope, what the service client is registered for,
            # less the user-facing scopes that mean nothing without a user.
            scope = " ".join(s for s in (client.row.scope or "").split()
                             if s not in {"openid", "offline_access"})
        subject = user.user if user is not None else None
        auth = user.auth if user is not None else AuthContext()
        access, jti, ttl = tokens.mint_access_token(client.row, subject, scope, auth,
                                                    int(time.time()))
        body = Issued(access_token=access, token_type="Bearer", expires_in=ttl, scope=scope)
        body.jti, body.ttl = jti, ttl
        if include_refresh_token and _offers_refresh(grant_type, scope):
            body["refresh_token"] = new_secret(32)
        return body


def _offers_refresh(grant_type: str, scope: str) -> bool:
    """OIDC Core §11: from a code, a refresh token only for offline_access (Authlib asks
    whenever the client may use the refresh_token grant; the authorize endpoint drops
    offline_access unless the user consented to it or the client is first-party)."""
    return grant_type != "authorization_code" or "offline_access" in scope.split()


def replay(body: dict[str, Any], again: dict[str, Any]) -> None:
    """Answer with the response kept for the grace window instead of a new one."""
    body.clear()
    body.update(again)
    if isinstance(body, Issued):
        body.replayed = True
