"""private_key_jwt: client assertions signed with the client's own key.

RFC 7523 §3 and OIDC Core §9: iss and sub are the client_id, aud is the token
endpoint (or the issuer), exp is required, and a jti is never accepted twice.
Only asymmetric algorithms are accepted: ``none`` and HMAC (which would let a
public key be used as a shared secret) are refused.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from authlib.oauth2.rfc6749 import InvalidClientError
from flask import current_app
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from .. import web
from ..extensions import db
from ..models import Client, UsedJti, utcnow
from ..services import database, outbound, throttle
from ..urls import external_url

log = logging.getLogger("idp.oidc")

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
MAX_LIFETIME = 600  # an assertion may not be valid for longer than this
LEEWAY = 30  # seconds of clock difference tolerated


@dataclass(frozen=True)
class _Fetched:
    at: float  # time.monotonic() of the fetch
    document: dict | None  # None: the fetch failed (remembered too)


# Per process: what each jwks_uri gave, and which are being fetched right now.
_cache_lock = threading.Lock()
_jwks_cache: dict[str, _Fetched] = {}
_in_flight: set[str] = set()


def _invalid(description: str) -> InvalidClientError:
    return InvalidClientError(description=description)


def unverified_issuer(assertion: str) -> str | None:
    """The ``iss`` (= client_id) of an assertion, read before its key is known."""
    try:
        payload = web.load_json(jws.extract_compact(assertion.encode()).payload)
    except (JoseError, ValueError, TypeError, RecursionError):
        raise _invalid("The client assertion is malformed.") from None
    issuer = payload.get("iss") if isinstance(payload, dict) else None
    return issuer if isinstance(issuer, str) else None


def _may_refetch(client: Client) -> bool:
    """At most one fetch per client per IDP_OUTBOUND_JWKS_REFETCH, counted across nodes.

    The shared counters (the database, or Redis) decide: the first caller of the
    window gets 1 and may fetch; everyone else is refused at once, never queued.
    """
    window = current_app.config["OUTBOUND_JWKS_REFETCH"]
    return throttle.store().incr(f"jwks:{client.id}", utcnow(), window) == 1


def _download(uri: str) -> dict | None:
    cfg = current_app.config
    try:
        reply = outbound.send("GET", uri, outbound.policy(cfg), timeout=cfg["OUTBOUND_JWKS_TIMEOUT"],
                              max_bytes=cfg["OUTBOUND_JWKS_MAX_BYTES"],
                              headers={"Accept": "application/json"})
        document = web.load_json(reply.body) if reply.status == 200 else None
    except (outbound.Refused, outbound.OutboundError, ValueError) as exc:
        log.info("jwks_uri %s could not be read: %s", uri, exc)
        return None
    return document if isinstance(document, dict) else None


def fetch_jwks(client: Client, *, refresh: bool = False) -> tuple[dict, bool]:
    """The client's JWKS from its jwks_uri and whether it was fetched just now.

    A document (or a failure) is reused for IDP_OUTBOUND_JWKS_CACHE (a failure for
    IDP_OUTBOUND_JWKS_REFETCH) seconds; ``refresh`` asks for a new fetch, which only
    the first caller of a refetch window gets. A request never waits for another's
    fetch: while one is in flight the others are answered invalid_client at once.
    """
    uri, cfg, now = client.jwks_uri, current_app.config, time.monotonic()
    with _cache_lock:
        cached = _jwks_cache.get(uri)
    ttl = cfg["OUTBOUND_JWKS_CACHE"] if cached and cached.document else cfg["OUTBOUND_JWKS_REFETCH"]
    if cached is not None and now - cached.at < ttl:
        if not refresh or not _may_refetch(client):
            if cached.document is None:
                raise _invalid("The client's jwks_uri could not be read.")
            return cached.document, False
    else:
        _may_refetch(client)  # any fetch opens the window: no forced refetch right after
    with _cache_lock:
        if uri in _in_flight:
            raise _invalid("The client's keys are being fetched; try again shortly.")
        _in_flight.add(uri)
    try:
        document = _download(uri)
        with _cache_lock:
            if document is not None or cached is None or cached.document is None:
                _jwks_cache[uri] = _Fetched(time.monotonic(), document)
            # A failed refetch keeps the keys we had; the request still fails below.
    finally:
        with _cache_lock:
            _in_flight.discard(uri)
    if document is None:
        raise _invalid("The client's jwks_uri could not be read.")
    return document, True


def _keyset(client: Client, *, refresh: bool = False) -> tuple[KeySet, bool]:
    fetched = False
    if client.jwks:
        document = client.jwks
    elif client.jwks_uri:
        document, fetched = fetch_jwks(client, refresh=refresh)
    else:
        document = None
    if not document or not isinstance(document.get("keys"), list):
        raise _invalid("The client has no registered keys.")
    public = [k for k in document["keys"] if isinstance(k, dict) and k.get("kty") in {"RSA", "EC"}]
    try:
        return KeySet.import_key_set({"keys": public}), fetched
    except (JoseError, ValueError, TypeError):
        raise _invalid("The client's keys cannot be read.") from None


def _decode(client: Client, assertion: str):
    header = jws.extract_compact(assertion.encode()).protected
    if header.get("alg") not in ALGORITHMS:
        raise _invalid("The client assertion must be signed with an asymmetric algorithm.")
    keyset, fetched = _keyset(client)
    kid = header.get("kid")
    if kid is not None and not any(k.kid == kid for k in keyset.keys) and client.jwks_uri \
            and not fetched:
        # An unknown kid may mean the client rotated its keys: look again, rate-limited,
        # so that assertions with made-up kids cannot make us fetch on every request.
        try:
            keyset, _fetched = _keyset(client, refresh=True)
        except InvalidClientError:
            pass  # keep the keys we have; the signature check below answers
    try:
        return jwt.decode(assertion, keyset, algorithms=list(ALGORITHMS))
    except (JoseError, ValueError):
        raise _invalid("The client assertion signature is invalid.") from None


def _finite(value) -> bool:
    """A NumericDate (RFC 7519 §2): a number, not a bool, not NaN or an infinity (JSON
    parsers accept those, and NaN compares false with every bound)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def _check_claims(client: Client, claims: dict) -> datetime:
    cfg = current_app.config
    if claims.get("iss") != client.client_id or claims.get("sub") != client.client_id:
        raise _invalid("The client assertion's iss and sub must be the client_id.")
    audience = claims.get("aud")
    audience = audience if isinstance(audience, list) else [audience]
    if not {external_url("oidc_token.token"), cfg["ISSUER"]} & set(audience):
        raise _invalid("The client assertion's aud must be the token endpoint.")
    exp, now = claims.get("exp"), time.time()
    if not _finite(exp):
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
        if not _finite(value):
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
    # RFC 7523 §3: spent even if the token request then fails (its error rolls back).
    database.commit_before_error()


def verify(client: Client, assertion: str) -> None:
    """Verify a client assertion for ``client`` or raise InvalidClientError."""
    token = _decode(client, assertion)
    expires_at = _check_claims(client, token.claims)
    _remember_jti(client, token.claims["jti"], expires_at)
