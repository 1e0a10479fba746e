"""The password step of sign-in: throttling, argon2id, and the audit trail.

A failure is the audit event ``login`` (outcome failure) with its reason:
unknown_user, bad_password, locked, disabled, throttled (and bad_otp, from mfa.py);
a right password is ``login.password``, and the finished sign-in ``login``.  An unknown name costs
what a wrong password costs and gets the same answer (ASVS 2.2.x).
"""

from __future__ import annotations

from typing import NamedTuple

from ..errors import AccountDisabled, AccountLocked, AuthenticationFailed
from ..models import User
from . import audit, mfa, passwords, throttle, users

MAX_INPUT = 1024  # longer names or passwords are refused before any hashing


class Authenticated(NamedTuple):
    """The password step passed: the user, and what was proven (``pwd``, maybe ``otp``)."""

    user: User
    amr: list[str]


def authenticate(identifier: str, password: str, *, ip: str = "", code: str = "") -> Authenticated:
    """Check a username (or email) and password; returns who and how, or raises.

    A held account (``AccountLocked``) is passed only by the right password *and* a right
    second factor in ``code`` (SECURITY.md: anyone can hold an account; only its owner
    can pass the hold).  Otherwise raises ``TooManyAttempts``, ``AuthenticationFailed``
    or ``AccountDisabled``.
    """
    identifier = (identifier or "").strip()[:MAX_INPUT]
    password = (password or "")[:MAX_INPUT]
    user = users.find_user(identifier)
    key = throttle.user_key(user, identifier)
    subject = user.username if user else identifier[:64]
    try:
        throttle.check_account(key)
    except AccountLocked:
        return _held(user, key, subject, password, code, ip)
    except throttle.TooManyAttempts:
        _refused(subject, ip, "throttled", key)
        raise
    try:
        throttle.check_ip(ip, user)
    except throttle.TooManyAttempts:
        _refused(subject, ip, "throttled", throttle.ip_key(ip))
        raise
    ok = passwords.verify_password(user.password_hash if user else None, password)
    if not ok:
        locked = throttle.fail(key, ip, subject=subject)
        _failed(subject, ip, "bad_password" if user else "unknown_user")
        raise AccountLocked() if locked else AuthenticationFailed()
    if not user.active:
        _failed(subject, ip, "disabled")
        raise AccountDisabled()
    _password_passed(user, password, ip)
    return Authenticated(user, ["pwd"])


def _held(user: User | None, key: str, subject: str, password: str, code: str,
          ip: str) -> Authenticated:
    """An attempt on a held account: the same answer, and the same work (one argon2 check,
    then the factor check and three counter writes when a code was typed), for a right or
    a wrong password, with or without a second factor, for a real or an unknown name."""
    ok = passwords.verify_password(user.password_hash if user else None, password)
    live = ok and user is not None and user.active
    if code and mfa.pass_hold(user, code, ip=ip, live=live, account=key):
        _password_passed(user, password, ip, held=True)
        return Authenticated(user, ["otp", "pwd"])
    _refused(subject, ip, "locked", key)
    raise AccountLocked()


def _password_passed(user: User, password: str, ip: str, held: bool = False) -> None:
    if passwords.needs_rehash(user.password_hash):
        # The argon2 parameters changed: store the hash with the new ones.
        user.password_hash = passwords.hash_password(password)
    audit.record("login.password", subject=user.username, ip=ip,
                 details={"held": True} if held else None)


def verify_current_password(user: User, password: str, *, ip: str = "") -> bool:
    """Re-check the signed-in user's password (self-service); failures count as sign-in failures."""
    key = throttle.user_key(user, user.username)
    throttle.check(key, ip, user)
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


def _refused(subject: str, ip: str, reason: str, key: str) -> None:
    """A refusal by a hold or a delay: audited once per key and window, not per request
    (housekeeping adds one event with the count when the window is over)."""
    if throttle.first_refusal(reason, key):
        audit.record("login", outcome="failure", subject=subject, ip=ip,
                     details={"reason": reason, "aggregated": True})


def record_login(user: User, *, amr: list[str], acr: str | None, ip: str, sid: str,
                 step_up: bool = False) -> None:
    """The sign-in is complete: a session was created (or upgraded); the counts restart."""
    throttle.signed_in(user, ip)
    audit.record("login.step_up" if step_up else "login", subject=user.username, ip=ip,
                 details={"amr": amr, "acr": acr, "sid": sid})
