"""Forgotten passwords: a single-use, short-lived link sent by e-mail (ASVS 2.5).

The token has 256 bits and is stored as its SHA-256; it lives ``RESET_TTL``
seconds and is spent by one conditional UPDATE, so a link works once.  The
answer to a request is the same whether or not the address belongs to anyone.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Callable

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, update

from ..errors import InvalidInput
from ..extensions import db
from ..models import PasswordResetToken, User, utcnow
from . import audit, passwords, sessions, throttle, tokens, users
from .crypto import hash_secret, new_secret
from .mail import queue_mail


def request_reset(email: str, link_for: Callable[[str], str], *, ip: str = "") -> bool:
    """Queue a reset link for the account with this email, if there is one.

    ``link_for(token)`` builds the absolute URL. Returns whether a mail was queued
    (for the audit and the tests; the page must not show it).  At most
    ``RESET_MAX_PER_ADDRESS`` per address and ``RESET_MAX_PER_IP`` per client IP in
    ``RESET_WINDOW``, counted whether or not the address belongs to anyone.  The mail
    is sent by the worker, so a known and an unknown address answer in the same time.
    """
    email = (email or "").strip()
    subject = email[:64]
    refused = throttle.over_request_limit(
        throttle.reset_address_key(email), current_app.config["RESET_MAX_PER_ADDRESS"],
        throttle.reset_ip_key(ip), current_app.config["RESET_MAX_PER_IP"],
        window=current_app.config["RESET_WINDOW"])
    if refused is not None:
        if refused:  # the first refusal of the window is audited, not every one
            audit.record("password.reset_request", outcome="failure", subject=subject, ip=ip,
                         details={"reason": "throttled"})
        return False
    user = users.find_user(email)
    known = user is not None and user.active and "@" in email
    # The same work for every address (finding 10: known addresses answered slower): a
    # token, the mail's body, two rows and one commit; for an address that belongs to
    # no active account the two rows are rolled back.
    token, now, ttl = new_secret(32), utcnow(), current_app.config["RESET_TTL"]
    body = _body(user if known else None, link_for(token), ttl)
    savepoint = None if known else db.session.begin_nested()
    if known:
        db.session.add(PasswordResetToken(
            token_hash=hash_secret(token), user_id=user.id, created_at=now,
            expires_at=now + timedelta(seconds=ttl),
        ))
    else:  # a row of the same size in place of the link (which needs a real user)
        queue_mail(email, hash_secret(token), hash_secret(token))
    db.session.flush()  # one INSERT each, as for a known address (not one batch of two)
    queue_mail(user.email if known else email, _("Reset your password"), body)
    if savepoint is not None:
        _roll_back(savepoint)
        reason = "disabled" if user is not None and "@" in email else "unknown_email"
        audit.record("password.reset_request", outcome="failure", subject=subject, ip=ip,
                     details={"reason": reason})
    else:
        audit.record("password.reset_request", subject=user.username, ip=ip)
    # The request's one commit keeps the link, its mail and the audit event together.
    return known


def _body(user: User | None, link: str, ttl: int) -> str:
    return _(
        "Hello %(name)s,\n\nSomeone (probably you) asked to reset the password of your "
        "account %(username)s. To choose a new password, open this link within "
        "%(minutes)d minutes:\n\n%(link)s\n\nThe link works once. If you did not ask for "
        "this, ignore this message: your password stays as it is.\n",
        name=user.full_name if user else "", username=user.username if user else "",
        minutes=max(1, ttl // 60), link=link,
    )


def _roll_back(savepoint) -> None:
    """Send the decoy rows to the database as a real request would, then drop them."""
    db.session.flush()
    savepoint.rollback()


def _live(token: str):
    return (
        PasswordResetToken.token_hash == hash_secret(token or ""),
        PasswordResetToken.used_at.is_(None),
        PasswordResetToken.expires_at > utcnow(),
    )


def check_token(token: str) -> User | None:
    """The user a live (unused, unexpired) link belongs to, or None."""
    if not token or len(token) > 128:
        return None
    row = db.session.execute(select(PasswordResetToken).where(*_live(token))).scalar_one_or_none()
    return db.session.get(User, row.user_id) if row else None


def reset_password(token: str, password: str, *, ip: str = "") -> User:
    """Spend the link and set the password; every session of the user ends."""
    user = check_token(token)
    if user is None:
        raise InvalidInput(_("This link is not valid any more. Ask for a new one."))
    passwords.check_policy(password, username=user.username, email=user.email)
    spent = db.session.execute(
        update(PasswordResetToken).where(*_live(token)).values(used_at=utcnow())
    ).rowcount
    if spent != 1:  # another request spent it first
        db.session.rollback()
        raise InvalidInput(_("This link is not valid any more. Ask for a new one."))
    # One unit of work (the request's): the password, the ended sessions, the revoked
    # tokens and the audit event are kept together or not at all.
    users.set_password(user, password)  # the user's other links die with this one
    ended = sessions.end_all_sessions(user, "password_reset")
    tokens.revoke_for_user(user)
    if throttle.is_locked(throttle.user_key(user, user.username)):
        # Proving the mailbox is enough to lift a lock made by someone guessing; not the
        # daily cap on second factors (a mailbox is not the authenticator).
        throttle.unlock_user(user, actor=user.username, second_factor=False)
    audit.record("password.reset", subject=user.username, ip=ip, details={"sessions_ended": ended})
    return user
