"""Who may use the console: staff with an admin role, signed in with their second factor."""

from __future__ import annotations

from functools import wraps
from typing import Callable

from flask import g, redirect, request, url_for
from flask_babel import lazy_gettext as _l

from ..errors import Forbidden
from ..models import User
from ..services.admin_audit import Actor
from ..sso import ACR_MFA, current_session

# Which global roles may do what. Every view names one of these in @require_roles.
DASHBOARD = ("admin", "auditor")
AUDIT = ("admin", "auditor")
CLIENTS = ("admin", "client-admin")
STAFF_READ = ("admin", "helpdesk")
STAFF_SUPPORT = ("admin", "helpdesk")  # unlock, reset password and MFA, end sessions
STAFF_WRITE = ("admin",)
DEPARTMENTS_READ = ("admin", "helpdesk")
DEPARTMENTS_WRITE = ("admin",)

# The navigation, in order: (endpoint, label, roles).
SECTIONS = (
    ("admin.dashboard", _l("Dashboard"), DASHBOARD),
    ("admin.clients", _l("Clients"), CLIENTS),
    ("admin.staff", _l("Staff"), STAFF_READ),
    ("admin.departments", _l("Departments"), DEPARTMENTS_READ),
    ("admin.audit", _l("Audit"), AUDIT),
    ("admin.tokens", _l("Registration tokens"), CLIENTS),
)


def _login_redirect(step_up: bool):
    here = request.full_path.rstrip("?") if request.method == "GET" else request.path
    query = {"next": here}
    if step_up:
        query["mfa"] = "1"
    return redirect(url_for("auth.login", **query))


def require_roles(*roles: str) -> Callable:
    """Let the view run only for a live MFA session whose user holds one of ``roles``.

    No session → sign-in; a password-only session → step-up to the second factor;
    no suitable role → 403.
    """
    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            session = current_session()
            if session is None:
                return _login_redirect(step_up=False)
            if session.acr != ACR_MFA:
                return _login_redirect(step_up=True)
            held = set(session.user.global_roles())
            if not held & set(roles):
                raise Forbidden()
            g.admin, g.admin_roles = session.user, held
            return view(*args, **kwargs)

        wrapped.required_roles = roles  # type: ignore[attr-defined]
        return wrapped

    return decorate


def admin() -> User:
    return g.admin


def has_role(*roles: str) -> bool:
    return bool(g.get("admin_roles", set()) & set(roles))


def actor() -> Actor:
    """The signed-in administrator; ``full_admin`` for the admin role only (not client-admin)."""
    return Actor(name=g.admin.username, ip=request.remote_addr, full_admin=has_role("admin"))


def sections() -> list[tuple[str, str]]:
    """The navigation entries this administrator may open."""
    return [(endpoint, label) for endpoint, label, roles in SECTIONS if has_role(*roles)]
