"""Token revocation (RFC 7009) and introspection (RFC 7662) on Authlib's endpoints."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from flask import current_app
from flask import request as flask_request

from ..models import AUTH_METHODS
from ..services import audit, tokens
from .adapters import TokenRecord

CONFIDENTIAL = [m for m in AUTH_METHODS if m != "none"]


def _lookup(value: str, hint: str | None) -> TokenRecord | None:
    """Find a token by either string; the hint only decides which is tried first (RFC 7009 §2.1)."""
    order = ["refresh_token", "access_token"] if hint == "refresh_token" else \
        ["access_token", "refresh_token"]
    for kind in order:
        row = tokens.find_by_access_token(value) if kind == "access_token" \
            else tokens.find_by_refresh_token(value)
        if row is not None:
            return TokenRecord(row, kind)
    return None


class Revocation(RevocationEndpoint):
    # RFC 7009 §2.1: public clients may revoke their own tokens with their client_id.
    CLIENT_AUTH_METHODS = list(AUTH_METHODS)

    def query_token(self, token_string: str, token_type_hint: str | None):
        return _lookup(token_string, token_type_hint)

    def revoke_token(self, token: TokenRecord, request) -> None:
        if token.kind == "refresh_token":
            # Revoking a refresh token ends its family, access tokens included (RFC 7009 §2.1).
            count = tokens.revoke_family(token.row.family_id)
        else:
            tokens.revoke_row(token.row)
            count = 1
        audit.record("token.revoked", actor=request.client.row.client_id,
                     subject=token.row.user.sub if token.row.user else None,
                     client=request.client.row.client_id, ip=flask_request.remote_addr or "",
                     details={"token_type": token.kind, "tokens_revoked": count})


class Introspection(IntrospectionEndpoint):
    # RFC 7662 §2.1: the caller must be authorized; public clients cannot introspect.
    CLIENT_AUTH_METHODS = CONFIDENTIAL

    def query_token(self, token_string: str, token_type_hint: str | None):
        return _lookup(token_string, token_type_hint)

    def authenticate_token(self, request, client):
        self.check_params(request, client)
        token = self.query_token(request.form["token"], request.form.get("token_type_hint"))
        # A client sees only its own tokens; anything else is simply inactive (§2.2).
        if token is not None and not self.check_permission(token, client, request):
            return None
        if token is not None and not tokens.owners_active(token.row):
            return None  # a disabled account's or client's tokens are no longer active
        return token

    def check_permission(self, token: TokenRecord, client, request) -> bool:
        return token.row.client_id == client.row.id

    def introspect_token(self, token: TokenRecord) -> dict[str, Any]:
        row = token.row
        expires = row.refresh_expires_at if token.kind == "refresh_token" else row.access_expires_at
        payload: dict[str, Any] = {
            "active": True, "scope": row.scope, "client_id": row.client.client_id,
            "token_type": "refresh_token" if token.kind == "refresh_token" else "Bearer",
            "exp": int(expires.timestamp()), "iat": int(row.issued_at.timestamp()),
            "iss": current_app.config["ISSUER"], "aud": row.client.client_id,
            "sub": row.user.sub if row.user else row.client.client_id,
        }
        if token.kind == "access_token":
            payload["jti"] = row.access_jti
        if row.user is not None:
            payload["username"] = row.user.username
            if row.auth_time:
                payload["auth_time"] = int(row.auth_time.timestamp())
            if row.acr:
                payload["acr"] = row.acr
        return payload
