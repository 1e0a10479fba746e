"""Client authentication at the token, revocation and introspection endpoints.

One function decides which method the request uses (RFC 6749 §2.3: exactly one),
checks that it is the method the client registered, and verifies it:
client_secret_basic / client_secret_post (RFC 6749 §2.3.1), private_key_jwt
(RFC 7523 §3, OIDC Core §9) and none for public clients (with PKCE, RFC 7636).
"""

from __future__ import annotations

from authlib.oauth2.rfc6749 import InvalidClientError, InvalidRequestError
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from sqlalchemy import select

from ..extensions import db
from ..models import Client
from ..services.clients import check_secret
from . import assertions
from .adapters import OAuthClient

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
REALM = "idp"


class BasicInvalidClient(InvalidClientError):
    """RFC 6749 §5.2: a client that used the Authorization header gets 401 and a challenge."""

    status_code = 401

    def get_headers(self):
        headers = [h for h in super().get_headers() if h[0] != "WWW-Authenticate"]
        headers.append(("WWW-Authenticate", f'Basic realm="{REALM}", error="invalid_client"'))
        return headers


def _fail(method: str, description: str) -> InvalidClientError:
    cls = BasicInvalidClient if method == "client_secret_basic" else InvalidClientError
    return cls(description=description)


def _method_and_id(request) -> tuple[str, str | None, str | None]:
    form = request.form
    used = []
    basic_id, basic_secret = extract_basic_authorization(request.headers)
    if request.headers.get("Authorization", "").lower().startswith("basic "):
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


def authenticate(request, endpoint: str, allowed: list[str]) -> OAuthClient:
    """The authenticated client, or InvalidClientError (never a hint of which part was wrong)."""
    method, client_id, credential = _method_and_id(request)
    if method == "private_key_jwt":
        if request.form.get("client_assertion_type") != JWT_BEARER:
            raise InvalidClientError(description="client_assertion_type must be "
                                                 "urn:ietf:params:oauth:client-assertion-type:jwt-bearer.")
        client_id = assertions.unverified_issuer(credential or "")
    form_id = request.form.get("client_id")
    if form_id and client_id and form_id != client_id:
        raise _fail(method, "The client_id does not match the client's credentials.")
    row = db.session.execute(
        select(Client).where(Client.client_id == (client_id or ""))
    ).scalar_one_or_none() if client_id else None
    if row is None or not row.enabled:
        raise _fail(method, "Client authentication failed.")
    if method != row.token_endpoint_auth_method or method not in allowed:
        raise _fail(method, f"This client must authenticate with {row.token_endpoint_auth_method}.")
    if method in ("client_secret_basic", "client_secret_post"):
        if not credential or not check_secret(row, credential):
            raise _fail(method, "Client authentication failed.")
    elif method == "private_key_jwt":
        assertions.verify(row, credential or "")
    request.auth_method = method
    return OAuthClient(row)
