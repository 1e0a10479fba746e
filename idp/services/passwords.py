"""Password hashing (argon2id) and the password policy (OWASP ASVS 4 V2.1)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app
from flask_babel import gettext as _

from ..errors import InvalidInput

_COMMON = Path(__file__).resolve().parent.parent / "data" / "common-passwords.txt"


@lru_cache(maxsize=8)
def _hasher(memory_kib: int, time_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(
        time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
    )


def hasher() -> PasswordHasher:
    cfg = current_app.config
    return _hasher(cfg["ARGON2_MEMORY_KIB"], cfg["ARGON2_TIME_COST"], cfg["ARGON2_PARALLELISM"])


def hash_password(password: str) -> str:
    return hasher().hash(password)


@lru_cache(maxsize=1)
def _dummy_hash(memory_kib: int, time_cost: int, parallelism: int) -> str:
    return _hasher(memory_kib, time_cost, parallelism).hash("not a real password")


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Check a password. With no stored hash, spend the same time and answer False.

    ASVS 2.2.x / OWASP: an unknown account must cost what a wrong password costs,
    so that timing does not reveal which usernames exist.
    """
    cfg = current_app.config
    params = (cfg["ARGON2_MEMORY_KIB"], cfg["ARGON2_TIME_COST"], cfg["ARGON2_PARALLELISM"])
    target = stored_hash or _dummy_hash(*params)
    try:
        ok = hasher().verify(target, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return ok and stored_hash is not None


def needs_rehash(stored_hash: str) -> bool:
    """True when the stored hash was made with other parameters than configured."""
    return hasher().check_needs_rehash(stored_hash)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    if not _COMMON.exists():
        return frozenset()
    return frozenset(
        line.strip().lower() for line in _COMMON.read_text().splitlines() if line.strip()
    )


def check_policy(password: str, *, username: str = "", email: str = "") -> None:
    """Raise InvalidInput with a readable reason when the password breaks the policy."""
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(password) < minimum:
        raise InvalidInput(_("The password must have at least %(n)d characters.", n=minimum))
    if len(password) > 256:
        raise InvalidInput(_("The password must have at most 256 characters."))
    low = password.lower()
    local = email.split("@")[0].lower() if email else ""
    if (username and username.lower() in low) or (local and len(local) >= 4 and local in low):
        raise InvalidInput(_("The password must not contain your username or email."))
    if low in common_passwords():
        raise InvalidInput(_("This password is too common. Choose another."))
