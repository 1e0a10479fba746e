"""Request rate limits (Flask-Limiter): which endpoints, which budget, how a 429 looks.

``GUARDS`` is the whole policy: endpoint name → the settings that limit it (idp/config.py,
``IDP_RATELIMIT_*``), the methods counted, and the endpoint's own way of saying 429.
``init_app`` (called once from ``create_app``) wraps those view functions and nothing
else, so ``/healthz``, ``/readyz``, ``/metrics`` and every other endpoint are never limited.

Budgets are per client address (``request.remote_addr`` after ProxyFix has applied
``IDP_TRUSTED_PROXIES`` hops; an IPv6 client by its /64). ``/token`` and ``/introspect``
also have a budget per address *and* client_id; the client_id is read unverified, so it
only splits one address's budget and can never spend another address's.

Counters are fixed windows in Redis when ``IDP_REDIS_URL`` is set (shared by every node,
keys under ``IDP_REDIS_PREFIX`` + ``ratelimit:``), else in the process's memory (each
gunicorn worker counts on its own). If Redis fails, requests are counted in memory until
it answers again: a limiter outage never becomes an outage of sign-in.

The error code is ``slow_down``, as the sign-in throttle (``TooManyAttempts``) and the
generic 429 handler in idp/errors.py already answer. There is no RFC 6749 code for rate
limiting: §5.2 lists none, §8.5 lets registered extension codes be used, and ``slow_down``
is the registered one that says "come back later" at the token endpoint (RFC 8628 §3.5).
``temporarily_unavailable`` is defined only for the authorization endpoint's redirect
(RFC 6749 §4.1.2.1) and means the server is overloaded, not that this client sent too much.
RFC 7591 §3.2.2 and RFC 7662 §2.3 answer errors in the same JSON shape. The status (429,
RFC 6585 §4) and ``Retry-After`` (delta-seconds, RFC 9110 §10.2.3) carry the meaning.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import logging
import math
import time
from dataclasses import dataclass
from typing import Callable
from urllib.parse import unquote_plus

from flask import Flask, Response, current_app, request
from flask_babel import gettext as _
from flask_limiter import Limiter, RateLimitExceeded
from limits.storage import MemoryStorage
from werkzeug.exceptions import HTTPException

from .responses import json_error
from .services.throttle import TooManyAttempts

EXTENSION = "idp.ratelimits"


class RateLimited(TooManyAttempts):
    """A budget of IDP_RATELIMIT_* is spent: 429 with Retry-After (code ``slow_down``)."""

    def __init__(self, retry_after: int):
        super().__init__(retry_after)
        self.description = _("Too many requests from your network. Wait %(seconds)d seconds "
                             "and try again.", seconds=self.retry_after)


# --- keys ---------------------------------------------------------------------------------


def client_address() -> str:
    """The client's address as ProxyFix left it; an IPv6 client is counted by its /64,
    the block one host usually holds, so that it cannot take a new budget per address."""
    raw = request.remote_addr or ""
    try:
        ip = ipaddress.ip_address(_without_port(raw).split("%")[0])
    except ValueError:
        return raw[:64] or "unknown"
    if ip.version == 6:
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _without_port(raw: str) -> str:
    """``203.0.113.7:51234`` → ``203.0.113.7``, ``[2001:db8::1]:443`` → ``2001:db8::1``.

    Some proxies forward the client's address with its source port (X-Forwarded-For
    ``ip:port``); kept, every new connection of one client would get a new budget.
    """
    if raw.startswith("["):
        return raw[1:].partition("]")[0]
    host, colon, port = raw.rpartition(":")
    return host if colon and "." in host and ":" not in host and port.isdigit() else raw


def client_and_address() -> str:
    return f"{client_address()}|{claimed_client_id()}"


def claimed_client_id() -> str:
    """The client_id a token or introspection request names, *not verified*: the Basic
    user name (RFC 6749 §2.3.1, form-encoded), else ``client_id``, else the ``iss`` of a
    client assertion (RFC 7523 §3). ``-`` when there is none or it cannot be read."""
    header = request.headers.get("Authorization", "")
    if header[:6].lower() == "basic ":
        try:
            raw = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return "-"
        return unquote_plus(raw.partition(":")[0])[:128] or "-"
    try:
        form = request.form
    except HTTPException:  # a body the view will refuse with its own error
        return "-"
    if form.get("client_id"):
        return form["client_id"][:128]
    return _assertion_issuer(form.get("client_assertion", ""))


def _assertion_issuer(assertion: str) -> str:
    parts = assertion.split(".")
    if len(parts) != 3 or len(assertion) > 8192:
        return "-"
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, RecursionError):
        return "-"
    issuer = payload.get("iss") if isinstance(payload, dict) else None
    return issuer[:128] if isinstance(issuer, str) and issuer else "-"


# --- answers ------------------------------------------------------------------------------


def oauth_json(error: RateLimited) -> Response:
    """RFC 6749 §5.2 shape. error_description must be ASCII there, so it is not translated."""
    return json_error(error.code, f"Too many requests. Retry after {error.retry_after} seconds.",
                      error.status)


def login_page(error: RateLimited) -> Response:
    """The sign-in form again, with the message, as the sign-in throttle answers."""
    from .auth.views import _login_form

    return _login_form(error.status, error, request.form.get("username", "").strip()[:255])


def otp_page(error: RateLimited) -> Response:
    from .auth import flow
    from .auth.views import _login_form, _page

    state = flow.pending()
    if state is None:
        return _login_form(error.status, error)
    return _page("auth/otp.html", error.status, error, user=state[1])


def forgot_page(error: RateLimited) -> Response:
    from .auth.views import _page

    return _page("auth/forgot.html", error.status, error)


# --- the policy ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Budget:
    """One limit: the setting holding its string, what it counts by, an optional shared scope."""

    setting: str  # the Flask config key of the limit string (IDP_ + setting)
    key: Callable[[], str] = client_address
    shared: str | None = None  # endpoints naming the same scope spend one budget


@dataclass(frozen=True)
class Guard:
    """What guards one endpoint: its budgets, the methods counted, its 429 answer."""

    budgets: tuple[Budget, ...]
    answer: Callable[[RateLimited], Response]
    methods: tuple[str, ...] | None = ("POST",)  # None: every method


REGISTER = Guard((Budget("RATELIMIT_REGISTER", shared="registration"),), oauth_json, None)

GUARDS: dict[str, Guard] = {
    # Only the form submissions: showing a form costs nothing, checking a password does.
    "auth.login_submit": Guard((Budget("RATELIMIT_LOGIN"),), login_page),
    "auth.otp": Guard((Budget("RATELIMIT_LOGIN_OTP"),), otp_page),
    "auth.forgot": Guard((Budget("RATELIMIT_PASSWORD_FORGOT"),), forgot_page),
    "oidc_token.token": Guard((Budget("RATELIMIT_TOKEN"),
                               Budget("RATELIMIT_TOKEN_CLIENT", key=client_and_address)),
                              oauth_json),
    "oidc_token.introspect": Guard((Budget("RATELIMIT_INTROSPECT"),
                                    Budget("RATELIMIT_INTROSPECT_CLIENT",
                                           key=client_and_address)), oauth_json),
    # RFC 7009 §2.1 client authentication at /revoke: each failure costs a hash and an audit row.
    "oidc_token.revoke": Guard((Budget("RATELIMIT_REVOKE"),
                                Budget("RATELIMIT_REVOKE_CLIENT", key=client_and_address)),
                               oauth_json),
    "registration.register": REGISTER,
    "registration.read": REGISTER,
    "registration.replace": REGISTER,
    "registration.delete": REGISTER,
}


class SweptMemoryStorage(MemoryStorage):
    """The limits library's memory storage, swept inline once a minute.

    The original starts a new thread 10 ms after each hit to expire keys: under load that
    is a thread per few requests, about 0.5 ms of CPU per /token request in
    bench/inproc.py. A fixed window expires its key when it is read anyway; the sweep
    only frees the keys of clients that stopped coming.
    """

    STORAGE_SCHEME = ["idp-memory"]  # registered with limits' storage_from_string
    SWEEP_SECONDS = 60

    def __init__(self, uri: str | None = None, **options) -> None:
        super().__init__(uri, **options)
        self.next_sweep = time.monotonic() + self.SWEEP_SECONDS

    def _MemoryStorage__schedule_expiry(self) -> None:  # the hook MemoryStorage.incr calls
        now = time.monotonic()
        if now < self.next_sweep:
            return
        self.next_sweep = now + self.SWEEP_SECONDS
        wall = time.time()
        for key, expiry in list(self.expirations.items()):
            if expiry <= wall:
                self.storage.pop(key, None)
                self.expirations.pop(key, None)
                self.locks.pop(key, None)


def storage(config: dict) -> tuple[str, dict]:
    """Flask-Limiter's storage URI and options for these settings."""
    url = config.get("REDIS_URL")
    if not url:
        return "idp-memory://", {}
    if url.startswith("unix://"):  # redis-py's spelling; the limits library wants this one
        url = "redis+unix://" + url.removeprefix("unix://")
    # Short timeouts: a slow Redis must not hold a worker; the in-memory fallback counts then.
    return url, {"key_prefix": f"{config['REDIS_PREFIX']}ratelimit",
                 "socket_timeout": 0.5, "socket_connect_timeout": 0.5}


def init_app(app: Flask) -> None:
    """Wrap the guarded view functions of ``app`` (call after the blueprints are registered)."""
    if not app.config["RATELIMIT_ENABLED"]:
        return
    uri, options = storage(app.config)
    # One Limiter per app, not one in idp/extensions.py: Flask-Limiter keeps its storage
    # and its table of limits on the instance, and two apps in one process (tests, the
    # scale-out test) must not share them.
    limiter = Limiter(client_address, storage_uri=uri, storage_options=options,
                      strategy="fixed-window", swallow_errors=True,
                      in_memory_fallback_enabled=True, headers_enabled=False)
    # Into the provider's own log: Flask-Limiter's logger has only a NullHandler, so that
    # "storage unreachable - falling back to in-memory storage" (a Redis outage: budgets
    # are then per process) and each refused request would otherwise be dropped unseen.
    limiter.logger = logging.getLogger("idp.ratelimits")
    limiter.init_app(app)
    # Its before_request hook serves only application-wide and default limits, which are
    # not used here: without it, unguarded endpoints (health, metrics...) pay nothing.
    app.before_request_funcs[None].remove(limiter._check_request_limit)
    app.extensions[EXTENSION] = limiter
    for endpoint, guard in GUARDS.items():
        view = app.view_functions[endpoint]
        for budget in guard.budgets:
            limit = limiter.shared_limit if budget.shared else limiter.limit
            scope = {"scope": budget.shared} if budget.shared else {}
            view = limit(app.config[budget.setting], key_func=budget.key,
                         methods=list(guard.methods) if guard.methods else None,
                         **scope)(view)
        app.view_functions[endpoint] = view
    app.register_error_handler(RateLimitExceeded, _exceeded)


def _exceeded(exc: RateLimitExceeded) -> Response:
    error = RateLimited(_retry_after(exc))  # Flask-Limiter logs the limit and the key
    guard = GUARDS.get(request.endpoint or "")
    response = guard.answer(error) if guard else oauth_json(error)
    response.headers["Retry-After"] = str(error.retry_after)
    return response


def _retry_after(exc: RateLimitExceeded) -> int:
    """Whole seconds until the breached window ends (its full length if storage fails)."""
    breached = current_app.extensions[EXTENSION].current_limit
    try:
        return max(1, math.ceil(breached.window[0] - time.time()))
    except Exception:  # noqa: BLE001  (storage gone since the check: the window's length)
        return max(1, int(exc.limit.limit.get_expiry()))
