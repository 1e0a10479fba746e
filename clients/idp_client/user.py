"""The signed-in staff member as the app sees it, and the access decorators."""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from flask import g, redirect, request, session, url_for
from werkzeug.local import LocalProxy

from .pages import render_page

USER_KEY = "_sso_user"
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class User:
    """Claims of the ID token (and userinfo) of the current local session."""

    sub: str
    name: str | None = None
    preferred_username: str | None = None
    email: str | None = None
    department: dict[str, str] | None = None  # {"code": ..., "name": ...}, scope "department"
    title: str | None = None
    roles: tuple[str, ...] = ()  # this client's roles only, scope "roles"
    claims: dict[str, Any] = field(default_factory=dict, repr=False)
    is_authenticated: bool = True

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> "User":
        department = claims.get("department")
        roles = claims.get("roles") or []
        return cls(
            sub=str(claims["sub"]),
            name=claims.get("name"),
            preferred_username=claims.get("preferred_username"),
            email=claims.get("email"),
            department=department if isinstance(department, dict) else None,
            title=claims.get("title"),
            roles=tuple(r for r in roles if isinstance(r, str)) if isinstance(roles, list) else (),
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
    if "_sso_current_user" not in g:
        claims = session.get(USER_KEY)
        g._sso_current_user = User.from_claims(claims) if claims else AnonymousUser()
    return g._sso_current_user


current_user: User | AnonymousUser = cast(Any, LocalProxy(_load_user))


def _safe_next() -> str:
    """The path to come back to after sign-in; only local paths (no open redirect)."""
    path = request.full_path if request.query_string else request.path
    return path if request.method == "GET" else "/"


def login_required(view: F) -> F:
    """Send anonymous visitors to sign in; keep the access token fresh for signed-in ones."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from .extension import sso_state  # late import: extension imports this module

        if current_user.is_authenticated and not sso_state().keep_session_alive():
            g.pop("_sso_current_user", None)
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
