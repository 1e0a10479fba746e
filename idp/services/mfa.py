"""The second factor: TOTP (RFC 6238) and one-time recovery codes.

The TOTP secret is encrypted at rest (``crypto.encrypt``); recovery codes are kept
as SHA-256 hashes and shown once.  A time-step once accepted is never accepted
again, decided by one conditional UPDATE so that two concurrent requests cannot
both use it.
"""

from __future__ import annotations

import base64
import hmac
import io
import secrets
import time

import pyotp
import segno
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, or_, select, update

from ..errors import AccountLocked, AuthenticationFailed
from ..extensions import db
from ..models import RecoveryCode, SsoSession, TotpCredential, User, utcnow
from . import audit, sessions, throttle
from .crypto import decrypt, encrypt, hash_secret

STEP = 30  # RFC 6238 §4.1: X, the time step, 30 seconds by default
DRIFT = 1  # RFC 6238 §5.2: accept one step of clock drift either way
RECOVERY_CODES = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread


def new_secret() -> str:
    """A fresh 160-bit TOTP secret in base32 (RFC 4226 §4 recommends 160 bits)."""
    return pyotp.random_base32(32)


def provisioning_uri(user: User, secret: str) -> str:
    """The ``otpauth://`` URI that authenticator apps read from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(
        name=user.username, issuer_name=current_app.config["MFA_ISSUER_NAME"]
    )


def qr_data_uri(uri: str) -> str:
    """The QR code of ``uri`` as an SVG data URI, made here (no third party sees the secret)."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", scale=5, border=2, xmldecl=False,
                                    svgns=True, dark="#000", light="#fff")
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def grouped(secret: str) -> str:
    """The secret in groups of four, easier to type by hand."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def has_totp(user: User) -> bool:
    return _credential(user) is not None


def _credential(user: User) -> TotpCredential | None:
    return _credential_of(user.id)


def _credential_of(user_id: int) -> TotpCredential | None:
    return db.session.execute(
        select(TotpCredential).where(TotpCredential.user_id == user_id,
                                     TotpCredential.confirmed_at.is_not(None))
    ).scalar_one_or_none()


# Checked against a code typed for a name with no authenticator (the same HMAC work).
_DECOY_SECRET = pyotp.random_base32(32)


def _matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    code = "".join((code or "").split())
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int(now if now is not None else time.time()) // STEP
    for step in range(current - DRIFT, current + DRIFT + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def enrol(user: User, secret: str, code: str, *, keep: SsoSession | None = None) -> list[str] | None:
    """Confirm a new secret with its first code; replaces any previous factor.

    Every session of the user but ``keep`` (the one enrolling, if any) ends: a session
    opened with the old factor, or by whoever made the change necessary, must not live on.
    Returns the new recovery codes (to show once), or None when the code is wrong.
    """
    step = _matching_step(secret, code)
    if step is None:
        audit.record("mfa.enrol", outcome="failure", subject=user.username,
                     details={"reason": "bad_otp"})
        return None
    db.session.execute(delete(TotpCredential).where(TotpCredential.user_id == user.id))
    db.session.add(TotpCredential(user_id=user.id, secret_encrypted=encrypt(secret),
                                  confirmed_at=utcnow(), last_used_step=step))
    codes = _replace_recovery_codes(user)
    ended = end_other_sessions(user, keep, "mfa_enrol")
    audit.record("mfa.enrol", subject=user.username, details={"sessions_ended": ended})
    return codes


def end_other_sessions(user: User, keep: SsoSession | None, reason: str) -> int:
    """End the user's sessions except ``keep`` (with their back-channel logouts)."""
    rows = db.session.execute(
        select(SsoSession).where(SsoSession.user_id == user.id, SsoSession.ended_at.is_(None))
    ).scalars().all()
    return sum(1 for row in rows
               if (keep is None or row.id != keep.id) and sessions.end_session(row, reason))


def _replace_recovery_codes(user: User) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(RecoveryCode(user_id=user.id, code_hash=hash_secret(raw)))
    return codes


def remaining_recovery_codes(user: User) -> int:
    return len(db.session.execute(
        select(RecoveryCode.id).where(RecoveryCode.user_id == user.id,
                                      RecoveryCode.used_at.is_(None))
    ).all())


def verify_totp(user: User, code: str, now: float | None = None) -> bool:
    """True for a right code whose time-step was never used before (RFC 6238 §5.2)."""
    credential = _credential(user)
    if credential is None:
        return False
    step = _matching_step(decrypt(credential.secret_encrypted), code, now)
    return step is not None and _spend_step(credential, step)


def _spend_step(credential: TotpCredential, step: int) -> bool:
    # One conditional UPDATE: of two requests with the same code, only one wins.
    won = db.session.execute(
        update(TotpCredential)
        .where(TotpCredential.id == credential.id,
               or_(TotpCredential.last_used_step.is_(None),
                   TotpCredential.last_used_step < step))
        .values(last_used_step=step)
    ).rowcount
    return won == 1


def use_recovery_code(user: User, code: str) -> bool:
    """Spend one recovery code (single use, also under concurrency)."""
    return _spend_recovery_code(user.id, code)


def _spend_recovery_code(user_id: int, code: str) -> bool:
    raw = "".join(ch for ch in (code or "").lower() if ch.isalnum())
    if len(raw) != 10:
        return False
    used = db.session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user_id, RecoveryCode.code_hash == hash_secret(raw),
               RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow())
    ).rowcount
    return used == 1


def second_factor(user: User, *, code: str = "", recovery_code: str = "", ip: str = "") -> str:
    """Check a TOTP code or a recovery code at sign-in; returns how (``totp``/``recovery``).

    Failures count on the account like wrong passwords, until a whole sign-in succeeds
    (a right password does not start the count again), and on the day's hard cap.
    The IP's slow-down does not apply: the password step decided about the IP.
    """
    key = throttle.user_key(user, user.username)
    if throttle.second_factor_capped(user):
        _refused(user, ip, "locked", throttle.second_factor_key(user))
        raise AccountLocked()
    try:
        throttle.check_account(key)
    except (AccountLocked, throttle.TooManyAttempts) as exc:
        _refused(user, ip, "locked" if isinstance(exc, AccountLocked) else "throttled", key)
        raise
    if recovery_code:
        ok, how = use_recovery_code(user, recovery_code), "recovery"
    else:
        ok, how = verify_totp(user, code), "totp"
    if not ok:
        locked = throttle.fail_second_factor(user, ip=ip)
        audit.record("login", outcome="failure", subject=user.username, ip=ip,
                     details={"reason": "bad_otp", "method": how})
        if locked:
            raise AccountLocked()
        raise AuthenticationFailed(_("The code is not right, or it was used already."))
    _verified(user, how, ip)
    return how


def pass_hold(user: User | None, code: str, *, ip: str = "", live: bool = True,
              account: str | None = None) -> bool:
    """Does ``code`` (TOTP or recovery code) pass the hold of ``user``'s account?

    ``live``: the right password of an active account was given with it. Only then can
    the code pass; a failure then counts like any failed second factor.  A wrong password
    (or an unknown name, ``user`` None, its key ``account``) makes the same reads, checks
    and counter writes (:func:`throttle.fail_on_hold`), so that neither the answers nor the
    time tell an attacker that a guess was the password.  An account without a factor, or
    past the daily cap, fails the same way.
    """
    account = account or throttle.user_key(user, user.username)
    real = live and user is not None
    uid = user.id if user is not None else 0  # read once, before any commit expires it
    subject = user.username if real else None
    day_key = throttle.second_factor_key(user) if real else throttle.held_day_key(account)
    digits = "".join(code.split())
    recovery = not (len(digits) == 6 and digits.isdigit())
    credential = _credential_of(uid)
    capped = throttle.day_capped(day_key)  # read for every attempt: the same work
    usable = real and credential is not None and not capped
    if recovery:
        ok = _spend_recovery_code(uid if usable else 0, code)  # user 0 has no codes
    else:
        secret = decrypt(credential.secret_encrypted) if credential else _DECOY_SECRET
        step = _matching_step(secret, digits)
        ok = usable and step is not None and _spend_step(credential, step)
    if not ok:
        throttle.fail_on_hold(account, ip, day_key, subject=subject)
        return False
    _verified(user, "recovery" if recovery else "totp", ip)
    return True


def _verified(user: User, how: str, ip: str) -> None:
    event = "mfa.recovery_code" if how == "recovery" else "mfa.verify"
    details = {"remaining": remaining_recovery_codes(user)} if how == "recovery" else {}
    audit.record(event, subject=user.username, ip=ip, details=details)


def _refused(user: User, ip: str, reason: str, key: str) -> None:
    """Audited once per key and window (see ``throttle.first_refusal``)."""
    if throttle.first_refusal(reason, key):
        audit.record("login", outcome="failure", subject=user.username, ip=ip,
                     details={"reason": reason, "aggregated": True})


def remove(user: User) -> None:
    """Forget the user's second factor and recovery codes."""
    db.session.execute(delete(TotpCredential).where(TotpCredential.user_id == user.id))
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    audit.record("mfa.remove", subject=user.username)
