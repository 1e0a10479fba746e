"""The signed-in staff member as the app sees it, and the access decorators."""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from flask import g, redirect, request, session, url_for
from werkzeug.local import LocalProxy

from .config import Settings
from .pages import render_page
from .state import USER_CACHE, USER_KEY, sso_state

F = TypeVar("F", bound=Callable[..., Any])


def claim(claims: dict[str, Any], name: str) -> Any:
    """The claim ``name``; "a.b" reads member b of object claim a (e.g. "realm_access.roles")."""
    if name in claims:
        return claims[name]
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _roles(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(value.split())  # a space-separated string, as some providers send groups
    if isinstance(value, list):
        return tuple(r for r in value if isinstance(r, str))
    return ()


def _department(value: Any) -> dict[str, str] | None:
    if isinstance(value, str) and value:
        return {"code": value, "name": value}  # a provider that sends only a name or a code
    if isinstance(value, dict):
        return {k: str(value[k]) for k in ("code", "name") if value.get(k) is not None} or None
    return None


@dataclass(frozen=True)
class User:
    """Claims of the ID token (and userinfo) of the current local session."""

    sub: str
    name: str | None = None
    preferred_username: str | None = None
    email: str | None = None
    department: dict[str, str] | None = None  # {"code": ..., "name": ...}, claim SSO_DEPARTMENT_CLAIM
    title: str | None = None                   # claim SSO_TITLE_CLAIM
    roles: tuple[str, ...] = ()  # this client's roles only, claim SSO_ROLES_CLAIM
    claims: dict[str, Any] = field(default_factory=dict, repr=False)
    is_authenticated: bool = True

    @classmethod
    def from_claims(cls, claims: dict[str, Any], settings: Settings | None = None) -> "User":
        """Build the user; roles, department and title are read from the claims ``settings`` name."""
        settings = settings or Settings()
        title = claim(claims, settings.title_claim)
        return cls(
            sub=str(claims["sub"]),
            name=claims.get("name"),
            preferred_username=claims.get("preferred_username"),
            email=claims.get("email"),
            department=_department(claim(claims, settings.department_claim)),
            title=title if isinstance(title, str) else None,
            roles=_roles(claim(claims, settings.roles_claim)),
            claims=dict(claims),
        )

    @property
    def display_name(self) -> str:
        return self.name or self.preferred_username or self.email or self.sub

    @property
    def department_code(self) -> str | None:
        return (self.department or {}).get("code")

    @property
    def department_name(self) -> str | None:
        return (self.department or {}).get("name")

    def has_role(self, *roles: str) -> bool:
        """True when the user holds at least one of ``roles``."""
        return any(role in self.roles for role in roles)


class AnonymousUser:
    """Nobody is signed in."""

    is_authenticated = False
    sub = name = preferred_username = email = department = title = None
    department_code = department_name = None
    display_name = ""
    roles: tuple[str, ...] = ()
    claims: dict[str, Any] = {}

    def has_role(self, *roles: str) -> bool:
        return False


def _load_user() -> User | AnonymousUser:
    if USER_CACHE not in g:
        claims = session.get(USER_KEY)
        user = User.from_claims(claims, sso_state().settings) if claims else AnonymousUser()
        setattr(g, USER_CACHE, user)
    return getattr(g, USER_CACHE)


current_user: User | AnonymousUser = cast(Any, LocalProxy(_load_user))


def _safe_next() -> str:
    """The path to come back to after sign-in; only local paths (no open redirect)."""
    path = request.full_path if request.query_string else request.path
    return path if request.method == "GET" else "/"


def login_required(view: F) -> F:
    """Send anonymous visitors to sign in; keep the access token fresh for signed-in ones."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_user.is_authenticated and not sso_state().keep_session_alive():
            g.pop(USER_CACHE, None)
        if not current_user.is_authenticated:
            return redirect(url_for("sso.login", next=_safe_next()))
        return view(*args, **kwargs)

    return cast(F, wrapper)


def require_role(*roles: str) -> Callable[[F], F]:
    """Allow only users holding one of ``roles`` (this client's roles); others get a 403 page."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        @login_required
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.has_role(*roles):
                return render_page(
                    403, "forbidden",
                    "Bạn không có quyền truy cập trang này. / You are not allowed to open this page.",
                    required_roles=roles,
                )
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorator
