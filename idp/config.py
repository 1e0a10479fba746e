"""Every setting of the provider, its default and its ``IDP_*`` environment variable.

Settings are read in this order, later ones winning: the defaults below, the
environment (``IDP_<NAME>``), then the mapping passed to ``create_app`` (tests).
The Flask config key is the setting's name without the ``IDP_`` prefix.

A development instance needs no setting at all: it keeps SQLite, a generated
secret key and a generated data key in the instance folder.  Production mode
(``IDP_ENV=production``) refuses those development defaults and names the
variable to set instead.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""


def _bool(value: str) -> bool:
    low = value.strip().lower()
    if low in {"1", "true", "yes", "on"}:
        return True
    if low in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("expected true or false")


def _int(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError("expected a whole number of zero or more")
    return number


def _str(value: str) -> str:
    return value


def _list(value: str) -> list[str]:
    return [item for item in value.replace(",", " ").split() if item]


def _rate(value: str) -> str:
    """A Flask-Limiter rate limit string such as ``60/minute`` or ``10/minute;100/hour``."""
    from limits import parse_many

    value = value.strip()
    try:
        parse_many(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a rate limit such as 60/minute or "
                         "10/minute;100/hour (Flask-Limiter's syntax)") from None
    return value


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    parse: Callable[[str], Any]
    doc: str

    @property
    def env(self) -> str:
        return f"IDP_{self.name}"


SETTINGS: tuple[Setting, ...] = (
    # --- Deployment --------------------------------------------------------------
    Setting("ENV", "development", _str,
            "development or production. Production refuses generated keys, SQLite "
            "(unless IDP_ALLOW_SQLITE) and a plain-http issuer other than loopback."),
    Setting("ISSUER", "http://127.0.0.1:5000", _str,
            "The issuer identifier (OIDC Discovery 1.0 §3): https URL with no query or "
            "fragment. Goes into every token and the discovery document."),
    Setting("INSTANCE_PATH", None, _str,
            "Folder for the SQLite database and the generated development keys "
            "(default: ./instance beside the idp package)."),
    Setting("DATABASE_URL", None, _str,
            "SQLAlchemy URL of the database, e.g. postgresql+psycopg://user@host/idp. "
            "Default: SQLite in the instance folder."),
    Setting("ALLOW_SQLITE", False, _bool,
            "Allow SQLite in production mode (a single-node deployment)."),
    Setting("SECRET_KEY", None, _str,
            "Flask secret key (signs CSRF tokens and flash cookies). Generated into the "
            "instance folder in development; required in production."),
    Setting("DATA_KEY", None, _str,
            "Key that encrypts signing keys and TOTP secrets at rest: 32 bytes, urlsafe "
            "base64 (generate with `idp keys gen-data-key`). Generated in development; "
            "required in production."),
    Setting("AUDIT_KEY", None, _str,
            "Key that signs the audit log's checkpoints (HMAC-SHA256), so that deleting the "
            "newest events or recomputing the hash chain inside the database is detected by "
            "`idp audit verify`. Keep it out of the database and its backups; every node "
            "and the worker need the same value (any long random string, e.g. from `idp keys "
            "gen-data-key`). Generated in development; required in production."),
    Setting("TRUSTED_PROXIES", 0, _int,
            "Number of reverse-proxy hops whose X-Forwarded-* headers are trusted."),
    Setting("REDIS_URL", None, _str,
            "Optional Redis URL for the request rate limits and the lockout counters, "
            "shared by every node; without it lockout counters live in the database and "
            "rate limits in each process's memory."),
    Setting("REDIS_PREFIX", "idp:", _str,
            "Prefix of the provider's Redis keys; give each deployment sharing one Redis "
            "its own (e.g. idp-staging:), or their lockout and rate-limit counters would mix."),
    Setting("LOG_LEVEL", "INFO", _str, "Log level of the provider's JSON logs."),
    Setting("MAX_CONTENT_LENGTH", 1_048_576, _int,
            "Largest request body accepted, in bytes; larger requests answer 413."),
    Setting("MAX_JSON_DEPTH", 16, _int,
            "Deepest nesting of arrays and objects accepted in JSON from a request "
            "(registration, the claims parameter, the admin API); deeper answers 400."),
    Setting("MAX_REDIRECT_LENGTH", 8192, _int,
            "Longest Location the provider sends, in bytes. A redirect that would echo more "
            "(a huge state) is answered with an error page instead: proxies and HTTP "
            "clients drop responses with longer headers."),
    # --- Request rate limits (idp/ratelimits.py, Flask-Limiter) ----------------
    # Per client address (after IDP_TRUSTED_PROXIES hops; IPv6 per /64), fixed windows,
    # answered 429 with Retry-After. Counters in Redis (IDP_REDIS_URL, keys under
    # IDP_REDIS_PREFIX + "ratelimit:"), shared by every node; without Redis they are kept
    # in each process's memory, so N processes allow N times the limit.
    Setting("RATELIMIT_ENABLED", True, _bool,
            "Apply the request rate limits below. Turn off only where something in front "
            "(a proxy, a load test) limits instead."),
    Setting("RATELIMIT_LOGIN", "60/minute", _rate,
            "Sign-in form submissions (POST /login) per client address. An office behind "
            "one NAT address shares it: raise it there, or set IDP_TRUSTED_PROXIES."),
    Setting("RATELIMIT_LOGIN_OTP", "60/minute", _rate,
            "Second-factor submissions (POST /login/otp) per client address."),
    Setting("RATELIMIT_PASSWORD_FORGOT", "10/minute;60/hour", _rate,
            "Password-reset requests (POST /password/forgot) per client address; each one "
            "may send a mail."),
    Setting("RATELIMIT_TOKEN", "1200/minute", _rate,
            "Token requests (POST /token) per client address, all clients together."),
    Setting("RATELIMIT_TOKEN_CLIENT", "600/minute", _rate,
            "Token requests per client address and client_id, so that one relying party "
            "cannot use up the budget of the others behind the same address."),
    Setting("RATELIMIT_INTROSPECT", "3000/minute", _rate,
            "Introspection requests (POST /introspect, RFC 7662) per client address."),
    Setting("RATELIMIT_INTROSPECT_CLIENT", "1200/minute", _rate,
            "Introspection requests per client address and client_id (resource server)."),
    Setting("RATELIMIT_REVOKE", "1200/minute", _rate,
            "Revocation requests (POST /revoke, RFC 7009) per client address."),
    Setting("RATELIMIT_REVOKE_CLIENT", "600/minute", _rate,
            "Revocation requests per client address and client_id."),
    Setting("RATELIMIT_REGISTER", "10/minute;100/hour", _rate,
            "Dynamic registration requests per client address: RFC 7591 POST /register "
            "and RFC 7592 GET/PUT/DELETE of a registration URI share one budget."),
    # --- Operations -------------------------------------------------------------
    Setting("METRICS_ALLOW", ["127.0.0.0/8", "::1/128"], _list,
            "Client networks (CIDRs) allowed to read /metrics; others get 403. The "
            "address is the one after IDP_TRUSTED_PROXIES hops. Default: loopback only."),
    Setting("HOUSEKEEPING_MARGIN", 3600, _int,
            "Seconds an expired code, token, used jti or reset link is kept before "
            "housekeeping deletes it (room for clock skew and for investigating)."),
    Setting("HOUSEKEEPING_SESSION_RETENTION", 2_592_000, _int,
            "Seconds an ended SSO session is kept (for the sessions pages and "
            "investigations) before housekeeping deletes it. Audit events are never deleted."),
    Setting("HOUSEKEEPING_OUTBOX_RETENTION", 604_800, _int,
            "Seconds a delivered back-channel logout row is kept before it is deleted."),
    # --- Sessions (OWASP ASVS 4 V3) -------------------------------------------
    Setting("SESSION_IDLE_TIMEOUT", 1800, _int,
            "Seconds of inactivity after which an SSO session ends (ASVS 3.3.2)."),
    Setting("SESSION_ABSOLUTE_TIMEOUT", 36000, _int,
            "Seconds after sign-in after which an SSO session ends whatever happens."),
    Setting("SESSION_COOKIE_NAME", "idp_session", _str,
            "Name of the SSO cookie; prefixed with __Host- when the issuer is https."),
    # --- Single logout (OIDC Back-Channel / Front-Channel / RP-Initiated Logout 1.0) -----
    Setting("LOGOUT_MAX_ATTEMPTS", 12, _int,
            "Back-channel logout deliveries tried at most this many times per client, "
            "then marked failed (Back-Channel Logout 1.0 §2.7: the OP may retry)."),
    Setting("LOGOUT_RETRY_BASE", 5, _int,
            "Seconds before the first retry of a failed back-channel logout; each "
            "further retry waits twice as long, capped by IDP_LOGOUT_RETRY_MAX."),
    Setting("LOGOUT_RETRY_MAX", 3600, _int, "Longest wait between two delivery attempts."),
    Setting("LOGOUT_MAX_AGE", 86400, _int,
            "Seconds after the session ended beyond which an undelivered logout is given up."),
    Setting("LOGOUT_HTTP_TIMEOUT", 5, _int,
            "Seconds to wait for a client's back-channel logout endpoint to answer."),
    Setting("LOGOUT_TOKEN_TTL", 120, _int,
            "Lifetime of a logout token (its exp; Back-Channel Logout 1.0 §2.4: short)."),
    # --- Outbound requests (back-channel logout, client jwks_uri): SSRF rules ----------
    Setting("OUTBOUND_ALLOW", [], _list,
            "Exceptions to the outbound address rule (by default the provider reaches only "
            "https on public addresses): CIDR networks whose addresses are allowed, e.g. "
            "10.20.0.0/16, and host names that may resolve to private (RFC 1918, unique-local) "
            "addresses, e.g. docs.internal.gov.vn. A deliberate choice for internal "
            "back-channel hosts; never needed for the loopback demo."),
    Setting("OUTBOUND_JWKS_TIMEOUT", 2, _int,
            "Total seconds allowed to fetch a client's jwks_uri (connect, answer and body); "
            "it runs inside a /token request."),
    Setting("OUTBOUND_JWKS_MAX_BYTES", 65536, _int,
            "Largest client JWKS document read from a jwks_uri; a longer one is refused."),
    Setting("OUTBOUND_JWKS_CACHE", 300, _int,
            "Seconds a fetched client JWKS is reused by a provider process."),
    Setting("OUTBOUND_JWKS_REFETCH", 60, _int,
            "A client's jwks_uri is fetched again for an unknown kid at most once per this "
            "many seconds across all nodes (shared counters), and a failed fetch is "
            "remembered for as long (RFC 7523 §3 keys; no forced fetches by anyone)."),
    Setting("LOGOUT_INLINE_WORKER", None, _bool,
            "Run the worker (logouts, mail, timed-out sessions) as a thread inside the "
            "provider, started by its first request, so that no `idp worker` process is "
            "needed. Default: on when IDP_ENV is development, off in production; the "
            "test suite turns it off and a test that needs the thread turns it on."),
    Setting("LOGOUT_IMMEDIATE", True, _bool,
            "Try each back-channel logout at once, in a background thread, right after "
            "the session ends (the outbox row stays the source of truth). The test "
            "suite turns it off, so that the worker's passes are what a test sees."),
    # --- Tokens -----------------------------------------------------------------
    Setting("TOKEN_CODE_TTL", 60, _int,
            "Authorization code lifetime in seconds (RFC 6749 §4.1.2: short-lived)."),
    Setting("TOKEN_ACCESS_TTL", 600, _int,
            "Default access token lifetime in seconds (a client may set its own)."),
    Setting("TOKEN_ID_TTL", 600, _int, "ID token lifetime in seconds."),
    Setting("TOKEN_REFRESH_TTL", 2_592_000, _int,
            "Default refresh token lifetime in seconds (a client may set its own)."),
    Setting("TOKEN_REFRESH_GRACE", 0, _int,
            "Seconds in which a spent refresh token may be presented again and get the "
            "same new pair, without revoking its family (opt-in, for clients that cannot "
            "retry safely). Default 0: strict single use, any replay revokes the family "
            "(RFC 9700 §4.14.2)."),
    Setting("KEYS_ALG", "RS256", _str,
            "Algorithm of the provider's main signing key: RS256 or ES256."),
    Setting("KEYS_JWKS_CACHE", 300, _int,
            "Seconds that /jwks and discovery may be cached; a key is published "
            "at least this long before it signs."),
    # --- Passwords (OWASP ASVS 4 V2; argon2id parameters) ----------------------
    Setting("ARGON2_MEMORY_KIB", 19456, _int,
            "argon2id memory cost in KiB (OWASP minimum: 19456 = 19 MiB)."),
    Setting("ARGON2_TIME_COST", 2, _int, "argon2id iterations (OWASP minimum: 2)."),
    Setting("ARGON2_PARALLELISM", 1, _int, "argon2id lanes (OWASP: 1)."),
    Setting("PASSWORD_MIN_LENGTH", 12, _int, "Shortest password accepted (ASVS 2.1.1)."),
    Setting("LOCKOUT_THRESHOLD", 5, _int,
            "Failed sign-ins on one account before it is locked for a while."),
    Setting("LOCKOUT_SECONDS", 900, _int, "How long such a lock lasts."),
    Setting("LOCKOUT_DELAY_AFTER", 3, _int,
            "Failed sign-ins on one account after which each next attempt must wait "
            "(growing delays before the lock, ASVS 2.2.1); attempts made too early get 429."),
    Setting("LOCKOUT_DELAY_SECONDS", 2, _int,
            "First such wait in seconds; it doubles with each further failure."),
    Setting("IP_THRESHOLD", 50, _int,
            "Failed sign-ins from one client IP per lockout period before it is slowed."),
    Setting("THROTTLE_KNOWN_IP_SECONDS", 2_592_000, _int,
            "Seconds after a completed sign-in during which that account is not slowed by "
            "its IP's failures (one office behind one NAT address); its own count and "
            "hold still apply. 0 turns the exemption off."),
    # --- Multi-factor authentication -------------------------------------------
    Setting("MFA_REQUIRED_ROLES", ["admin", "client-admin", "helpdesk", "auditor"], _list,
            "Global roles whose holders must use a second factor."),
    Setting("MFA_ISSUER_NAME", "IDP", _str, "Issuer name shown in authenticator apps."),
    Setting("MFA_DAILY_FAILURE_CAP", 20, _int,
            "Failed second factors (TOTP or recovery codes) per account per day after "
            "which every second factor is refused until the day is over or the helpdesk "
            "unlocks the account (RFC 6238 §5.2: limit the attempts). With one code in "
            "10^6 and three accepted steps, 20 a day give about 1 chance in 16,000 a day."),
    # --- Mail ---------------------------------------------------------------------
    Setting("SMTP_HOST", "127.0.0.1", _str, "SMTP server for password-reset mail."),
    Setting("SMTP_PORT", 25, _int, "SMTP port."),
    Setting("SMTP_USERNAME", None, _str, "SMTP user name, if the server wants one."),
    Setting("SMTP_PASSWORD", None, _str, "SMTP password."),
    Setting("SMTP_STARTTLS", False, _bool, "Use STARTTLS on the SMTP connection."),
    Setting("SMTP_FROM", "no-reply@idp.local", _str, "Sender address of the mail."),
    Setting("RESET_TTL", 1800, _int, "Lifetime of a password-reset link in seconds."),
    Setting("RESET_MAX_PER_ADDRESS", 3, _int,
            "Reset mails sent to one address per IDP_RESET_WINDOW; further requests get "
            "the same page and no mail (no mail bombing, no account enumeration)."),
    Setting("RESET_MAX_PER_IP", 20, _int,
            "Reset requests accepted from one client IP per IDP_RESET_WINDOW; further "
            "requests get the same page and no mail."),
    Setting("RESET_WINDOW", 3600, _int,
            "Seconds of the two password-reset request windows above."),
    Setting("MAIL_MAX_ATTEMPTS", 5, _int,
            "Attempts to hand one queued mail to the SMTP server before it is given up. "
            "Mail is sent by `idp worker` (or the inline worker), never in the request."),
    Setting("MAIL_RETRY_BASE", 30, _int,
            "Seconds before a failed mail is tried again; doubles with each attempt."),
    # --- User interface ---------------------------------------------------------
    Setting("DEFAULT_LOCALE", "vi", _str, "Language of the pages: vi (default) or en."),
)

BY_NAME = {setting.name: setting for setting in SETTINGS}
LOCALES = ("vi", "en")


def _loopback(host: str | None) -> bool:
    return host in {"localhost", "::1"} or (host or "").startswith("127.")


def load(environ: os._Environ | dict, overrides: dict | None) -> dict[str, Any]:
    """Return the settings as a dict keyed by name, parsed and validated."""
    values: dict[str, Any] = {s.name: s.default for s in SETTINGS}
    for setting in SETTINGS:
        raw = environ.get(setting.env)
        if raw is None or raw == "":
            continue
        try:
            values[setting.name] = setting.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{setting.env} is malformed: {exc}.") from None
    for key, value in (overrides or {}).items():
        values[key.removeprefix("IDP_")] = value
    _validate(values)
    return values


def _validate(values: dict[str, Any]) -> None:
    if values["ENV"] not in {"development", "production"}:
        raise ConfigError("IDP_ENV must be development or production.")
    if values["LOGOUT_INLINE_WORKER"] is None:
        values["LOGOUT_INLINE_WORKER"] = values["ENV"] == "development"
    issuer = urlsplit(values["ISSUER"] or "")
    if issuer.scheme not in {"http", "https"} or not issuer.hostname:
        raise ConfigError("IDP_ISSUER must be an absolute http(s) URL.")
    if issuer.query or issuer.fragment:
        # OIDC Discovery 1.0 §3: the issuer has no query or fragment components.
        raise ConfigError("IDP_ISSUER must have no query or fragment.")
    values["ISSUER"] = values["ISSUER"].rstrip("/")
    if values["KEYS_ALG"] not in {"RS256", "ES256"}:
        raise ConfigError("IDP_KEYS_ALG must be RS256 or ES256.")
    _validate_networks(values, "METRICS_ALLOW")
    _validate_outbound_allow(values)
    _validate_rates(values)
    if values["DEFAULT_LOCALE"] not in LOCALES:
        raise ConfigError("IDP_DEFAULT_LOCALE must be vi or en.")
    if values["DATA_KEY"]:
        try:
            if len(base64.urlsafe_b64decode(values["DATA_KEY"])) != 32:
                raise ValueError
        except (binascii.Error, ValueError):
            raise ConfigError(
                "IDP_DATA_KEY is malformed: expected 32 bytes in urlsafe base64."
            ) from None
    if values["ENV"] == "production":
        _validate_production(values, issuer.scheme, issuer.hostname)


def _validate_networks(values: dict[str, Any], name: str) -> None:
    try:
        for network in values[name]:
            ipaddress.ip_network(network, strict=False)
    except ValueError as exc:
        raise ConfigError(f"IDP_{name} is malformed: {exc}.") from None


HOST_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$")


def _validate_outbound_allow(values: dict[str, Any]) -> None:
    """Each IDP_OUTBOUND_ALLOW entry is a CIDR network or a DNS host name."""
    for entry in values["OUTBOUND_ALLOW"]:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            if not HOST_NAME.match(entry.lower()) or entry.replace(".", "").isdigit():
                raise ConfigError(
                    f"IDP_OUTBOUND_ALLOW is malformed: {entry!r} is neither a network (CIDR) "
                    "nor a host name.") from None


def _validate_rates(values: dict[str, Any]) -> None:
    """Limits given to ``create_app`` skip the environment's parsing: check them too."""
    for setting in SETTINGS:
        if setting.parse is _rate:
            try:
                values[setting.name] = _rate(str(values[setting.name]))
            except ValueError as exc:
                raise ConfigError(f"{setting.env} is malformed: {exc}.") from None


def _validate_production(values: dict[str, Any], scheme: str, host: str) -> None:
    for name in ("SECRET_KEY", "DATA_KEY", "DATABASE_URL"):
        if not values[name]:
            raise ConfigError(f"IDP_{name} must be set in production mode.")
    if scheme != "https" and not _loopback(host):
        raise ConfigError("IDP_ISSUER must be https in production mode (RFC 9700 §2.6).")
    if values["DATABASE_URL"].startswith("sqlite") and not values["ALLOW_SQLITE"]:
        raise ConfigError(
            "IDP_DATABASE_URL is SQLite; set a PostgreSQL URL or IDP_ALLOW_SQLITE=true "
            "in production mode."
        )
    if not values["AUDIT_KEY"]:
        raise ConfigError("IDP_AUDIT_KEY must be set in production mode.")


def instance_secret(instance_path: str, name: str, make: Callable[[], str]) -> str:
    """Read a generated development secret from the instance folder, creating it once."""
    path = Path(instance_path) / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    tmp = path.with_name(f".{name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    try:
        # Several processes may start at once: the first link wins, the others read it.
        os.link(tmp, path)
    except FileExistsError:
        value = path.read_text().strip()
    finally:
        tmp.unlink()
    return value


def new_data_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
