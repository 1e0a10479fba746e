"""Signing keys: creation, rotation without downtime, JWKS, and signing.

A key is published in JWKS while it is ``next`` (before it signs anything), signs
while ``active``, and stays published while ``retired`` until every token it
signed has expired.  Private keys are encrypted at rest with IDP_DATA_KEY.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from datetime import timedelta
from typing import Any

from flask import current_app
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from ..extensions import db
from ..models import SigningKey, utcnow
from .crypto import decrypt, encrypt, new_secret

SUPPORTED_ALGS = ("RS256", "ES256")
# Seconds a process keeps the keys it read from the database; the JWKS of another
# node shows a new key at most this long after it was made.
CACHE_SECONDS = 10

_cache_lock = threading.Lock()
_cache: dict[str, Any] = {"at": 0.0, "url": None, "keys": None}


def _generate(alg: str, kid: str):
    params = {"kid": kid, "alg": alg, "use": "sig"}
    if alg == "RS256":
        return RSAKey.generate_key(2048, parameters=params, private=True)
    if alg == "ES256":
        return ECKey.generate_key("P-256", parameters=params, private=True)
    raise ValueError(f"unsupported signing algorithm {alg}")


def create_key(alg: str, state: str) -> SigningKey:
    """Make a key of ``alg`` in ``state`` and add it to the session (not committed)."""
    kid = f"{alg.lower()}-{utcnow():%Y%m%d}-{new_secret(6)}"
    key = _generate(alg, kid)
    pem = key.as_pem(private=True).decode()
    row = SigningKey(
        kid=kid, alg=alg, state=state, private_key_encrypted=encrypt(pem),
        public_jwk=key.as_dict(private=False),
        activated_at=utcnow() if state == "active" else None,
    )
    db.session.add(row)
    return row


def ensure_keys() -> list[SigningKey]:
    """Create whatever is missing: an active and a next key for each algorithm."""
    created = []
    for alg in SUPPORTED_ALGS:
        states = {k.state for k in SigningKey.query.filter_by(alg=alg).all()}
        for state in ("active", "next"):
            if state not in states:
                created.append(create_key(alg, state))
    db.session.flush()
    invalidate_cache()
    return created


def _longest_token_life() -> int:
    cfg = current_app.config
    return max(cfg["TOKEN_ACCESS_TTL"], cfg["TOKEN_ID_TTL"], 3600)


def rotate(alg: str | None = None, *, force: bool = False) -> list[SigningKey]:
    """Promote each algorithm's next key to active, retire the active one, add a new next.

    Without ``force``, a next key that has not yet been published for the JWKS cache
    time is not promoted (a relying party could not yet verify what it signs).
    Returns the newly active keys.
    """
    now = utcnow()
    cache = current_app.config["KEYS_JWKS_CACHE"]
    promoted = []
    for each in ([alg] if alg else SUPPORTED_ALGS):
        nxt = SigningKey.query.filter_by(alg=each, state="next").order_by(SigningKey.id).first()
        if nxt is None:
            nxt = create_key(each, "next")
            db.session.flush()
        if not force and nxt.created_at + timedelta(seconds=cache) > now:
            raise ValueError(
                f"The next {each} key was published less than {cache} seconds ago "
                "(IDP_KEYS_JWKS_CACHE); relying parties may not have it yet. "
                "Wait, or use --force."
            )
        for old in SigningKey.query.filter_by(alg=each, state="active").all():
            old.state = "retired"
            old.retired_at = now
            old.publish_until = now + timedelta(seconds=_longest_token_life() + cache)
        nxt.state = "active"
        nxt.activated_at = now
        create_key(each, "next")
        promoted.append(nxt)
    db.session.flush()
    invalidate_cache()
    return promoted


def invalidate_cache() -> None:
    with _cache_lock:
        _cache["at"] = 0.0


def _loaded() -> dict[str, Any]:
    """The keys as joserfc objects, read from the database at most every CACHE_SECONDS."""
    url = current_app.config["SQLALCHEMY_DATABASE_URI"]
    now = time.monotonic()
    with _cache_lock:
        if _cache["keys"] is not None and _cache["url"] == url and now - _cache["at"] < CACHE_SECONDS:
            return _cache["keys"]
    rows = SigningKey.query.order_by(SigningKey.id).all()
    moment = utcnow()
    published, active = [], {}
    for row in rows:
        if row.state == "retired" and row.publish_until and row.publish_until < moment:
            continue
        published.append(row.public_jwk)
        if row.state == "active":
            params = {"kid": row.kid, "alg": row.alg, "use": "sig"}
            key_cls = RSAKey if row.alg == "RS256" else ECKey
            active[row.alg] = key_cls.import_key(decrypt(row.private_key_encrypted), params)
    document = json.dumps({"keys": published}, sort_keys=True, separators=(",", ":")).encode()
    # Parsed and serialised once per load, not for every token verified or JWKS served
    # (importing an RSA public key costs about a millisecond).
    keys = {"jwks": {"keys": published}, "active": active,
            "keyset": KeySet.import_key_set({"keys": published}),
            "document": (document, hashlib.sha256(document).hexdigest()[:32])}
    with _cache_lock:
        _cache.update(at=now, url=url, keys=keys)
    return keys


def jwks() -> dict[str, Any]:
    """Every public key a relying party may still need (next, active, recently retired)."""
    return _loaded()["jwks"]


def jwks_document() -> tuple[bytes, str]:
    """The JWKS as JSON bytes and their entity tag, made once per key-cache load."""
    return _loaded()["document"]


def public_keyset() -> KeySet:
    """The published keys as a joserfc KeySet, for verifying our own tokens."""
    return _loaded()["keyset"]


def signing_key(alg: str = "RS256"):
    key = _loaded()["active"].get(alg)
    if key is None:
        raise RuntimeError("No active signing key; run `idp init` (or `idp keys rotate`).")
    return key


def sign(claims: dict[str, Any], *, alg: str = "RS256", typ: str = "JWT") -> str:
    key = signing_key(alg)
    header = {"alg": alg, "kid": key.kid, "typ": typ}
    return jwt.encode(header, claims, key, algorithms=[alg])
