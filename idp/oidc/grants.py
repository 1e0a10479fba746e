"""The token endpoint's grants, on Authlib's hooks: authorization_code (+ OpenID Connect
and PKCE), refresh_token with rotation and reuse detection, and client_credentials.

Authlib runs each flow (validate, authenticate_user, generate_token, save_token, spend
the credential, after-hooks); the hooks below look the credential up, check it is still
good, and spend it with a conditional UPDATE. Any error rolls the whole request back
(Server.handle_error_response), so a response that lost a race leaves no row behind.
"""

from __future__ import annotations

import time
from typing import Any

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidScopeError, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import grants as oidc_grants
from flask import request as flask_request

from ..extensions import db
from ..models import AUTH_METHODS, SsoSession, Token
from ..services import audit, codes, database, sessions, tokens
from ..services.claims import requested_claims
from ..services.tokens import AuthContext
from .adapters import CodeRecord, OAuthClient, TokenRecord
from .issuance import Grantee, Issued, replay

CONFIDENTIAL = [m for m in AUTH_METHODS if m != "none"]


def _ip() -> str:
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


def _kept(error: InvalidGrantError) -> InvalidGrantError:
    """Keep a revocation although the error response after it rolls back."""
    database.commit_before_error()
    return error


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
                         subject=row.user.sub, client=client.row.client_id, ip=_ip(),
                         details={"tokens_revoked": count})
            raise _kept(InvalidGrantError("The authorization code was already used."))
        if codes.is_expired(row):
            raise InvalidGrantError("The authorization code expired.")
        return CodeRecord(row)

    def authenticate_user(self, code: CodeRecord) -> Grantee:
        user = code.row.user
        if user is None or not user.active:
            raise InvalidGrantError("The user of this code can no longer sign in.")
        # Held from here to the commit, and checked before the code is claimed.
        session = _live_session(code.row.session_id)
        if session is None:  # it ended while this request ran
            raise InvalidGrantError("The sign-in session of this authorization code has ended.")
        return Grantee(user, AuthContext(code.row.auth_time, code.row.acr,
                                         list(code.row.amr or []), session))

    def save_authorization_code(self, code: str, request) -> None:
        """Authlib's authorize-side storage hook, for a caller of Authlib's own
        create_authorization_response with a Grantee as grant_user. Our /authorize
        pipeline calls the same service directly (docs/adr/0001-authlib-boundary.md)."""
        grantee: Grantee = request.user
        data = request.payload.data
        codes.issue_code(request.client.row, grantee.user, grantee.auth.session,
                         codes.CodeRequest(redirect_uri=request.payload.redirect_uri,
                                           scope=request.scope, nonce=data.get("nonce"),
                                           code_challenge=data.get("code_challenge"),
                                           code_challenge_method=data.get("code_challenge_method")),
                         code=code)

    def delete_authorization_code(self, code: CodeRecord) -> None:
        # RFC 6749 §4.1.2: single use. The code is marked spent, not deleted, so that a
        # second presentation is detected; the conditional UPDATE lets exactly one of
        # concurrent redemptions through (the loser's tokens are rolled back).
        if not codes.claim_code(code.row):
            raise InvalidGrantError("The authorization code was already used.")


class CodeVerifier(CodeChallenge):
    """RFC 7636 §4.6 at the token endpoint. The authorize-side half (§4.4) is our
    pipeline's check_pkce, so only the token-side hook is registered."""

    def __call__(self, grant) -> None:
        grant.register_hook("after_validate_token_request", self.validate_code_verifier)


def _id_token(client: OAuthClient, grantee: Grantee, token: dict[str, Any], *,
              nonce: str | None = None, extra: dict[str, Any] | None = None) -> str:
    return tokens.mint_id_token(client.row, grantee.user, grantee.auth, now=int(time.time()),
                                nonce=nonce, access_token=token["access_token"], extra=extra)


class OpenIDCode(oidc_grants.OpenIDCode):
    """Adds the ID token to the code grant's response (OIDC Core §3.1.3.3). The
    authorize-side checks (nonce, prompt) are our pipeline's, so only the token-side
    hook is registered."""

    def __call__(self, grant) -> None:
        grant.register_hook("after_create_token_response", self.process_token)

    def exists_nonce(self, nonce, request) -> bool:
        return False  # codes are single use; a nonce is the relying party's to check

    def encode_id_token(self, token: dict[str, Any], request) -> str:
        code = request.authorization_code.row
        requested = (code.claims or {}).get("id_token") or {}
        # OIDC Core §5.5: only what the granted scopes carry (the user saw those on the page).
        extra = requested_claims(request.user.user, request.client.row, code.scope.split(),
                                 requested)
        return _id_token(request.client, request.user, token, nonce=code.nonce, extra=extra)


class OpenIDRefresh(oidc_grants.OpenIDToken):
    """OIDC Core §12.2: a refreshed ID token has the same iss, sub, aud and auth_time.
    Then, with IDP_TOKEN_REFRESH_GRACE, the whole answer is kept (Authlib runs the
    hooks of one kind in no set order, so both steps are one hook)."""

    def process_token(self, grant, response):
        _, token, _ = response
        if not getattr(token, "replayed", False):
            super().process_token(grant, response)
            if tokens.refresh_grace():
                tokens.keep_replacement(grant.request.refresh_token.row, token)
        return token

    def encode_id_token(self, token: dict[str, Any], request) -> str:
        return _id_token(request.client, request.user, token)


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)
    INCLUDE_NEW_REFRESH_TOKEN = True  # RFC 9700 §4.14.2: rotation

    def authenticate_refresh_token(self, refresh_token: str) -> TokenRecord | None:
        row = tokens.find_by_refresh_token(refresh_token)
        if row is None or row.client_id != self.request.client.row.id:
            return None
        if row.revoked_at is not None:
            raise InvalidGrantError("The refresh token was revoked.")
        if row.rotated_at is not None:
            return self._reused(row)
        if not tokens.refresh_usable(row):
            raise InvalidGrantError("The refresh token expired.")
        return TokenRecord(row, "refresh_token")

    def _reused(self, row: Token) -> TokenRecord:
        """A spent refresh token: the same answer inside the (opt-in) grace window, else
        revoke all (IDP_TOKEN_REFRESH_GRACE, default 0: strict single use)."""
        again = tokens.replacement_within_grace(row)
        if again is not None:
            record = TokenRecord(row, "refresh_token")
            record.replacement = again
            return record
        # RFC 9700 §4.14.2: reuse of a rotated refresh token revokes the whole family.
        count = tokens.revoke_family(row.family_id)
        audit.record("refresh.reuse_detected", outcome="failure", actor=row.client.client_id,
                     subject=row.user.sub if row.user else None, client=row.client.client_id,
                     ip=_ip(), details={"tokens_revoked": count})
        raise _kept(InvalidGrantError("The refresh token was already used."))

    def authenticate_user(self, record: TokenRecord) -> Grantee:
        row = record.row
        user = row.user
        if user is None or not user.active:
            raise InvalidGrantError("The user of this refresh token can no longer sign in.")
        session = _open_session(row.session_id)  # held from here to the commit
        if session is None and getattr(record, "replacement", None) is None:
            # A token that belongs to no session would outlive every logout.
            raise InvalidGrantError("The sign-in session of this refresh token has ended.")
        return Grantee(user, AuthContext(row.auth_time, row.acr, list(row.amr or []), session))

    def revoke_old_credential(self, record: TokenRecord) -> None:
        token: Issued = self.request.issued
        if getattr(record, "replacement", None) is not None:
            replay(token, record.replacement)
            return
        # RFC 9700 §4.14.2: rotation spends the old token with a conditional UPDATE;
        # exactly one of concurrent presentations gets through.
        if tokens.spend_refresh_token(record.row):
            return
        db.session.rollback()  # drop the row just stored: it answers nobody
        db.session.refresh(record.row)  # a concurrent request rotated it first
        again = self._reused(record.row)
        replay(token, again.replacement)


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
