"""Forged and broken JWTs: unsigned, HMAC keyed with a public key, unknown kid, and
correctly signed ones with bad claims. Each is what an attacker can actually produce."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(value: dict) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def unsigned(claims: dict[str, Any], **header: Any) -> str:
    """alg=none (RFC 7518 §3.6): no signature at all."""
    return f"{_segment({'alg': 'none', **header})}.{_segment(claims)}."


def hs256_with(secret: bytes, claims: dict[str, Any], **header: Any) -> str:
    """HS256 keyed with ``secret`` — here a public key, the classic key-confusion attack."""
    signing_input = f"{_segment({'alg': 'HS256', **header})}.{_segment(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def new_rsa_key(kid: str | None = None) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid or secrets.token_hex(8)})


def signed(key: RSAKey, claims: dict[str, Any], **header: Any) -> str:
    return jwt.encode({"alg": "RS256", "kid": key.kid, **header}, claims, key)


def public_pem(key: RSAKey) -> bytes:
    return key.as_pem(private=False)


def public_jwk(key: RSAKey) -> dict:
    return key.as_dict(private=False)


def now() -> int:
    return int(time.time())
