"""The token, revocation and introspection endpoints (all POST, no cookies, no CSRF)."""

from __future__ import annotations

from flask import Blueprint, current_app

bp = Blueprint("oidc_token", __name__)


def _server():
    return current_app.extensions["idp.oidc.server"]


@bp.post("/token")
def token():
    """RFC 6749 §3.2 token endpoint."""
    return _server().create_token_response()


@bp.post("/revoke")
def revoke():
    """RFC 7009 §2 revocation endpoint."""
    return _server().create_endpoint_response("revocation")


@bp.post("/introspect")
def introspect():
    """RFC 7662 §2 introspection endpoint."""
    return _server().create_endpoint_response("introspection")
