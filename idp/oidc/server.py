"""Authlib's Flask AuthorizationServer, with our client lookup, client authentication
and response headers; the grants and endpoints are registered in ``build_server``."""

from __future__ import annotations

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import OAuth2Error
from flask import Flask
from sqlalchemy import select

from ..extensions import db
from ..models import Client
from ..responses import describe, no_store
from . import client_auth
from .adapters import OAuthClient


class Server(AuthorizationServer):
    def query_client(self, client_id: str) -> OAuthClient | None:
        row = db.session.execute(
            select(Client).where(Client.client_id == client_id)
        ).scalar_one_or_none()
        return OAuthClient(row) if row is not None and row.enabled else None

    def save_token(self, token, request):  # the grants store their own rows
        raise NotImplementedError("tokens are stored by idp.services.tokens")

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
    from authlib.oauth2.rfc7636 import CodeChallenge

    from .endpoints import Introspection, Revocation
    from .grants import AuthorizationCodeGrant, ClientCredentialsGrant, OpenIDCode, RefreshTokenGrant

    server = Server()
    server.init_app(app)
    # RFC 7636 / RFC 9700 §2.1.1: the verifier is required whenever a challenge was sent,
    # and from public clients always (the authorize endpoint already insists on S256).
    server.register_grant(AuthorizationCodeGrant, [CodeChallenge(required=True), OpenIDCode()])
    server.register_grant(RefreshTokenGrant)
    server.register_grant(ClientCredentialsGrant)
    server.register_endpoint(Revocation)
    server.register_endpoint(Introspection)
    return server
