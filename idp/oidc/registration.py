"""Dynamic Client Registration (RFC 7591 §3) and its management (RFC 7592 §2).

POST /register with an initial access token; GET/PUT/DELETE /register/<client_id>
with that client's registration access token.  JSON in, JSON out, no cookies.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from ..errors import DomainError
from ..extensions import csrf, db
from ..models import Client
from ..responses import challenge, json_error, no_store
from ..services import admin_audit, registration
from .protector import Refusal, protector

bp = Blueprint("registration", __name__)
csrf.exempt(bp)


def _error(code: str, description: str, status: int):
    # RFC 6750 §3.1: a missing or bad bearer token is answered with its challenge.
    return json_error(code, description, status,
                      www_authenticate=challenge(error=code) if status == 401 else None)


@bp.errorhandler(DomainError)
def _domain_error(exc: DomainError):
    db.session.rollback()
    return _error(exc.code, str(exc.description), exc.status)


def _bearer() -> str:
    kind, _sep, token = request.headers.get("Authorization", "").partition(" ")
    if kind.lower() != "bearer" or not token.strip():
        raise registration.BadToken("A bearer token is required.")
    return token.strip()


def _registered(client_id: str) -> Client:
    """RFC 7592 §2: the client whose registration access token this request bears, through
    the one resource protector (RFC 6750 answers); a disabled client is a 403 (DomainError)."""
    token = protector.bearer(registration_client=client_id)
    return token.client


@bp.errorhandler(Refusal)
def _refused(refusal: Refusal):
    return refusal.response


def _metadata() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        # RFC 7591 §3.2.2: invalid_client_metadata for a body that is not client metadata.
        raise registration.RegistrationError("invalid_client_metadata",
                                             "The body must be a JSON object.")
    return data


def _json(body: dict, status: int = 200):
    response = jsonify(body)
    response.status_code = status
    # RFC 7591 §3.2.1: responses carry credentials and must not be cached.
    return no_store(response)


@bp.post("/register")
def register():
    """RFC 7591 §3.1: register a client; 201 with its credentials and metadata."""
    try:
        token = _bearer()
        body = registration.register(_metadata(), token, ip=request.remote_addr)
    except registration.BadToken:
        # A missing or wrong initial access token is audited (never the token itself).
        admin_audit.bearer_refused("registration.initial_token_refused",
                                   "invalid" if request.headers.get("Authorization") else "missing",
                                   ip=request.remote_addr)
        raise
    response = _json(body, 201)
    response.headers["Location"] = body["registration_client_uri"]
    return response


@bp.get("/register/<client_id>")
def read(client_id: str):
    """RFC 7592 §2.1: read the client's current configuration."""
    client = _registered(client_id)
    return _json(registration.response_body(client))


@bp.put("/register/<client_id>")
def replace(client_id: str):
    """RFC 7592 §2.2: replace the client's metadata."""
    client = _registered(client_id)
    return _json(registration.replace(client, _metadata(), ip=request.remote_addr))


@bp.delete("/register/<client_id>")
def delete(client_id: str):
    """RFC 7592 §2.3: deprovision the client; 204 No Content."""
    client = _registered(client_id)
    registration.remove(client, ip=request.remote_addr)
    response = _json({}, 204)
    response.set_data(b"")
    return response
