"""The admin API's door: bearer access tokens with admin scopes (RFC 6750), JSON errors."""

from __future__ import annotations

from functools import wraps
from typing import Any, Callable

from flask import g, jsonify, request
from flask_babel import gettext as _
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException

from ..errors import DomainError
from ..extensions import db
from ..oidc.protector import Refusal, ScopeMissing, answer, protector
from ..responses import challenge, json_error, no_store
from ..services import admin_audit, admin_clients, admin_users, tokens
from ..services.admin_audit import Actor
from ..services.admin_fields import FieldErrors
from . import api

ADMIN_SCOPES = ("admin.clients", "admin.staff", "admin.audit")
STATUS_CODES = {400: "invalid_request", 401: "invalid_token", 403: "insufficient_scope",
                404: "not_found", 405: "method_not_allowed", 409: "conflict",
                413: "request_too_large", 415: "unsupported_media_type", 422: "invalid_input"}


def error(status: int, description: str, code: str | None = None, **extra: Any):
    """The one JSON error shape; ``extra`` holds per-field details (``fields``)."""
    code = code or STATUS_CODES.get(status, "server_error")
    # RFC 6750 §3: a 401 names the scheme and the error; so does a too-narrow token.
    wants_challenge = status == 401 or (status == 403 and code == "insufficient_scope")
    return json_error(code, description, status,
                      www_authenticate=challenge(error=code) if wants_challenge else None, **extra)


@api.errorhandler(DomainError)
def _domain_error(exc: DomainError):
    db.session.rollback()
    extra = {"fields": exc.errors} if isinstance(exc, FieldErrors) else {}
    code = {"invalid_request": "invalid_input", "forbidden": "forbidden"}.get(exc.code, exc.code)
    if isinstance(exc, (admin_clients.ProtectedClient, admin_users.ProtectedAccount)):
        # RFC 6750 §3.1: the token is fine but too narrow; every admin scope is needed.
        return answer(ScopeMissing(ADMIN_SCOPES, str(exc.description)))
    return error(exc.status, str(exc.description), code, **extra)


@api.errorhandler(DataError)
def _data_error(exc: DataError):
    # A value the database cannot hold (a NUL in PostgreSQL text): bad input, not a 500.
    db.session.rollback()
    return error(400, _("The request contains characters that cannot be stored."))


@api.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    return error(exc.code or 500, exc.description or exc.name)


def _refuse(refusal: Refusal, scope: str, token: str | None):
    """Answer RFC 6750 §3 (the protector's answer) and audit the refusal (the reason,
    never the token itself)."""
    error = refusal.error
    code = getattr(error, "error", "invalid_token")
    reason = {"missing_authorization": "missing", "invalid_request": "invalid_request",
              "insufficient_scope": "insufficient_scope"}.get(code, "invalid")
    details = {"required_scope": scope, "method": request.method, "path": request.path[:200]}
    if reason == "invalid":
        # the verifier's fixed public reason (expired, revoked…)
        details["description"] = (refusal.response.get_json(silent=True) or {}).get(
            "error_description")
    client = None
    if reason == "insufficient_scope":
        held = getattr(error, "token", None)
        client = held.claims.get("client_id") if held is not None else None
    elif token:
        client = _token_client(token)
    admin_audit.bearer_refused("admin_api.token_refused", reason, ip=request.remote_addr,
                               client=client, details=details)
    return refusal.response


def _token_client(token: str) -> str | None:
    """The client an expired or revoked token of ours was issued to (signature checked)."""
    row = tokens.find_by_access_token(token)
    return row.client.client_id if row is not None and row.client is not None else None


def _presented() -> str | None:
    kind, _sep, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if kind.lower() == "bearer" and token.strip() else None


def require_scope(scope: str) -> Callable:
    """Run the view only for a live access token that carries ``scope`` (the protector)."""
    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            try:
                token = protector.bearer(scope)
            except Refusal as refusal:
                return _refuse(refusal, scope, _presented())
            g.api_claims, g.api_scopes = token.claims, token.scopes
            return view(*args, **kwargs)

        wrapped.required_scope = scope  # type: ignore[attr-defined]
        return wrapped

    return decorate


def created(result: dict[str, Any], location: str | None = None, *, secret: bool = False):
    """A 201 answer; ``secret`` when it carries something shown only once (no-store)."""
    response = jsonify(result)
    response.status_code = 201
    if location:
        response.headers["Location"] = location
    return no_store(response) if secret else response


def actor() -> Actor:
    """The calling program; a full administrator only if its token holds every admin scope."""
    claims = g.api_claims
    return Actor(name=f"client:{claims.get('client_id') or claims.get('sub')}", ip=request.remote_addr,
                 full_admin=set(ADMIN_SCOPES) <= g.api_scopes)


def body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise FieldErrors({"body": _("The body must be a JSON object.")})
    return data
