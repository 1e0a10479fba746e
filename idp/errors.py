"""Domain errors, their wire codes, and the one handler that answers HTML or JSON.

Each error has a public ``description`` (shown to the user or relying party) and
an optional ``detail`` (written to the log only).  Protocol endpoints answer with
Authlib's RFC 6749 error classes; everything else comes through here.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, render_template, request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from .responses import json_error, no_store

log = logging.getLogger("idp.errors")


class DomainError(Exception):
    """Base of the provider's own errors."""

    code = "server_error"
    status = 400
    description = _l("The request could not be completed.")

    def __init__(self, description: str | None = None, detail: str | None = None):
        super().__init__(description or str(self.description))
        if description is not None:
            self.description = description
        self.detail = detail


class InvalidInput(DomainError):
    code = "invalid_request"
    description = _l("The input is not valid.")


class NotFound(DomainError):
    code = "not_found"
    status = 404
    description = _l("Not found.")


class Conflict(DomainError):
    code = "conflict"
    status = 409
    description = _l("That already exists.")


class AuthenticationFailed(DomainError):
    code = "access_denied"
    status = 401
    description = _l("Wrong username or password.")


class AccountLocked(DomainError):
    code = "access_denied"
    status = 403
    description = _l("This account is temporarily locked. Try again later or ask the helpdesk.")


class AccountDisabled(DomainError):
    code = "access_denied"
    status = 403
    description = _l("This account is disabled.")


class MfaRequired(DomainError):
    code = "interaction_required"
    status = 401
    description = _l("A second factor is required.")


class ClientNotAllowed(DomainError):
    code = "unauthorized_client"
    status = 400
    description = _l("This application is not allowed to make this request.")


class Forbidden(DomainError):
    code = "forbidden"
    status = 403
    description = _l("You do not have permission to do this.")


class ServiceUnavailable(DomainError):
    code = "temporarily_unavailable"
    status = 503
    description = _l("The service is temporarily unavailable. Please try again shortly.")


def wants_json() -> bool:
    """Programs get JSON: API paths, or a client that prefers JSON to HTML."""
    if request.path.startswith(("/api/", "/token", "/introspect", "/revoke", "/userinfo",
                                "/register", "/jwks", "/.well-known/")):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def error_response(code: str, description: str, status: int) -> Response:
    """The one error answer: JSON for programs, the error page for browsers."""
    if wants_json():
        return json_error(code, description, status)
    page = render_template("error.html", code=code, description=description, status=status)
    response = no_store(Response(page, status=status, mimetype="text/html"))
    if status == 503:
        response.headers["Retry-After"] = "5"
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(error: DomainError):
        if error.detail:
            log.info("%s: %s", error.code, error.detail)
        return error_response(error.code, str(error.description), error.status)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        code = {400: "invalid_request", 401: "unauthorized", 403: "forbidden",
                404: "not_found", 405: "method_not_allowed", 413: "request_too_large",
                429: "slow_down"}.get(error.code or 500, "server_error")
        return error_response(code, error.description or error.name, error.code or 500)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError

        if isinstance(error, RecursionError):
            # Input nested deeper than a parser can follow (JSON, JOSE headers) is bad
            # input; the known places refuse it earlier with their protocol's own error.
            log.info("input nested too deeply")
            return error_response("invalid_request", str(InvalidInput.description), 400)
        if isinstance(error, DataError):
            # Input the database cannot hold (a NUL in PostgreSQL text, a number out of
            # range) is bad input, not a server error.
            log.info("input refused by the database: %s", error.orig.__class__.__name__)
            from .extensions import db

            db.session.rollback()
            return error_response("invalid_request", str(InvalidInput.description), 400)
        # A failed connect is an OperationalError whose connection_invalidated is False
        # (nothing was open to invalidate): it is an outage all the same.
        if isinstance(error, (OperationalError, InterfaceError)) or (
            isinstance(error, DBAPIError) and error.connection_invalidated
        ):
            # The database is unreachable: tell the caller to retry (never a traceback).
            log.warning("database unavailable: %s", error.__class__.__name__)
            return error_response("temporarily_unavailable",
                                  str(ServiceUnavailable.description), 503)
        log.exception("unexpected error")
        from .extensions import db

        db.session.rollback()  # leave no half-done transaction to the next use of the session
        return error_response("server_error", "An unexpected error occurred.", 500)
