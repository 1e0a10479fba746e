"""A small synchronizer-token CSRF guard for the app's own POST forms (ASVS V4.2.2).

The back-channel logout endpoint is exempt: the OP calls it server to server, without cookies.
"""
from __future__ import annotations

import hmac
import secrets

from flask import Flask, request, session

from .pages import render_page
from .state import CSRF_KEY as SESSION_KEY

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def csrf_token() -> str:
    """The token to put in a hidden ``csrf_token`` field of every POST form."""
    if SESSION_KEY not in session:
        session[SESSION_KEY] = secrets.token_urlsafe(32)
    return session[SESSION_KEY]


def init_app(app: Flask, exempt: set[str]) -> None:
    """Refuse unsafe requests without the session's token, except for ``exempt`` endpoints."""

    @app.before_request
    def _check_csrf():  # type: ignore[no-untyped-def]
        if request.method not in UNSAFE or request.endpoint in exempt:
            return None
        sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
        expected = session.get(SESSION_KEY) or ""
        if not expected or not hmac.compare_digest(sent, expected):
            return render_page(400, "csrf_failed",
                               "Phiên biểu mẫu đã hết hạn, hãy thử lại. / The form expired, please try again.")
        return None
