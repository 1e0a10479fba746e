"""Hashing of bearer secrets and encryption of secrets kept at rest."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app


def new_secret(nbytes: int = 32) -> str:
    """A high-entropy random secret (256 bits by default), URL-safe."""
    return secrets.token_urlsafe(nbytes)


def hash_secret(value: str) -> str:
    """SHA-256 of a high-entropy secret (codes, tokens, client secrets, session ids).

    A slow hash is not needed: these secrets have 256 bits of entropy and cannot be
    guessed, so a fast hash is both safe and keeps the token endpoint fast.
    """
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def secret_matches(value: str, stored_hash: str | None) -> bool:
    if not stored_hash or value is None:
        return False
    return hmac.compare_digest(hash_secret(value), stored_hash)


def _fernet(data_key: str | None = None) -> Fernet:
    return Fernet(data_key or current_app.config["DATA_KEY"])


def encrypt(plaintext: str, data_key: str | None = None) -> str:
    return _fernet(data_key).encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str, data_key: str | None = None) -> str:
    try:
        return _fernet(data_key).decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise RuntimeError(
            "A secret stored in the database cannot be decrypted: IDP_DATA_KEY is not "
            "the key it was encrypted with."
        ) from None
