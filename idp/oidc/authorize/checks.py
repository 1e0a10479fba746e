"""Validation of an authorization request: an ordered list of small checks.

Until the client and its redirect_uri are known to be good, an error is shown as
a page and never redirected (RFC 6749 §4.1.2.1); after that, errors go back to
the client with ``error``, ``error_description``, ``state`` and ``iss``.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import (InvalidRequestError, InvalidScopeError,
                                    UnauthorizedClientError, UnsupportedResponseTypeError)
from authlib.oidc.core.errors import RequestNotSupportedError, RequestURINotSupportedError
from flask_babel import gettext as _
from sqlalchemy import select

from ... import web
from ...extensions import db
from ...models import Client
from ...services import claims as claims_service
from ...services import jose
from ...sso import ACR_MFA
from .request import AuthRequest

CHALLENGE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")  # RFC 7636 §4.2
PROMPTS = {"none", "login", "consent", "select_account"}
RESPONSE_MODES = {"query", "form_post"}


class PageError(Exception):
    """An error shown to the user, never sent to the (unverified) redirect_uri."""

    def __init__(self, code: str, description: str):
        super().__init__(description)
        self.code, self.description = code, description


def check_client(req: AuthRequest) -> None:
    """RFC 6749 §4.1.2.1: an unknown or disabled client is never redirected to."""
    client_id = req.get("client_id")
    if not client_id:
        raise PageError("invalid_request", _("The request does not name an application (client_id)."))
    if "client_id" in req.repeated:
        raise PageError("invalid_request", _("The client_id parameter is repeated."))
    client = db.session.execute(select(Client).where(Client.client_id == client_id)).scalar_one_or_none()
    if client is None or not client.enabled:
        raise PageError("invalid_client", _("This application is not registered or is disabled."))
    req.client = client


def check_redirect_uri(req: AuthRequest) -> None:
    """OIDC Core §3.1.2.1: redirect_uri is required; RFC 9700 §2.1: exact string match."""
    uri = req.get("redirect_uri")
    if not uri or "redirect_uri" in req.repeated:
        raise PageError("invalid_request", _("The request has no redirect_uri."))
    registered = req.client.redirect_uris or []
    exact = uri in registered
    if not exact and not (req.client.client_type == "native" and loopback_match(uri, registered)):
        raise PageError("invalid_request",
                        _("The redirect_uri is not registered for this application."))
    req.redirect_uri = uri


def loopback_match(uri: str, registered: list[str]) -> bool:
    """RFC 8252 §7.3: a native app's loopback IP redirect URI may use any port.

    Everything but the port must match a registered http URI on 127.0.0.1 or [::1]
    (not ``localhost``, §8.3); no user information, no fragment.
    """
    try:
        asked = urlsplit(uri)
        port = asked.port
    except ValueError:
        return False
    if (asked.scheme != "http" or asked.hostname not in {"127.0.0.1", "::1"}
            or asked.username is not None or asked.fragment or "#" in uri
            or (port is not None and not 0 < port < 65536)):
        return False
    for candidate in registered:
        known = urlsplit(candidate)
        if (known.scheme, known.hostname, known.path, known.query, known.username) == (
                "http", asked.hostname, asked.path, asked.query, None):
            return True
    return False


def check_response_mode(req: AuthRequest) -> None:
    """OAuth 2.0 Form Post Response Mode: query (default) and form_post only."""
    mode = req.get("response_mode") or "query"
    if mode not in RESPONSE_MODES:
        raise InvalidRequestError("Unsupported response_mode; use query or form_post.")
    req.response_mode = mode


def check_repeated(req: AuthRequest) -> None:
    """RFC 6749 §3.1: parameters MUST NOT be included more than once."""
    if req.repeated:
        raise InvalidRequestError(f"The parameter {req.repeated[0]} is repeated.")


def check_request_object(req: AuthRequest) -> None:
    """OIDC Core §6: request objects are not supported (discovery says so)."""
    if req.get("request"):
        raise RequestNotSupportedError("The request parameter is not supported.")
    if req.get("request_uri"):
        raise RequestURINotSupportedError("The request_uri parameter is not supported.")


def check_response_type(req: AuthRequest) -> None:
    """RFC 9700 §2.1.2: only the code flow; implicit and hybrid are not offered."""
    response_type = req.get("response_type")
    if not response_type:
        raise InvalidRequestError("The response_type parameter is missing.")
    if response_type != "code":
        raise UnsupportedResponseTypeError(response_type)
    if "authorization_code" not in (req.client.grant_types or []):
        raise UnauthorizedClientError("This client may not use the authorization code flow.")


def check_scope(req: AuthRequest) -> None:
    """OIDC Core §3.1.2.1: openid is required; unknown or unregistered scopes are ignored."""
    asked = (req.get("scope") or "").split()
    if "openid" not in asked:
        raise InvalidScopeError("The openid scope is required.")
    registered = set((req.client.scope or "").split()) | {"openid"}
    scopes = [s for s in claims_service.known_scopes(asked) if s in registered]
    if "offline_access" in scopes:
        # OIDC Core §11: offline_access only with prompt=consent (trusted first-party
        # apps excepted) and only for clients that may use refresh tokens.
        consent_asked = "consent" in (req.get("prompt") or "").split()
        allowed = "refresh_token" in (req.client.grant_types or [])
        if not allowed or not (consent_asked or req.client.trusted):
            scopes.remove("offline_access")
    req.scopes = ["openid"] + [s for s in scopes if s != "openid"]


def check_pkce(req: AuthRequest) -> None:
    """RFC 7636 and RFC 9700 §2.1.1: S256 only; required from public clients always and
    from confidential ones unless registered otherwise (``pkce_required``)."""
    challenge, method = req.get("code_challenge"), req.get("code_challenge_method")
    if challenge is None:
        if method:
            raise InvalidRequestError("code_challenge_method was sent without code_challenge.")
        if req.client.is_public:
            raise InvalidRequestError("Public clients must use PKCE (code_challenge with S256).")
        if req.client.pkce_required is not False:
            raise InvalidRequestError("This client must use PKCE (code_challenge with S256).")
        return
    if method != "S256":
        # Without a method RFC 7636 §4.3 means plain, which is refused.
        raise InvalidRequestError("code_challenge_method must be S256.")
    if not CHALLENGE.match(challenge):
        raise InvalidRequestError("The code_challenge is malformed.")


def check_nonce(req: AuthRequest) -> None:
    """OIDC Core §3.1.2.1: nonce is optional for the code flow and carried into the ID token."""
    if len(req.get("nonce") or "") > 512:
        raise InvalidRequestError("The nonce is too long.")


def check_prompt(req: AuthRequest) -> None:
    """OIDC Core §3.1.2.1: none, login, consent, select_account; none stands alone."""
    prompt = set((req.get("prompt") or "").split())
    if prompt - PROMPTS:
        raise InvalidRequestError("Unsupported prompt value.")
    if "none" in prompt and len(prompt) > 1:
        raise InvalidRequestError("prompt=none cannot be combined with other values.")
    req.prompt = prompt


def check_max_age(req: AuthRequest) -> None:
    """OIDC Core §3.1.2.1: max_age is a number of seconds."""
    value = req.get("max_age")
    if value is None:
        return
    if not value.isdigit() or len(value) > 10:
        raise InvalidRequestError("max_age must be a whole number of seconds.")
    req.max_age = int(value)


def check_claims(req: AuthRequest) -> None:
    """OIDC Core §5.5: a JSON object with optional userinfo and id_token members."""
    raw = req.get("claims")
    if raw is None:
        return
    try:
        value = web.load_json(raw)  # depth-limited: [[[[… is refused, not a RecursionError
    except ValueError:
        raise InvalidRequestError("The claims parameter is not valid JSON.") from None
    if not isinstance(value, dict) or any(
        not isinstance(value.get(member, {}), dict) or
        any(spec is not None and not isinstance(spec, dict) for spec in value.get(member, {}).values())
        for member in ("userinfo", "id_token")
    ):
        raise InvalidRequestError("The claims parameter is not a valid claims request.")
    req.claims = {m: value[m] for m in ("userinfo", "id_token") if m in value}


def check_acr_values(req: AuthRequest) -> None:
    """OIDC Core §3.1.2.1 acr_values, and an acr asked for in the claims parameter (§5.5.1.1)."""
    values = (req.get("acr_values") or "").split()
    acr = ((req.claims or {}).get("id_token") or {}).get("acr") or {}
    if acr.get("essential") and ACR_MFA in (acr.get("values") or [acr.get("value")]):
        values.append(ACR_MFA)
    req.acr_values = values


def check_id_token_hint(req: AuthRequest) -> None:
    """OIDC Core §3.1.2.1: an ID token we issued to this client, even if expired.

    services.jose checks the signature, iss and the ID token's typ, so that an access token
    (RFC 9068 §4, at+jwt) or a logout token (Back-Channel Logout §2.4, logout+jwt) is refused.
    """
    hint = req.get("id_token_hint")
    if not hint:
        return
    try:
        claims = jose.verify_id_token_hint(hint)
    except jose.InvalidJWT:
        raise InvalidRequestError("The id_token_hint is not a valid ID token.") from None
    audience = claims.get("aud")
    audience = audience if isinstance(audience, list) else [audience]
    if req.client.client_id not in audience:
        raise InvalidRequestError("The id_token_hint was not issued to this client.")
    req.hint_sub = claims.get("sub")


# The order in which the specifications validate a request. Read top to bottom.
CHECKS = (
    check_client,
    check_redirect_uri,
    check_response_mode,
    check_repeated,
    check_request_object,
    check_response_type,
    check_scope,
    check_pkce,
    check_nonce,
    check_prompt,
    check_max_age,
    check_claims,
    check_acr_values,
    check_id_token_hint,
)
