"""The token endpoint's grants, on Authlib's: authorization_code (+ OpenID Connect and
PKCE), refresh_token with rotation and reuse detection, and client_credentials."""

from __future__ import annotations

import functools
import time
from typing import Any

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidScopeError, grants
from authlib.oidc.core import grants as oidc_grants
from flask import request as flask_request

from ..extensions import db
from ..models import AUTH_METHODS, SsoSession, Token
from ..services import audit, codes, database, sessions, tokens
from ..services.claims import requested_claims
from ..services.tokens import AuthContext
from .adapters import CodeRecord, OAuthClient, TokenRecord

CONFIDENTIAL = [m for m in AUTH_METHODS if m != "none"]


def _ip(request) -> str:
    return flask_request.remote_addr or ""


def _live_session(session_id: int | None) -> SsoSession | None:
    """The code's session if it is still live (not ended, timed out or expired), held
    against a concurrent logout until the token response is committed."""
    session = sessions.hold(session_id)
    return session if session is not None and sessions.is_live(session) else None


def _open_session(session_id: int | None) -> SsoSession | None:
    """A refresh token's session, unless it ended (ending it revokes the token anyway);
    held against a concurrent logout until the new tokens are committed."""
    session = sessions.hold(session_id)
    return session if session is not None and session.ended_at is None else None


def wants_refresh_token(client: OAuthClient, scope: str) -> bool:
    """OIDC Core §11: a refresh token only for offline_access, and only to clients
    allowed the refresh_token grant (the authorize endpoint drops offline_access
    unless the user consented to it, or the client is a trusted first-party app)."""
    return client.check_grant_type("refresh_token") and "offline_access" in scope.split()


def committed(create_token_response):
    """Authlib's ``hooked``: the after-hooks (OpenIDCode adds the ID token there, OIDC
    Core §3.1.3.3) run before the request's one commit, so the rows they read are still
    loaded and nothing is read back from the database."""

    @functools.wraps(create_token_response)
    def wrapper(grant):
        grant.execute_hook("before_create_token_response")
        result = create_token_response(grant)
        grant.execute_hook("after_create_token_response", result)
        return result  # committed by the request's boundary (idp.services.database)

    return wrapper


def _audit_issued(client: OAuthClient, user, grant_type: str, row: Token, request) -> None:
    audit.record("token.issued", actor=client.row.client_id, subject=user.sub if user else None,
                 client=client.row.client_id, ip=_ip(request),
                 details={"grant_type": grant_type, "jti": row.access_jti, "scope": row.scope})


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)

    def query_authorization_code(self, code: str, client: OAuthClient) -> CodeRecord | None:
        row = codes.find_code(code)
        if row is None or row.client_id != client.row.id:
            return None
        if _live_session(row.session_id) is None:
            # A code lives no longer than the sign-in it came from: tokens of an ended,
            # timed-out or expired session would survive the logout (OIDC Back-Channel
            # Logout 1.0 §2: every token belongs to a session the user can end).
            raise InvalidGrantError("The sign-in session of this authorization code has ended.")
        if row.code_challenge is None and (client.row.is_public or client.row.pkce_required):
            # RFC 9700 §2.1.1: issued before the client was made to use PKCE.
            raise InvalidGrantError("The authorization code was issued without PKCE.")
        if row.used_at is not None:
            # RFC 6749 §4.1.2: deny a second use and revoke what the first one issued.
            count = tokens.revoke_issued_from_code(row.id)
            audit.record("code.reuse_detected", outcome="failure", actor=client.row.client_id,
                         subject=row.user.sub, client=client.row.client_id, ip=_ip(self.request),
                         details={"tokens_revoked": count})
            database.commit_before_error()  # the error response rolls back; the revocation stays
            raise InvalidGrantError("The authorization code was already used.")
        if codes.is_expired(row):
            raise InvalidGrantError("The authorization code expired.")
        return CodeRecord(row)

    def authenticate_user(self, code: CodeRecord):
        user = code.row.user
        return user if user is not None and user.active else None

    def save_authorization_code(self, code, request):
        # Authlib's own /authorize is not used: codes are issued by idp.oidc.authorize.
        raise NotImplementedError("codes are issued by idp.services.codes.issue_code")

    def delete_authorization_code(self, code):
        # A code is marked spent, never deleted, so that reuse can be detected (RFC 6749 §4.1.2).
        raise NotImplementedError("codes are spent by claim_code, not deleted")

    @committed
    def create_token_response(self):
        client: OAuthClient = self.request.client
        code: CodeRecord = self.request.authorization_code
        user = self.authenticate_user(code)
        if user is None:
            raise InvalidGrantError("The user of this code can no longer sign in.")
        session = _live_session(code.row.session_id)  # held from here to the commit
        if session is None:  # it ended while this request ran
            raise InvalidGrantError("The sign-in session of this authorization code has ended.")
        if not codes.claim_code(code.row):
            # Another request redeemed it a moment ago: exactly one token response.
            raise InvalidGrantError("The authorization code was already used.")
        auth = AuthContext(code.row.auth_time, code.row.acr, list(code.row.amr or []), session)
        self.request.user = user
        self.request.auth_context = auth
        response, row = tokens.new_token_row(
            client.row, user, code.row.scope, self.GRANT_TYPE, auth,
            refresh=wants_refresh_token(client, code.row.scope), code_id=code.row.id,
        )
        _audit_issued(client, user, self.GRANT_TYPE, row, self.request)
        sessions.join(session, client.row.id)  # who to tell at back-channel logout
        return 200, response, self.TOKEN_RESPONSE_HEADER


class OpenIDCode(oidc_grants.OpenIDCode):
    """Adds the ID token to the code grant's response (OIDC Core §3.1.3.3)."""

    def exists_nonce(self, nonce, request) -> bool:
        return False  # codes are single use; a nonce is the relying party's to check

    def encode_id_token(self, token: dict[str, Any], request) -> str:
        code = request.authorization_code.row
        requested = (code.claims or {}).get("id_token") or {}
        # OIDC Core §5.5: only what the granted scopes carry (the user saw those on the page).
        extra = requested_claims(request.user, request.client.row, code.scope.split(), requested)
        return tokens.mint_id_token(request.client.row, request.user, request.auth_context,
                                    now=int(time.time()), nonce=code.nonce,
                                    access_token=token["access_token"], extra=extra)


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str):
        row = tokens.find_by_refresh_token(refresh_token)
        return TokenRecord(row, "refresh_token") if row is not None else None

    def authenticate_user(self, record):
        user = record.row.user
        return user if user is not None and user.active else None

    def revoke_old_credential(self, record):
        # Rotation spends the old token atomically in spend_refresh_token (RFC 9700 §4.14.2).
        raise NotImplementedError("refresh tokens are spent by spend_refresh_token")

    def _reused(self, row: Token) -> tuple[int, dict, list] | None:
        """A spent refresh token: the same answer inside the (opt-in) grace window, else
        revoke all (IDP_TOKEN_REFRESH_GRACE, default 0: strict single use)."""
        again = tokens.replacement_within_grace(row)
        if again is not None:
            return 200, again, self.TOKEN_RESPONSE_HEADER
        # RFC 9700 §4.14.2: reuse of a rotated refresh token revokes the whole family.
        count = tokens.revoke_family(row.family_id)
        audit.record("refresh.reuse_detected", outcome="failure", actor=row.client.client_id,
                     subject=row.user.sub if row.user else None, client=row.client.client_id,
                     ip=_ip(self.request), details={"tokens_revoked": count})
        database.commit_before_error()  # the error response rolls back; the revocation stays
        raise InvalidGrantError("The refresh token was already used.")

    @committed
    def create_token_response(self):
        client: OAuthClient = self.request.client
        row: Token = self.request.refresh_token.row
        if row.revoked_at is not None:
            raise InvalidGrantError("The refresh token was revoked.")
        if row.rotated_at is not None:
            return self._reused(row)
        if not tokens.refresh_usable(row):
            raise InvalidGrantError("The refresh token expired.")
        user = self.authenticate_user(self.request.refresh_token)
        if user is None:
            raise InvalidGrantError("The user of this refresh token can no longer sign in.")
        if _open_session(row.session_id) is None:
            # A token that belongs to no session would outlive every logout.
            raise InvalidGrantError("The sign-in session of this refresh token has ended.")
        if not tokens.spend_refresh_token(row):
            db.session.rollback()
            db.session.refresh(row)  # a concurrent request rotated it first
            return self._reused(row)
        # RFC 6749 §6: a narrower scope may be asked for, never a wider one (checked by Authlib).
        scope = self.request.payload.scope or row.scope
        session = _open_session(row.session_id)
        auth = AuthContext(row.auth_time, row.acr, list(row.amr or []), session)
        response, new_row = tokens.new_token_row(
            client.row, user, scope, self.GRANT_TYPE, auth, refresh=True, family_id=row.family_id,
            code_id=row.code_id,
        )
        if "openid" in scope.split():
            # OIDC Core §12.2: the same iss, sub, aud and auth_time as the original.
            response["id_token"] = tokens.mint_id_token(
                client.row, user, auth, now=int(time.time()), access_token=response["access_token"])
        if tokens.refresh_grace():
            tokens.keep_replacement(row, response)
        _audit_issued(client, user, self.GRANT_TYPE, new_row, self.request)
        return 200, response, self.TOKEN_RESPONSE_HEADER


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    """RFC 6749 §4.4: a service acting for itself; no refresh token, no ID token."""

    TOKEN_ENDPOINT_AUTH_METHODS = CONFIDENTIAL

    def validate_token_request(self):
        super().validate_token_request()
        registered = (self.request.client.row.scope or "").split()
        requested = (self.request.payload.scope or "").split()
        # Only the scopes registered for this service client (RFC 6749 §3.3).
        if not set(requested) <= set(registered):
            raise InvalidScopeError("The client is not registered for this scope.")

    @committed
    def create_token_response(self):
        client: OAuthClient = self.request.client
        registered = (client.row.scope or "").split()
        scope = " ".join(self.request.payload.scope.split()) if self.request.payload.scope \
            else " ".join(s for s in registered if s not in {"openid", "offline_access"})
        response, row = tokens.new_token_row(client.row, None, scope, self.GRANT_TYPE,
                                             AuthContext(), refresh=False)
        _audit_issued(client, None, self.GRANT_TYPE, row, self.request)
        return 200, response, self.TOKEN_RESPONSE_HEADER
