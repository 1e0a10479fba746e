"""OIDC Discovery 1.0 §3 metadata and the JWKS document (RFC 7517).

The metadata lists exactly what the provider supports; anything not listed is
not offered (implicit and hybrid flows, request objects, the address scope).
"""

from __future__ import annotations

import hashlib

from flask import Blueprint, Response, current_app, request

from ..models import AUTH_METHODS
from ..services import keys
from ..services.claims import CLAIMS, SCOPES
from ..sso import ACR_VALUES
from ..urls import external_url
from .assertions import ALGORITHMS

bp = Blueprint("discovery", __name__)


def metadata() -> dict:
    issuer = current_app.config["ISSUER"]
    confidential = [m for m in AUTH_METHODS if m != "none"]
    data = {
        "issuer": issuer,
        "authorization_endpoint": external_url("oidc_authorize.authorize"),
        "token_endpoint": external_url("oidc_token.token"),
        "userinfo_endpoint": external_url("oidc_userinfo.userinfo"),
        "jwks_uri": external_url("discovery.jwks"),
        "revocation_endpoint": external_url("oidc_token.revoke"),
        "introspection_endpoint": external_url("oidc_token.introspect"),
        "end_session_endpoint": external_url("logout.end_session"),
        "scopes_supported": list(SCOPES),
        # RFC 9700 §2.1.2: the code flow only.
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": list(keys.SUPPORTED_ALGS),
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": list(ALGORITHMS),
        "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "introspection_endpoint_auth_methods_supported": confidential,
        "introspection_endpoint_auth_signing_alg_values_supported": list(ALGORITHMS),
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr",
                             "sid", "azp", "at_hash", *CLAIMS],
        "claim_types_supported": ["normal"],
        "claims_parameter_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "require_request_uri_registration": False,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "display_values_supported": ["page"],
        "acr_values_supported": list(ACR_VALUES),
        "ui_locales_supported": ["vi", "en"],
        # RFC 9207 §3: the authorization response carries iss.
        "authorization_response_iss_parameter_supported": True,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "frontchannel_logout_supported": True,
        "frontchannel_logout_session_supported": True,
    }
    if "registration" in current_app.blueprints:  # RFC 7591 §3, when registration is on
        data["registration_endpoint"] = external_url("registration.register")
    return data


def _document(body: bytes, etag: str, mimetype: str) -> Response:
    """A prepared JSON document; 304 when the client already holds this version
    (RFC 9110 §13.1.2 If-None-Match), so that a poll costs neither side the body."""
    if etag in request.if_none_match:
        response = Response(status=304)
    else:
        response = Response(body, mimetype=mimetype)
    response.set_etag(etag)
    response.headers["Cache-Control"] = f"public, max-age={current_app.config['KEYS_JWKS_CACHE']}"
    return response


def _metadata_document() -> tuple[bytes, str]:
    """The metadata serialised once per app: it changes only with the configuration."""
    cached = current_app.extensions.get("idp.discovery")
    if cached is None:
        body = current_app.json.dumps(metadata()).encode() + b"\n"
        cached = current_app.extensions["idp.discovery"] = (
            body, hashlib.sha256(body).hexdigest()[:32])
    return cached


@bp.get("/.well-known/openid-configuration")
def openid_configuration():
    return _document(*_metadata_document(), "application/json")


@bp.get("/jwks")
def jwks():
    """Every key a relying party may still need: next, active and recently retired."""
    return _document(*keys.jwks_document(), "application/jwk-set+json")
