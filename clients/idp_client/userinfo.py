"""The UserInfo request after sign-in (OIDC Core 5.3): plain JSON or a signed JWT.

Every answer that is not usable becomes a :class:`UserinfoError` saying what the provider
really did; only a network failure is left to the caller as "unreachable".
"""
from __future__ import annotations

import re
from typing import Any

import requests

from .state import AppState
from .tokens import TokenError, verify_signature


class UserinfoError(Exception):
    """The userinfo answer cannot be used; ``error`` and ``description`` are shown on the page."""

    def __init__(self, error: str, description: str, status: int = 502) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


def _media_type(response: requests.Response) -> str:
    return response.headers.get("Content-Type", "").split(";")[0].strip().lower()


def _refused(response: requests.Response) -> UserinfoError:
    """RFC 6750 §3: the error code is in WWW-Authenticate (the body may be empty)."""
    challenge = response.headers.get("WWW-Authenticate", "")
    match = re.search(r'error="([^"]*)"', challenge)
    code = match.group(1) if match else "invalid_token"
    return UserinfoError(code, f"The provider refused the new access token at its userinfo endpoint "
                               f"(HTTP {response.status_code} {code}).")


def _signed_claims(state: AppState, body: str) -> dict[str, Any]:
    """OIDC Core 5.3.2: a signed response is a JWT checked with the provider's keys."""
    if body.count(".") == 4:
        raise UserinfoError("invalid_userinfo", "The userinfo response is encrypted; this client "
                                                "does not register an encryption key.", 400)
    algorithms = state.signing_algorithms("userinfo_signing_alg_values_supported")
    try:
        claims = verify_signature(body.strip(), state.jwks, algorithms).claims
    except TokenError as error:
        raise UserinfoError("invalid_userinfo", f"The signed userinfo response: {error.description}", 400)
    # §5.3.2: if signed, it SHOULD contain iss and aud; when present they must name us.
    if "iss" in claims and claims["iss"] != state.settings.issuer:
        raise UserinfoError("invalid_userinfo", "The signed userinfo response names another issuer.", 400)
    aud = claims.get("aud")
    if aud is not None and state.settings.client_id not in (aud if isinstance(aud, list) else [aud]):
        raise UserinfoError("invalid_userinfo", "The signed userinfo response is for another client.", 400)
    return {k: v for k, v in claims.items() if k not in ("iss", "aud", "exp", "iat", "nbf", "jti")}


def fetch(state: AppState, access_token: str, sub: str) -> dict[str, Any]:
    """The userinfo claims for ``access_token``; their ``sub`` MUST equal the ID token's (§5.3.2)."""
    # A plain bearer call (RFC 6750 §2.1): Authlib's session would refresh a short-lived token here.
    response = requests.get(state.metadata()["userinfo_endpoint"], timeout=state.settings.http_timeout,
                            headers={"Authorization": f"Bearer {access_token}",
                                     "Accept": "application/json, application/jwt"})
    if response.status_code in (401, 403):
        raise _refused(response)
    if response.status_code != 200:
        raise UserinfoError("temporarily_unavailable",
                            f"The provider's userinfo endpoint answered HTTP {response.status_code}.")
    if _media_type(response) == "application/jwt":
        info: Any = _signed_claims(state, response.text)
    else:
        try:
            info = response.json()
        except ValueError:
            raise UserinfoError("invalid_userinfo", "The userinfo response is neither JSON nor a signed JWT "
                                                    f"(Content-Type {_media_type(response) or 'missing'}).")
    if not isinstance(info, dict) or info.get("sub") != sub:
        raise UserinfoError("invalid_userinfo", "The userinfo response is about another user.", 400)
    return info
