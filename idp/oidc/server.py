"""Authlib's Flask AuthorizationServer, with our client lookup, client authentication
and response headers; the grants and endpoints are registered in ``build_server``."""

from __future__ import annotations

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import OAuth2Error
from flask import Flask
from flask import request as flask_request
from sqlalchemy import select

from ..extensions import db
from ..models import Client
from ..services import audit, sessions, tokens
from ..services.tokens import AuthContext
from ..responses import describe, no_store
from . import client_auth
from .adapters import OAuthClient
from .issuance import Grantee, Issued, TokenGenerator


class Server(AuthorizationServer):
    def query_client(self, client_id: str) -> OAuthClient | None:
        row = db.session.execute(
            select(Client).where(Client.client_id == client_id)
        ).scalar_one_or_none()
        return OAuthClient(row) if row is not None and row.enabled else None

    def save_token(self, token: Issued, request) -> None:
        """Store what the token generator minted: the access token's jti, the refresh
        token's hash (never a token string), with its family and the code it came from;
        one audit event per issuance (not committed: the token view commits)."""
        request.issued = token  # RefreshTokenGrant.revoke_old_credential may replay it
        old = getattr(request.refresh_token, "replacement", None) if request.refresh_token else None
        if old is not None:
            return  # a grace-window answer given again: nothing new to store
        client: OAuthClient = request.client
        grantee: Grantee | None = request.user
        user = grantee.user if grantee is not None else None
        auth = grantee.auth if grantee is not None else AuthContext()
        code = request.authorization_code.row if request.authorization_code else None
        spent = request.refresh_token.row if request.refresh_token else None
        grant_type = request.payload.grant_type
        row = tokens.store_token(
            client.row, user, token, jti=token.jti, ttl=token.ttl, grant_type=grant_type,
            auth=auth, family_id=spent.family_id if spent else None,
            code_id=code.id if code else (spent.code_id if spent else None),
        )
        audit.record("token.issued", actor=client.row.client_id,
                     subject=user.sub if user else None, client=client.row.client_id,
                     ip=flask_request.remote_addr or "",
                     details={"grant_type": grant_type, "jti": row.access_jti, "scope": row.scope},)
        if code is not None and auth.session is not None:
            sessions.join(auth.session, client.row.id)  # told at back-channel logout

    def authenticate_client(self, request, methods, endpoint="token"):
        return client_auth.authenticate(request, endpoint, list(methods))

    def handle_response(self, status_code, payload, headers):
        response = super().handle_response(status_code, payload, headers)
        # RFC 6749 §5.1: token responses (and their errors) must not be cached.
        no_store(response)
        if isinstance(payload, dict) or status_code >= 400:
            response.headers["Content-Type"] = "application/json"
        return response

    def handle_error_response(self, request, error: OAuth2Error):
        db.session.rollback()  # nothing half-done survives an error
        error.description = describe(error.error, error.description)  # {error, error_description}
        return super().handle_error_response(request, error)


def build_server(app: Flask) -> Server:
    from .endpoints import Introspection, Revocation
    from .grants import (AuthorizationCodeGrant, ClientCredentialsGrant, CodeVerifier, OpenIDCode,
                         OpenIDRefresh, RefreshTokenGrant)

    server = Server()
    server.init_app(app)
    server.register_token_generator("default", TokenGenerator())  # RFC 9068 access tokens
    # RFC 7636 / RFC 9700 §2.1.1: the verifier is required whenever a challenge was sent,
    # and from public clients always (the authorize endpoint already insists on S256).
    server.register_grant(AuthorizationCodeGrant, [CodeVerifier(required=True), OpenIDCode()])
    server.register_grant(RefreshTokenGrant, [OpenIDRefresh()])
    server.register_grant(ClientCredentialsGrant)
    server.register_endpoint(Revocation)
    server.register_endpoint(Introspection)
    return server
