"""JWT checks the adapter does beyond Authlib's ID token parsing: signature against a JWKS
that is re-fetched on an unknown ``kid``, and the logout token of Back-Channel Logout 1.0.

No Flask here: callers pass the issuer, client_id, a JWKS loader and a jti recorder.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Collection
from typing import Any

from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
# OIDC Back-Channel Logout 1.0 §2.4: explicit typing with "logout+jwt" is recommended;
# tokens without typ (or plain "JWT") from older providers are still accepted.
LOGOUT_TYPES = {None, "JWT", "logout+jwt", "application/logout+jwt"}

JwksLoader = Callable[[bool], dict[str, Any]]


class TokenError(Exception):
    """A token failed validation; ``description`` is safe to show to the sender."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


def verify_signature(value: str, load_jwks: JwksLoader, algorithms: Collection[str]) -> jwt.Token:
    """Decode a JWS-signed JWT, refreshing the JWKS once when its ``kid`` is unknown.

    OIDC Core 10.1.1: the OP may rotate keys at any time; an unknown kid means re-fetch.
    """
    if "none" in algorithms:
        raise ValueError("The 'none' algorithm is never accepted (OIDC Core 3.1.3.7 step 6).")
    registry = JWSRegistry(algorithms=list(algorithms), strict_check_header=False)
    try:
        try:
            return jwt.decode(value, KeySet.import_key_set(load_jwks(False)), registry=registry)
        except InvalidKeyIdError:
            return jwt.decode(value, KeySet.import_key_set(load_jwks(True)), registry=registry)
    except JoseError as error:
        raise TokenError(f"The token signature is not valid ({error.error}).") from error
    except ValueError as error:  # not a compact JWS at all
        raise TokenError("The token is not a well-formed signed JWT.") from error


def _check_time(claims: dict[str, Any], max_age: int, leeway: int) -> None:
    now = time.time()
    iat = claims.get("iat")
    if not isinstance(iat, (int, float)) or isinstance(iat, bool):
        raise TokenError("The iat claim is missing.")
    # OIDC Back-Channel Logout 1.0 §2.6 step 3: validate iat as for an ID token (Core 3.1.3.7).
    if iat > now + leeway or iat < now - max_age - leeway:
        raise TokenError("The token was not issued recently (iat).")
    exp = claims.get("exp")
    if exp is not None and (not isinstance(exp, (int, float)) or exp <= now - leeway):
        raise TokenError("The token has expired (exp).")


def _check_audience(claims: dict[str, Any], issuer: str, client_id: str) -> None:
    if claims.get("iss") != issuer:
        raise TokenError("The iss claim does not name the expected issuer.")
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if client_id not in audiences:
        raise TokenError("The aud claim does not contain this client.")


def validate_logout_token(
    value: str,
    *,
    issuer: str,
    client_id: str,
    load_jwks: JwksLoader,
    remember_jti: Callable[[str, float], bool],
    algorithms: Collection[str] = ("RS256",),
    max_age: int = 300,
    leeway: int = 60,
) -> dict[str, Any]:
    """Validate a logout token per OIDC Back-Channel Logout 1.0 §2.6 and return its claims."""
    if not value:
        raise TokenError("The logout_token parameter is missing.")
    token = verify_signature(value, load_jwks, algorithms)  # §2.6 step 2
    if token.header.get("typ") not in LOGOUT_TYPES:
        raise TokenError("The typ header is not logout+jwt.")
    claims = token.claims
    _check_audience(claims, issuer, client_id)  # §2.6 step 3
    _check_time(claims, max_age, leeway)
    if not (isinstance(claims.get("sid"), str) or isinstance(claims.get("sub"), str)):
        raise TokenError("The token contains neither sid nor sub.")  # §2.6 step 4
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_EVENT), dict):
        raise TokenError("The events claim lacks the back-channel logout event.")  # §2.6 step 5
    if "nonce" in claims:
        # OIDC Back-Channel Logout 1.0 §2.6 step 6: a logout token MUST NOT contain a nonce.
        raise TokenError("A logout token must not contain a nonce.")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise TokenError("The jti claim is missing.")  # §2.4: jti REQUIRED
    # §2.6 step 7: the RP MAY check the jti was not seen before; keep it until it cannot pass iat.
    if not remember_jti(jti, time.time() + max_age + 2 * leeway):
        raise TokenError("This logout token was already used (jti replayed).")
    return claims
