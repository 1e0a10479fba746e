"""Client authentication at the token, revocation and introspection endpoints.

One function decides which method the request uses (RFC 6749 §2.3: exactly one),
checks that it is the method the client registered, and verifies it:
client_secret_basic / client_secret_post (RFC 6749 §2.3.1), private_key_jwt
(RFC 7523 §3, OIDC Core §9) and none for public clients (with PKCE, RFC 7636).

Every failure answers with the same ``invalid_client`` body (RFC 6749 §5.2), so that
nobody learns which client ids exist or how they authenticate; the reason goes to
the log and to a ``client.auth_failed`` audit event.
"""

from __future__ import annotations

import base64
import binascii
import logging
import unicodedata
from urllib.parse import unquote

from authlib.oauth2.rfc6749 import InvalidClientError, InvalidRequestError
from flask import request as flask_request
from sqlalchemy import select

from ..extensions import db
from ..models import Client
from ..services import audit, database
from ..services.clients import check_secret
from . import assertions
from .adapters import OAuthClient

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
REALM = "idp"
GENERIC = "Client authentication failed."
MAX_ID = 64  # the longest client_id we register (clients.client_id)

log = logging.getLogger("idp.oidc.client_auth")


class BasicInvalidClient(InvalidClientError):
    """RFC 6749 §5.2: a client that used the Authorization header gets 401 and a challenge."""

    status_code = 401

    def get_headers(self):
        headers = [h for h in super().get_headers() if h[0] != "WWW-Authenticate"]
        headers.append(("WWW-Authenticate", f'Basic realm="{REALM}", error="invalid_client"'))
        return headers


class _Failure(Exception):
    """Why authentication failed: for the log and the audit trail, never the wire."""

    def __init__(self, reason: str, client_id: str | None = None):
        super().__init__(reason)
        self.reason, self.client_id = reason, client_id


class _MethodFailure(_Failure):
    """The credentials of ``method`` could not even be read (a malformed header)."""

    def __init__(self, method: str, reason: str):
        super().__init__(reason)
        self.method = method


def _basic(header: str) -> tuple[str, str | None]:
    """RFC 7617 credentials, form-decoded as RFC 6749 §2.3.1 asks; UTF-8 or refused."""
    try:
        raw = base64.b64decode(header.split(None, 1)[1].strip(), validate=True)
        text = raw.decode("utf-8")
    except (IndexError, binascii.Error, ValueError):
        # Not base64, or bytes that are not UTF-8 (latin-1, say): not a credential at all.
        raise _MethodFailure("client_secret_basic",
                             "The Basic credentials are not base64 of UTF-8 text.") from None
    client_id, sep, secret = text.partition(":")
    try:
        return unquote(client_id, errors="strict"), \
            unquote(secret, errors="strict") if sep else None
    except UnicodeDecodeError:
        raise _MethodFailure("client_secret_basic",
                             "The Basic credentials are not form-encoded UTF-8.") from None


def _method_and_id(request) -> tuple[str, str | None, str | None]:
    form = request.form
    used = []
    header = request.headers.get("Authorization", "")
    if header[:6].lower() == "basic ":
        basic_id, basic_secret = _basic(header)
        used.append(("client_secret_basic", basic_id, basic_secret))
    if form.get("client_secret") is not None:
        used.append(("client_secret_post", form.get("client_id"), form.get("client_secret")))
    if form.get("client_assertion") is not None or form.get("client_assertion_type") is not None:
        used.append(("private_key_jwt", None, form.get("client_assertion")))
    if len(used) > 1:
        # RFC 6749 §2.3: a client MUST NOT use more than one authentication method per request.
        raise InvalidRequestError("The client used more than one authentication method.")
    if not used:
        return "none", form.get("client_id"), None
    return used[0]


def _client(method: str, client_id: str | None, credential: str | None, form,
            allowed: list[str]) -> Client:
    """The client the credentials prove, or _Failure with the reason."""
    if method == "private_key_jwt":
        if form.get("client_assertion_type") != JWT_BEARER:
            raise _Failure("client_assertion_type is not jwt-bearer.")
        try:
            client_id = assertions.unverified_issuer(credential or "")
        except InvalidClientError as error:
            raise _Failure(error.description or "The client assertion is malformed.") from None
    form_id = form.get("client_id")
    if form_id and client_id and form_id != client_id:
        raise _Failure("The client_id does not match the client's credentials.", client_id)
    row = db.session.execute(
        select(Client).where(Client.client_id == client_id)
    ).scalar_one_or_none() if _plausible(client_id) else None
    if row is None:
        raise _Failure("No such client.", client_id)
    if not row.enabled:
        raise _Failure("The client is disabled.", client_id)
    if method != row.token_endpoint_auth_method or method not in allowed:
        raise _Failure(f"Used {method}; registered {row.token_endpoint_auth_method}.", client_id)
    if method in ("client_secret_basic", "client_secret_post"):
        if not credential or not check_secret(row, credential):
            raise _Failure("Wrong client secret.", client_id)
    elif method == "private_key_jwt":
        try:
            assertions.verify(row, credential or "")
        except InvalidClientError as error:
            raise _Failure(error.description or "The client assertion is invalid.", client_id) \
                from None
    return row


def _plausible(client_id: str | None) -> bool:
    """Worth a query: no client id of ours is this long or holds a NUL (PostgreSQL refuses it)."""
    return bool(client_id) and len(client_id) <= MAX_ID and client_id.isprintable()


def authenticate(request, endpoint: str, allowed: list[str]) -> OAuthClient:
    """The authenticated client, or InvalidClientError with one generic description."""
    try:
        method, client_id, credential = _method_and_id(request)
    except _MethodFailure as failure:
        _record(endpoint, failure.method, None, failure.reason)
        raise BasicInvalidClient(description=GENERIC) from None
    try:
        row = _client(method, client_id, credential, request.form, allowed)
    except _Failure as failure:
        _record(endpoint, method, failure.client_id, failure.reason)
        cls = BasicInvalidClient if method == "client_secret_basic" else InvalidClientError
        raise cls(description=GENERIC) from None
    request.auth_method = method
    return OAuthClient(row)


def _printable(value: str | None, limit: int) -> str | None:
    """The client_id as given, safe to store: no control characters (NUL), bounded."""
    if value is None:
        return None
    clean = "".join(c if unicodedata.category(c)[0] != "C" else "\ufffd" for c in value)
    return clean[:limit]


def _record(endpoint: str, method: str, client_id: str | None, reason: str) -> None:
    """ASVS 7.2.1: every failed client authentication is logged and audited (no secret)."""
    given = _printable(client_id, 128)
    log.warning("client authentication failed at %s: client %r (%s): %s",
                endpoint, given, method, reason)
    db.session.rollback()  # nothing of the failed request is kept, the event is
    audit.record("client.auth_failed", outcome="failure", actor=given,
                 client=given[:64] if given else None, ip=flask_request.remote_addr or "",
                 details={"endpoint": endpoint, "method": method, "reason": reason})
    database.commit_before_error()  # the error response rolls back; the event stays
