"""The password step of sign-in: throttling, argon2id, and the audit trail.

A failure is the audit event ``login`` (outcome failure) with its reason:
unknown_user, bad_password, locked, disabled, throttled (and bad_otp, from mfa.py);
a right password is ``login.password``, and the finished sign-in ``login``.  An unknown name costs
what a wrong password costs and gets the same answer (ASVS 2.2.x).
"""

from __future__ import annotations

from ..errors import AccountDisabled, AccountLocked, AuthenticationFailed
from ..extensions import db
from ..models import User
from . import audit, passwords, throttle, users

MAX_INPUT = 1024  # longer names or passwords are refused before any hashing


def authenticate(identifier: str, password: str, *, ip: str = "") -> User:
    """Check a username (or email) and password; returns the user or raises.

    Raises ``AccountLocked`` (checked before the password, so that a locked account
    with the right password gets the same answer), ``TooManyAttempts``,
    ``AuthenticationFailed`` or ``AccountDisabled``.
    """
    identifier = (identifier or "").strip()[:MAX_INPUT]
    user = users.find_user(identifier)
    key = throttle.user_key(user, identifier)
    subject = user.username if user else identifier[:64]
    try:
        throttle.check(key, ip)
    except AccountLocked:
        _failed(subject, ip, "locked")
        raise
    except throttle.TooManyAttempts:
        _failed(subject, ip, "throttled")
        raise
    ok = passwords.verify_password(user.password_hash if user else None, password[:MAX_INPUT])
    if not ok:
        locked = throttle.fail(key, ip, subject=subject)
        _failed(subject, ip, "bad_password" if user else "unknown_user")
        raise AccountLocked() if locked else AuthenticationFailed()
    if not user.active:
        _failed(subject, ip, "disabled")
        raise AccountDisabled()
    throttle.succeed(key)
    if passwords.needs_rehash(user.password_hash):
        # The argon2 parameters changed: store the hash with the new ones.
        user.password_hash = passwords.hash_password(password)
        db.session.commit()
    audit.record("login.password", subject=user.username, ip=ip)
    return user


def verify_current_password(user: User, password: str, *, ip: str = "") -> bool:
    """Re-check the signed-in user's password (self-service); failures count as sign-in failures."""
    key = throttle.user_key(user, user.username)
    throttle.check(key, ip)
    if passwords.verify_password(user.password_hash, (password or "")[:MAX_INPUT]):
        throttle.succeed(key)
        return True
    throttle.fail(key, ip, subject=user.username)
    audit.record("password.confirm", outcome="failure", subject=user.username, ip=ip,
                 details={"reason": "bad_password"})
    return False


def _failed(subject: str, ip: str, reason: str) -> None:
    audit.record("login", outcome="failure", subject=subject, ip=ip,
                 details={"reason": reason})


def record_login(user: User, *, amr: list[str], acr: str | None, ip: str, sid: str,
                 step_up: bool = False) -> None:
    """The sign-in is complete: a session was created (or upgraded)."""
    audit.record("login.step_up" if step_up else "login", subject=user.username, ip=ip,
                 details={"amr": amr, "acr": acr, "sid": sid})
