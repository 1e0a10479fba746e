"""Structured logs: one JSON object per line, with the request's id, never a secret.

Every record of the ``idp`` loggers (and the access log, ``idp.access``) goes to
standard error as JSON: ``time, level, logger, message`` and, inside a request,
``request_id, method, path, remote_addr`` (the access log adds ``status`` and
``duration_ms``).  Query strings are redacted before they are logged, and a last
filter scrubs ``name=value`` pairs of secret parameters from any message.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from flask import Flask, g, has_request_context, request

# Parameters whose values are credentials (RFC 6749, OIDC Core, Back-Channel Logout).
SECRET_PARAMS = frozenset({
    "code", "token", "access_token", "refresh_token", "id_token", "id_token_hint",
    "logout_token", "client_secret", "client_assertion", "password", "new_password",
    "current_password", "otp", "totp", "recovery_code", "csrf_token", "code_verifier",
})
# Endpoints whose whole query string stays out of logs (it can carry a request object,
# login_hint, a reset token, an authorization request in ``next``...).
REDACTED_QUERY_PATHS = ("/authorize", "/end_session", "/logout", "/login", "/password")
REDACTED = "[redacted]"

_SCRUB = re.compile(
    # A name starts the text, follows a non-word character, or an encoded ? or &.
    r"(?i)(?:^|(?<=[^A-Za-z0-9_])|(?<=%3F)|(?<=%26))"
    r"(" + "|".join(sorted(SECRET_PARAMS, key=len, reverse=True)) + r")"
    r"(=|%3D|\"?\s*:\s*\"?)([^&\s\"',;]+)"
)
_BEARER = re.compile(r"(?i)\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+")


def scrub(text: str) -> str:
    """Replace the values of secret parameters and Authorization credentials in text."""
    text = _SCRUB.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    return _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)


MAX_LOGGED_PATH = 2048  # a hostile 200 KB URL must not become a 200 KB log line


def redacted_path(path: str, query: str) -> str:
    """The path with its query string made safe to log (and at most MAX_LOGGED_PATH long)."""
    logged = _redacted_path(path[:MAX_LOGGED_PATH], query)
    return logged if len(logged) <= MAX_LOGGED_PATH else logged[:MAX_LOGGED_PATH] + "…"


def _redacted_path(path: str, query: str) -> str:
    if not query:
        return path
    if path.startswith(REDACTED_QUERY_PATHS):
        return f"{path}?{REDACTED}"
    pairs = [(k, REDACTED if k.lower() in SECRET_PARAMS else v)
             for k, v in parse_qsl(query, keep_blank_values=True)]
    return f"{path}?{scrub(urlencode(pairs, safe='[]/:'))}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line, request fields included when there is a request."""

    FIELDS = ("request_id", "method", "path", "status", "duration_ms", "remote_addr")

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        if has_request_context():
            entry.update(
                request_id=g.get("request_id", ""), method=request.method,
                path=redacted_path(request.path, request.query_string.decode("latin-1")),
                remote_addr=request.remote_addr,
            )
        for field in self.FIELDS:
            value = record.__dict__.get(field)
            if value is not None:
                entry[field] = value
        if record.exc_info:
            entry["exception"] = scrub(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class StderrHandler(logging.StreamHandler):
    """Writes to the process's standard error (file descriptor 2), whatever a command
    runner or test harness has put in ``sys.stderr``: a log line never mixes with the
    output of a command (``idp client create --json``)."""

    def __init__(self) -> None:
        super().__init__(sys.__stderr__ or sys.stderr)

    @property  # type: ignore[override]
    def stream(self):
        return sys.__stderr__ or sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


# Authlib's grants log each issued token response at DEBUG ("Issue token %r to %r"), access,
# refresh and ID token included. These are the modules that do; their loggers get a filter
# that keeps the line and drops the token (ASVS 7.1.1: no credentials in logs).
AUTHLIB_TOKEN_LOGGERS = (
    "authlib.oauth2.rfc6749.grants.authorization_code",
    "authlib.oauth2.rfc6749.grants.refresh_token",
    "authlib.oauth2.rfc6749.grants.client_credentials",
    "authlib.oauth2.rfc6749.grants.implicit",
    "authlib.oauth2.rfc6749.grants.resource_owner_password_credentials",
    "authlib.oauth2.rfc7523.jwt_bearer",
    "authlib.oauth2.rfc8628.device_code",
    "authlib.oidc.core.grants.implicit",
    "authlib.oidc.core.grants.hybrid",
)


class TokenArgsFilter(logging.Filter):
    """Replace a token response given as a log argument by the names of its fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, dict) for a in record.args):
            record.args = tuple(f"<token: {', '.join(sorted(a))}>" if isinstance(a, dict) else a
                                for a in record.args)
        return True


def _quiet_authlib_tokens() -> None:
    for name in AUTHLIB_TOKEN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, TokenArgsFilter) for f in logger.filters):
            logger.addFilter(TokenArgsFilter())


def configure_logging(app: Flask) -> None:
    """Send the provider's logs to stderr as JSON lines, once per process."""
    level = logging.getLevelName(str(app.config["LOG_LEVEL"]).upper())
    if not isinstance(level, int):
        level = logging.INFO
    _quiet_authlib_tokens()
    logger = logging.getLogger("idp")
    if not any(isinstance(h, StderrHandler) for h in logger.handlers):
        handler = StderrHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
    logger.setLevel(level)
    # Our handler writes each line; the root logger need not print it again (tests
    # let records through to pytest's capture).
    logger.propagate = bool(app.config.get("TESTING"))


def log_request(status: int, duration_ms: float) -> None:
    """The access log line of the current request."""
    logging.getLogger("idp.access").info(
        "%s %s %s", request.method, redacted_path(request.path,
                                                  request.query_string.decode("latin-1")),
        status, extra={"status": status, "duration_ms": round(duration_ms, 2)},
    )
