"""Thin adapters that give Authlib the mixin methods it calls on our models.

The models stay plain SQLAlchemy (they import nothing from Authlib); these wrappers
speak Authlib's ClientMixin / AuthorizationCodeMixin / TokenMixin.
"""

from __future__ import annotations

from authlib.oauth2.rfc6749 import ClientMixin

from ..models import AuthorizationCode, Client, Token, utcnow


class OAuthClient(ClientMixin):
    def __init__(self, row: Client):
        self.row = row

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None  # OIDC Core §3.1.2.1: redirect_uri is required, never defaulted

    def get_allowed_scope(self, scope: str) -> str:
        allowed = set((self.row.scope or "").split())
        return " ".join(s for s in (scope or "").split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in (self.row.redirect_uris or [])  # exact match, RFC 9700 §2.1

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.row.token_endpoint_auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type in (self.row.response_types or [])

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in (self.row.grant_types or [])


class CodeRecord:
    """An authorization code row, as Authlib's grant and PKCE extension read it."""

    def __init__(self, row: AuthorizationCode):
        self.row = row
        self.code_challenge = row.code_challenge
        self.code_challenge_method = row.code_challenge_method

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return self.row.scope

    def get_nonce(self) -> str | None:
        return self.row.nonce

    def get_auth_time(self) -> int:
        return int(self.row.auth_time.timestamp())

    def get_acr(self) -> str | None:
        return self.row.acr

    def get_amr(self) -> list[str]:
        return list(self.row.amr or [])


class TokenRecord:
    """A row of the token store as seen through one of its two token strings."""

    def __init__(self, row: Token, kind: str):
        self.row = row
        self.kind = kind  # "access_token" or "refresh_token"

    def check_client(self, client: OAuthClient) -> bool:
        return self.row.client_id == client.row.id

    def get_scope(self) -> str:
        return self.row.scope

    def is_revoked(self) -> bool:
        return self.row.revoked_at is not None or (
            self.kind == "refresh_token" and self.row.rotated_at is not None
        )

    def is_expired(self) -> bool:
        now = utcnow()
        if self.kind == "refresh_token":
            return self.row.refresh_expires_at is None or self.row.refresh_expires_at <= now
        return self.row.access_expires_at <= now
