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

from ..errors import AuthenticationFailed
from ..extensions import db
from ..models import RecoveryCode, TotpCredential, User, utcnow
from . import audit, throttle
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
    return db.session.execute(
        select(TotpCredential).where(TotpCredential.user_id == user.id,
                                     TotpCredential.confirmed_at.is_not(None))
    ).scalar_one_or_none()


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


def enrol(user: User, secret: str, code: str) -> list[str] | None:
    """Confirm a new secret with its first code; replaces any previous factor.

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
    audit.record("mfa.enrol", subject=user.username, commit=False)
    db.session.commit()
    return codes


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
    if step is None:
        return False
    # One conditional UPDATE: of two requests with the same code, only one wins.
    won = db.session.execute(
        update(TotpCredential)
        .where(TotpCredential.id == credential.id,
               or_(TotpCredential.last_used_step.is_(None),
                   TotpCredential.last_used_step < step))
        .values(last_used_step=step)
    ).rowcount
    db.session.commit()
    return won == 1


def use_recovery_code(user: User, code: str) -> bool:
    """Spend one recovery code (single use, also under concurrency)."""
    raw = "".join(ch for ch in (code or "").lower() if ch.isalnum())
    if len(raw) != 10:
        return False
    used = db.session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.code_hash == hash_secret(raw),
               RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow())
    ).rowcount
    db.session.commit()
    return used == 1


def second_factor(user: User, *, code: str = "", recovery_code: str = "", ip: str = "") -> str:
    """Check a TOTP code or a recovery code at sign-in; returns how (``totp``/``recovery``).

    Failures count towards the account's lock like wrong passwords do, since a
    six-digit code is otherwise quick to guess.
    """
    key = throttle.user_key(user, user.username)
    throttle.check(key, ip)
    if recovery_code:
        ok, how = use_recovery_code(user, recovery_code), "recovery"
    else:
        ok, how = verify_totp(user, code), "totp"
    if not ok:
        locked = throttle.fail(key, ip, subject=user.username)
        audit.record("login", outcome="failure", subject=user.username, ip=ip,
                     details={"reason": "bad_otp", "method": how})
        if locked:
            from ..errors import AccountLocked

            raise AccountLocked()
        raise AuthenticationFailed(_("The code is not right, or it was used already."))
    throttle.succeed(key)
    event = "mfa.recovery_code" if how == "recovery" else "mfa.verify"
    details = {"remaining": remaining_recovery_codes(user)} if how == "recovery" else {}
    audit.record(event, subject=user.username, ip=ip, details=details)
    return how


def remove(user: User) -> None:
    """Forget the user's second factor and recovery codes."""
    db.session.execute(delete(TotpCredential).where(TotpCredential.user_id == user.id))
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    audit.record("mfa.remove", subject=user.username, commit=False)
    db.session.commit()
