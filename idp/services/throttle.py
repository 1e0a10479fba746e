"""Brute-force protection: failure counters shared by every provider process.

Two kinds of key are counted (OWASP ASVS 2.2.1): one per account (``user:<id>``;
an unknown name gets ``name:<digest>`` so that it behaves exactly like a real
account and the answers reveal nothing) and one per client IP (``ip:<addr>``).

After ``LOCKOUT_DELAY_AFTER`` failures an account must wait a growing delay before
the next attempt is even checked (the "not before" time is stored; the caller
answers 429 rather than sleeping in the worker); after ``LOCKOUT_THRESHOLD``
failures it is held ("locked") for ``LOCKOUT_SECONDS``, until then or until the
helpdesk lifts it.  An IP past ``IP_THRESHOLD`` failures is slowed the same way.

The account's count holds wrong passwords *and* wrong second factors, and starts
again only when a whole sign-in succeeds (:func:`signed_in`), not at a right
password: otherwise [right password, two wrong codes] repeated would never hold
the account.  Failed second factors also count per day (``mfa-day:<id>``) up to a
hard cap, ``MFA_DAILY_FAILURE_CAP``, that no hold-passing lifts.

Trade-offs (SECURITY.md): a hold is passed by the right password *plus* a right
second factor (so five wrong passwords from anyone do not shut out a user who has
one); an IP's slow-down does not apply to an account that completed a sign-in
from that address in the last ``THROTTLE_KNOWN_IP_SECONDS`` (``seen:<id>:<ip>``),
so one office behind one NAT address is not shut out by its neighbours' typos.

The counters live in ``throttle_counters`` (one atomic upsert per failure) or, when
``REDIS_URL`` is set, in Redis (HINCRBY), so that no concurrent attempt is lost
(:mod:`idp.services.throttle_store`).
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from ..errors import DomainError
from ..extensions import db
from ..models import User, utcnow
from . import audit
from .throttle_store import DatabaseStore, RedisStore, State, Store, store  # noqa: F401

MAX_DELAY = 300  # seconds; an IP is slowed at most this much per attempt


class TooManyAttempts(DomainError):
    """An attempt came before its key's "not before" time (answer 429, Retry-After)."""

    code = "slow_down"
    status = 429
    description = _l("Too many failed attempts. Wait a moment and try again.")

    def __init__(self, retry_after: int):
        super().__init__()
        self.retry_after = max(1, retry_after)


def user_key(user: User | None, identifier: str) -> str:
    if user is not None:
        return f"user:{user.id}"
    name = (identifier or "").strip().lower().encode("utf-8", "surrogatepass")
    return f"name:{hashlib.sha256(name).hexdigest()[:40]}"


def ip_key(ip: str) -> str:
    return f"ip:{(ip or 'unknown')[:64]}"


def second_factor_key(user: User) -> str:
    """Failed second factors of one account in the current day (the hard cap)."""
    return f"mfa-day:{user.id}"


def held_day_key(account: str) -> str:
    """Codes typed with a wrong password (or an unknown name) on a held account's form, in
    the current day: written where a right password writes the daily cap
    (:func:`fail_on_hold`), so that the work, and so the time, do not tell the password."""
    return f"held-day:{account}"


def known_ip_key(user: User, ip: str) -> str:
    """Marks that ``user`` completed a sign-in from ``ip`` (an IP slow-down spares it)."""
    return f"seen:{user.id}:{(ip or 'unknown')[:64]}"


def reset_address_key(email: str) -> str:
    """Password-reset requests for one address (known or not: the same count)."""
    name = (email or "").strip().lower().encode("utf-8", "surrogatepass")
    return f"reset-to:{hashlib.sha256(name).hexdigest()[:40]}"


def reset_ip_key(ip: str) -> str:
    return f"reset-ip:{(ip or 'unknown')[:64]}"


DAY = 86400
# Key prefixes whose window is not LOCKOUT_SECONDS (housekeeping purges by these).
WINDOWS = {
    "mfa-day:": lambda cfg: DAY,
    "held-day:": lambda cfg: DAY,
    "seen:": lambda cfg: cfg["THROTTLE_KNOWN_IP_SECONDS"],
    "reset-to:": lambda cfg: cfg["RESET_WINDOW"],
    "reset-ip:": lambda cfg: cfg["RESET_WINDOW"],
}


# --- policy -------------------------------------------------------------------------------


def _delay(failures: int, start: int) -> int:
    """Seconds to wait after ``failures``; doubles from LOCKOUT_DELAY_SECONDS at ``start``."""
    if failures < start:
        return 0
    base = current_app.config["LOCKOUT_DELAY_SECONDS"]
    return min(MAX_DELAY, base * 2 ** min(failures - start, 16))


def _wait(state: State, now: datetime) -> int:
    if state.not_before is None or state.not_before <= now:
        return 0
    return math.ceil((state.not_before - now).total_seconds())


def is_locked(key: str, now: datetime | None = None) -> datetime | None:
    """The end of the account lock behind ``key``, or None when it is not locked."""
    return _lock_end(store().get(key), now or utcnow())


def _lock_end(state: State, now: datetime) -> datetime | None:
    locked = state.failures >= current_app.config["LOCKOUT_THRESHOLD"]
    return state.not_before if locked and _wait(state, now) else None


def check_account(account: str) -> None:
    """Refuse an attempt on a held account (``AccountLocked``) or one that comes before
    the account's delay is over (``TooManyAttempts``)."""
    from ..errors import AccountLocked

    now = utcnow()
    state = store().get(account)  # read once for the lock and the delay
    if _lock_end(state, now):
        raise AccountLocked(detail=f"{account} is locked")
    wait = _wait(state, now)
    if wait:
        raise TooManyAttempts(wait)


def check_ip(ip: str, user: User | None) -> None:
    """Refuse an attempt from a slowed-down IP, unless ``user`` signed in from it lately.

    Decided before any password is checked, so the answer does not depend on it.
    """
    if user is not None and is_known_ip(user, ip):
        return
    wait = _wait(store().get(ip_key(ip)), utcnow())
    if wait:
        raise TooManyAttempts(wait)


def check(account: str, ip: str, user: User | None = None) -> None:
    """The account's hold and delay first, then the IP's delay: the same answers whatever
    the password would have been. Raise before any password is checked."""
    check_account(account)
    check_ip(ip, user)


def is_known_ip(user: User, ip: str) -> bool:
    window = current_app.config["THROTTLE_KNOWN_IP_SECONDS"]
    return store().get(known_ip_key(user, ip)).within(window, utcnow()) > 0


def _count_account(backend: Store, account: str, now: datetime, subject: str | None,
                   ip: str) -> bool:
    """One failure on the account: delays, then the hold. True when it is held."""
    cfg = current_app.config
    window = cfg["LOCKOUT_SECONDS"]
    failures = backend.incr(account, now, window)
    locked = failures >= cfg["LOCKOUT_THRESHOLD"]
    wait = window if locked else _delay(failures, cfg["LOCKOUT_DELAY_AFTER"])
    if wait:
        backend.hold(account, now + timedelta(seconds=wait))
    if failures == cfg["LOCKOUT_THRESHOLD"] and subject:
        _mirror_lock(account, now + timedelta(seconds=window))
        audit.record("account.lock", outcome="success", actor="system", subject=subject,
                     ip=ip, details={"failures": failures, "seconds": window})
    return locked


def _count_ip(backend: Store, ip: str, now: datetime) -> None:
    cfg = current_app.config
    ip_failures = backend.incr(ip_key(ip), now, cfg["LOCKOUT_SECONDS"])
    ip_wait = _delay(ip_failures, cfg["IP_THRESHOLD"])
    if ip_wait:
        backend.hold(ip_key(ip), now + timedelta(seconds=ip_wait))


def fail(account: str, ip: str, *, subject: str | None = None) -> bool:
    """Count one wrong password on the account and the IP. True when the account is held."""
    now = utcnow()
    backend = store()
    locked = _count_account(backend, account, now, subject, ip)
    _count_ip(backend, ip, now)
    return locked


def _count_day(backend: Store, account: str, day_key: str, now: datetime, subject: str | None,
               ip: str) -> int:
    """One more failed second factor today; at the cap, the lock is mirrored and audited."""
    day = backend.incr(day_key, now, DAY)
    if subject and day == current_app.config["MFA_DAILY_FAILURE_CAP"]:
        _mirror_lock(account, now + timedelta(seconds=DAY))
        audit.record("account.lock", outcome="success", actor="system", subject=subject,
                     ip=ip, details={"failures": day, "seconds": DAY,
                                     "reason": "second_factor_daily_cap"})
    return day


def fail_second_factor(user: User, *, ip: str = "") -> bool:
    """Count one failed second factor on the account and on its day.

    True when the account is held or its daily cap is reached.
    """
    cap = current_app.config["MFA_DAILY_FAILURE_CAP"]
    now = utcnow()
    backend = store()
    subject = user.username
    account, day_key = user_key(user, subject), second_factor_key(user)
    locked = _count_account(backend, account, now, subject, ip)
    day = _count_day(backend, account, day_key, now, subject, ip)
    return locked or day >= cap


def fail_on_hold(account: str, ip: str, day_key: str, *, subject: str | None = None) -> None:
    """A code typed on a held account's form did not pass the hold.

    The same three counter writes whatever the password was: the account (its hold goes
    on), the IP, and ``day_key`` -- the account's daily cap of second factors after a
    right password (``subject`` set), :func:`held_day_key` after a wrong one.  Before,
    only a wrong password counted on the IP, and the IP's slow-down (429 for the next
    name tried) told the attacker which guess was the password (SECURITY.md, verify2).
    """
    now = utcnow()
    backend = store()
    _count_account(backend, account, now, None, ip)
    _count_ip(backend, ip, now)
    _count_day(backend, account, day_key, now, subject, ip)


def second_factor_capped(user: User) -> bool:
    """The account failed ``MFA_DAILY_FAILURE_CAP`` second factors today: refuse them all."""
    return day_capped(second_factor_key(user))


def day_capped(day_key: str) -> bool:
    """``day_key`` (see :func:`fail_on_hold`) reached ``MFA_DAILY_FAILURE_CAP`` today."""
    state = store().get(day_key)
    return state.within(DAY, utcnow()) >= current_app.config["MFA_DAILY_FAILURE_CAP"]


def succeed(account: str) -> None:
    """Start the account's count again (re-confirming the password while signed in)."""
    backend = store()
    if backend.get(account).failures:
        backend.clear(account)


def signed_in(user: User, ip: str) -> None:
    """A whole sign-in succeeded: the account's count starts again (not the daily cap),
    and the IP is remembered as one this user signs in from."""
    succeed(user_key(user, user.username))
    store().incr(known_ip_key(user, ip), utcnow(), current_app.config["THROTTLE_KNOWN_IP_SECONDS"])


def first_refusal(reason: str, key: str) -> bool:
    """Count an attempt refused by a hold or a delay; True for the first of ``key`` in
    its window (LOCKOUT_SECONDS), the one to audit.

    Refusals cost no audit row (nor the audit chain's lock) each: housekeeping writes one
    event with the count when the window is over (``housekeeping._purge_counters``).
    The count lives in the database even with Redis, for housekeeping to find it.
    """
    window = current_app.config["LOCKOUT_SECONDS"]
    now = utcnow()
    index = int(now.timestamp()) // max(1, window)
    return DatabaseStore().incr(f"{AUDIT_PREFIX}{reason}:{index}:{key}", now, window) == 1


AUDIT_PREFIX = "audit:"


def over_request_limit(first: str, first_max: int, second: str, second_max: int, *,
                       window: int) -> bool | None:
    """Count one request on two keys; None while both are within their limits.

    Otherwise True for the first request refused in the window (to audit), else False.
    """
    now = utcnow()
    backend = store()
    a, b = backend.incr(first, now, window), backend.incr(second, now, window)
    if a <= first_max and b <= second_max:
        return None
    return a == first_max + 1 or b == second_max + 1


def failures(key: str) -> int:
    return store().get(key).failures


def _mirror_lock(account: str, until: datetime | None) -> None:
    """Keep ``users.locked_until`` in step, for the admin console's lists."""
    if account.startswith("user:"):
        db.session.execute(
            update(User).where(User.id == int(account[5:])).values(locked_until=until)
        )
        if until is not None:
            db.session.commit()  # a lock survives a rollback (see DatabaseStore.incr)


def unlock_user(user: User, actor: str, *, second_factor: bool = True) -> bool:
    """Lift an account's lock and delays (helpdesk, admin console, ``idp user unlock``).

    ``second_factor`` lifts the daily cap of failed second factors too (the helpdesk
    does; a reset link, which proves only the mailbox, does not).
    Returns whether the account was locked. Always audited.
    """
    key = user_key(user, user.username)
    was_locked = is_locked(key) is not None
    store().clear(key)
    if second_factor:
        store().clear(second_factor_key(user))
    _mirror_lock(key, None)
    audit.record("account.unlock", actor=actor, subject=user.username,
                 details={"was_locked": was_locked})
    return was_locked


def locked_users() -> list[User]:
    """Accounts whose lock is still running (from the mirror column)."""
    return list(db.session.execute(
        select(User).where(User.locked_until > utcnow()).order_by(User.username)
    ).scalars())
