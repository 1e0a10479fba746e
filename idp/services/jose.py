"""Every JWT the provider reads is verified here, and nowhere else.

One function per token kind, each with the ``typ`` header its specification names and a
joserfc claims registry (``joserfc.jwt.JWTClaimsRegistry``) for the claims it must carry.
A token of one kind can therefore never pass as another: an access token (``at+jwt``) or a
back-channel logout token (``logout+jwt``) is not an ID token, whatever its signature.

Verifiers raise :class:`InvalidJWT` with a short ``reason`` (``malformed``, ``typ``,
``expired``, ``iss``, ``aud``, ``claims``) that each caller maps to the public text of its
own protocol, and a ``detail`` for the log only.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from flask import current_app
from joserfc import jwt
from joserfc.errors import (
    ExpiredTokenError, InvalidClaimError, JoseError, MissingClaimError,
)
from joserfc.jwk import KeySet

from . import keys

# The longest compact JWT we parse; anything longer is refused before any base64 work.
MAX_LENGTH = 8192

# RFC 9068 §4: "Resource servers MUST verify that the typ header value is at+jwt or
# application/at+jwt and reject tokens carrying any other value."
ACCESS_TOKEN_TYP = "at+jwt"
# OIDC Back-Channel Logout 1.0 §2.4: logout tokens are explicitly typed logout+jwt.
LOGOUT_TOKEN_TYP = "logout+jwt"
# RFC 9101 §10.8: request objects are typed oauth-authz-req+jwt.
REQUEST_OBJECT_TYP = "oauth-authz-req+jwt"
# OIDC Core 2 leaves the ID token untyped; ours carry typ "JWT" (RFC 7519 §5.1). Only that
# (or no typ at all) is an ID token: every explicitly typed kind above is something else.
ID_TOKEN_TYPS = (None, "jwt")
# RFC 7523 §3 does not type client assertions; the explicitly typed kinds are refused.
CLIENT_ASSERTION_TYPS = (None, "jwt")

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


class InvalidJWT(Exception):
    """The token cannot be used; ``reason`` says why in one word, ``detail`` for the log."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def _media_type(value: Any) -> str | None:
    # RFC 7515 §4.1.9: "application/" may be omitted from typ, and it compares case-insensitively.
    if value is None:
        return None
    text = str(value).lower()
    return text[len("application/"):] if text.startswith("application/") else text


def _decode(value: Any, keyset: KeySet, algorithms: Collection[str],
            typs: Iterable[str | None] | None):
    if not isinstance(value, str) or not value or len(value) > MAX_LENGTH or value.count(".") != 2:
        raise InvalidJWT("malformed", "not a compact JWS")
    try:
        token = jwt.decode(value, keyset, algorithms=list(algorithms))
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise InvalidJWT("malformed", f"{exc.__class__.__name__}: {exc}") from None
    typ = token.header.get("typ")
    if typs is not None and _media_type(typ) not in tuple(typs):
        raise InvalidJWT("typ", f"typ is {typ!r}")
    return token


def _validate(registry: jwt.JWTClaimsRegistry, claims: dict[str, Any]) -> None:
    try:
        registry.validate(claims)
    except ExpiredTokenError:
        raise InvalidJWT("expired", "exp is in the past") from None
    except (InvalidClaimError, MissingClaimError) as exc:
        claim = str(getattr(exc, "claim", "") or "")
        reason = claim if claim in ("iss", "aud") else "claims"
        raise InvalidJWT(reason, f"{exc.__class__.__name__}: {exc}") from None
    except (JoseError, TypeError, ValueError, OverflowError) as exc:
        raise InvalidJWT("claims", f"{exc.__class__.__name__}: {exc}") from None


class _HintClaims(jwt.JWTClaimsRegistry):
    """An ID token used as a hint may have expired (OIDC Core 3.1.2.1, RP-Initiated Logout §2)."""

    def validate_exp(self, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidClaimError("exp")


def _own(value: Any, typs: Iterable[str | None] | None):
    """A token this provider signed: any key it still publishes, the algorithms it signs with."""
    return _decode(value, keys.public_keyset(), keys.SUPPORTED_ALGS, typs)


def verify_id_token_hint(value: Any) -> dict[str, Any]:
    """The claims of an ID token we issued, expired or not (OIDC Core 3.1.2.1, RP-Initiated
    Logout 1.0 §2): signature, ``iss``, ``sub`` and an ID token's ``typ`` must hold.

    The caller checks the audience against the client it has (at /authorize, the client of
    the request; at /end_session, the client the hint names).
    """
    token = _own(value, ID_TOKEN_TYPS)
    issuer = current_app.config["ISSUER"]
    _validate(_HintClaims(iss={"essential": True, "value": issuer}, sub={"essential": True},
                          aud={"essential": True}), token.claims)
    return token.claims


def verify_access_token(value: Any) -> dict[str, Any]:
    """The claims of a live access token we issued (RFC 9068 §4): typed ``at+jwt``, our
    ``iss``, unexpired, with a ``jti``.  Its status (revoked, logged out) is the caller's."""
    token = _own(value, (ACCESS_TOKEN_TYP,))
    issuer = current_app.config["ISSUER"]
    _validate(jwt.JWTClaimsRegistry(iss={"essential": True, "value": issuer},
                                    exp={"essential": True}, jti={"essential": True}),
              token.claims)
    return token.claims


def signed_claims(value: Any) -> dict[str, Any] | None:
    """The claims of any token we signed, expired or not, of whatever typ, or None: to find
    its stored row (introspection answers from the row; the audit log names its client),
    never for letting it in."""
    try:
        token = _own(value, None)
    except InvalidJWT:
        return None
    return token.claims


def verify_logout_token(value: Any, audience: str) -> dict[str, Any]:
    """A back-channel logout token we issued to ``audience`` (Back-Channel Logout 1.0 §2.6):
    typed ``logout+jwt``, our ``iss``, ``iat``, the logout event, ``sub`` or ``sid``, no nonce."""
    token = _own(value, (LOGOUT_TOKEN_TYP,))
    issuer = current_app.config["ISSUER"]
    claims = token.claims
    _validate(jwt.JWTClaimsRegistry(iss={"essential": True, "value": issuer},
                                    aud={"essential": True, "value": audience},
                                    iat={"essential": True}, jti={"essential": True},
                                    events={"essential": True}), claims)
    events = claims.get("events")
    # §2.4: events MUST contain the back-channel logout member, a JSON object.
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_EVENT), dict):
        raise InvalidJWT("claims", "no back-channel logout event")
    # §2.4: a sub or a sid (or both); §2.6 step 5: a nonce MUST NOT be present.
    if not (isinstance(claims.get("sub"), str) or isinstance(claims.get("sid"), str)) \
            or "nonce" in claims:
        raise InvalidJWT("claims", "no sub or sid, or a nonce")
    return claims


def verify_client_assertion(value: Any, keyset: KeySet, algorithms: Collection[str], *,
                            client_id: str, audiences: Collection[str]) -> dict[str, Any]:
    """A client's signed JWT (RFC 7523 §3, OIDC Core 9 private_key_jwt): ``iss`` and ``sub``
    are the client, ``aud`` names us, ``exp`` in the future, a ``jti`` (its single use is the
    caller's)."""
    token = _decode(value, keyset, algorithms, CLIENT_ASSERTION_TYPS)
    _validate(jwt.JWTClaimsRegistry(iss={"essential": True, "value": client_id},
                                    sub={"essential": True, "value": client_id},
                                    aud={"essential": True, "values": list(audiences)},
                                    exp={"essential": True}, jti={"essential": True}),
              token.claims)
    return token.claims


def verify_request_object(value: Any, keyset: KeySet, algorithms: Collection[str], *,
                          client_id: str) -> dict[str, Any]:
    """A signed request object (RFC 9101 §6.3, §10.8): typed ``oauth-authz-req+jwt``,
    ``iss`` and ``client_id`` are the client, ``aud`` is our issuer, unexpired."""
    token = _decode(value, keyset, algorithms, (REQUEST_OBJECT_TYP,))
    issuer = current_app.config["ISSUER"]
    _validate(jwt.JWTClaimsRegistry(iss={"essential": True, "value": client_id},
                                    client_id={"essential": True, "value": client_id},
                                    aud={"essential": True, "value": issuer},
                                    exp={"essential": True}), token.claims)
    return token.claims
