"""OIDC Discovery 1.0 §3 metadata and the JWKS document (RFC 7517)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from ..services import keys

bp = Blueprint("discovery", __name__)


def metadata() -> dict:
    issuer = current_app.config["ISSUER"]
    return {
        "issuer": issuer,
        "jwks_uri": f"{issuer}/jwks",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": list(keys.SUPPORTED_ALGS),
    }


@bp.get("/.well-known/openid-configuration")
def openid_configuration():
    response = jsonify(metadata())
    response.headers["Cache-Control"] = f"public, max-age={current_app.config['KEYS_JWKS_CACHE']}"
    return response


@bp.get("/jwks")
def jwks():
    response = jsonify(keys.jwks())
    response.headers["Cache-Control"] = f"public, max-age={current_app.config['KEYS_JWKS_CACHE']}"
    return response
