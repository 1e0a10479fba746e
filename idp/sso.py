"""The SSO cookie in the web layer: read the current session, set or clear the cookie.

The cookie holds only an opaque random value (DESIGN.md): ``HttpOnly``,
``SameSite=Lax``, and ``Secure`` with the ``__Host-`` prefix when the issuer is https.
"""

from __future__ import annotations

from flask import Response, current_app, g, request

from .models import SsoSession
from .services import sessions

# Authentication context classes (OIDC Core §2 acr), advertised in discovery.
ACR_PASSWORD = "urn:idp:acr:pwd"  # password only
ACR_MFA = "urn:idp:acr:mfa"  # password and a second factor (TOTP or a recovery code)
ACR_VALUES = (ACR_PASSWORD, ACR_MFA)


def current_session() -> SsoSession | None:
    """The live SSO session of this browser, looked up once per request."""
    # Keyed by request: an app context (and its g) can outlive one request, e.g. in tests.
    if g.get("sso_request") is not request._get_current_object():
        cookie = request.cookies.get(current_app.config["SSO_COOKIE_NAME"])
        g.sso_session = sessions.find_session(cookie)
        g.sso_request = request._get_current_object()
    return g.sso_session


def set_session_cookie(response: Response, cookie: str) -> None:
    cfg = current_app.config
    response.set_cookie(
        cfg["SSO_COOKIE_NAME"], cookie, httponly=True, samesite="Lax", path="/",
        secure=cfg["SESSION_COOKIE_SECURE"], max_age=cfg["SESSION_ABSOLUTE_TIMEOUT"],
    )


def clear_session_cookie(response: Response) -> None:
    cfg = current_app.config
    response.delete_cookie(cfg["SSO_COOKIE_NAME"], path="/", httponly=True, samesite="Lax",
                           secure=cfg["SESSION_COOKIE_SECURE"])
