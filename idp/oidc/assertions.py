"""private_key_jwt: client assertions signed with the client's own key.

RFC 7523 §3 and OIDC Core §9: iss and sub are the client_id, aud is the token
endpoint (or the issuer), exp is required, and a jti is never accepted twice.
Only asymmetric algorithms are accepted: ``none`` and HMAC (which would let a
public key be used as a shared secret) are refused.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import requests
from authlib.oauth2.rfc6749 import InvalidClientError
from flask import current_app
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Client, UsedJti, utcnow

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
JWKS_TIMEOUT = 5  # seconds to wait for a client's jwks_uri
JWKS_CACHE = 300  # seconds a fetched client JWKS is reused
MAX_LIFETIME = 600  # an assertion may not be valid for longer than this
LEEWAY = 30  # seconds of clock difference tolerated

_cache_lock = threading.Lock()
_jwks_cache: dict[str, tuple[float, dict]] = {}


def _invalid(description: str) -> InvalidClientError:
    return InvalidClientError(description=description)


def unverified_issuer(assertion: str) -> str | None:
    """The ``iss`` (= client_id) of an assertion, read before its key is known."""
    try:
        payload = json.loads(jws.extract_compact(assertion.encode()).payload)
    except (JoseError, ValueError, TypeError):
        raise _invalid("The client assertion is malformed.") from None
    issuer = payload.get("iss") if isinstance(payload, dict) else None
    return issuer if isinstance(issuer, str) else None


def fetch_jwks(uri: str, *, refresh: bool = False) -> dict:
    """A client's JWKS from its jwks_uri, cached for JWKS_CACHE seconds."""
    now = time.monotonic()
    with _cache_lock:
        cached = _jwks_cache.get(uri)
    if cached and not refresh and now - cached[0] < JWKS_CACHE:
        return cached[1]
    try:
        response = requests.get(uri, timeout=JWKS_TIMEOUT, headers={"Accept": "application/json"})
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError):
        raise _invalid("The client's jwks_uri could not be read.") from None
    with _cache_lock:
        _jwks_cache[uri] = (now, document)
    return document


def _keyset(client: Client, *, refresh: bool = False) -> KeySet:
    document = client.jwks or (fetch_jwks(client.jwks_uri, refresh=refresh) if client.jwks_uri else None)
    if not document or not isinstance(document.get("keys"), list):
        raise _invalid("The client has no registered keys.")
    public = [k for k in document["keys"] if isinstance(k, dict) and k.get("kty") in {"RSA", "EC"}]
    try:
        return KeySet.import_key_set({"keys": public})
    except (JoseError, ValueError, TypeError):
        raise _invalid("The client's keys cannot be read.") from None


def _decode(client: Client, assertion: str):
    header = jws.extract_compact(assertion.encode()).protected
    if header.get("alg") not in ALGORITHMS:
        raise _invalid("The client assertion must be signed with an asymmetric algorithm.")
    for refresh in (False, True):
        keyset = _keyset(client, refresh=refresh)
        kid = header.get("kid")
        if kid is None or any(k.kid == kid for k in keyset.keys):
            break
        if not client.jwks_uri:
            break
    try:
        return jwt.decode(assertion, keyset, algorithms=list(ALGORITHMS))
    except (JoseError, ValueError):
        raise _invalid("The client assertion signature is invalid.") from None


def _check_claims(client: Client, claims: dict) -> datetime:
    cfg = current_app.config
    if claims.get("iss") != client.client_id or claims.get("sub") != client.client_id:
        raise _invalid("The client assertion's iss and sub must be the client_id.")
    audience = claims.get("aud")
    audience = audience if isinstance(audience, list) else [audience]
    if not {f"{cfg['ISSUER']}/token", cfg["ISSUER"]} & set(audience):
        raise _invalid("The client assertion's aud must be the token endpoint.")
    exp, now = claims.get("exp"), time.time()
    if not isinstance(exp, (int, float)):
        raise _invalid("The client assertion has no exp.")
    if exp + LEEWAY < now:
        raise _invalid("The client assertion expired.")
    if exp > now + MAX_LIFETIME:
        raise _invalid("The client assertion is valid for too long.")
    # RFC 7523 §3: a JWT used before its nbf MUST be rejected; an iat in the future is
    # as impossible. Only the clock difference (LEEWAY) is tolerated.
    for name in ("nbf", "iat"):
        value = claims.get(name)
        if value is None:
            continue
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise _invalid(f"The client assertion's {name} is not a number.")
        if value > now + LEEWAY:
            raise _invalid(f"The client assertion's {name} is in the future.")
    if not isinstance(claims.get("jti"), str) or not claims["jti"]:
        raise _invalid("The client assertion has no jti.")
    return datetime.fromtimestamp(exp, UTC) + timedelta(seconds=LEEWAY)


def _remember_jti(client: Client, jti: str, expires_at: datetime) -> None:
    """RFC 7523 §3: a jti is accepted once. The unique constraint decides races."""
    db.session.execute(delete(UsedJti).where(UsedJti.expires_at < utcnow()))
    try:
        with db.session.begin_nested():
            db.session.add(UsedJti(client_id=client.id, jti=jti[:255], expires_at=expires_at))
    except IntegrityError:
        raise _invalid("The client assertion was already used.") from None
    db.session.commit()


def verify(client: Client, assertion: str) -> None:
    """Verify a client assertion for ``client`` or raise InvalidClientError."""
    token = _decode(client, assertion)
    expires_at = _check_claims(client, token.claims)
    _remember_jti(client, token.claims["jti"], expires_at)
