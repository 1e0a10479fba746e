"""Which claims each scope releases, and the claims of a staff member (OIDC Core §5.4).

The ministry's own claims: ``department`` (scope ``department``) is an object
``{"code", "name"}``; ``roles`` (scope ``roles``) lists only the roles the user
holds in the client that asks, never another client's; ``title`` and
``employee_number`` come with ``profile`` because every internal application
shows them next to the name.
"""

from __future__ import annotations

from typing import Any, Iterable

from ..models import Client, User

# OIDC Core §5.4 plus the ministry's scopes. ``openid`` and ``offline_access`` carry no claims.
SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "openid": ("sub",),
    "profile": ("name", "given_name", "family_name", "preferred_username", "locale",
                "updated_at", "title", "employee_number"),
    "email": ("email", "email_verified"),
    "phone": ("phone_number",),
    "offline_access": (),
    "department": ("department",),
    "roles": ("roles",),
}
SCOPES = tuple(SCOPE_CLAIMS)
CLAIMS = tuple(dict.fromkeys(claim for names in SCOPE_CLAIMS.values() for claim in names))


def known_scopes(scopes: Iterable[str]) -> list[str]:
    """The scopes this provider understands, in the order given, without repeats.

    OIDC Core §3.1.2.1: scope values that are not understood SHOULD be ignored.
    """
    return [s for s in dict.fromkeys(scopes) if s in SCOPE_CLAIMS]


def claims_for_scopes(scopes: Iterable[str]) -> set[str]:
    return {claim for scope in scopes for claim in SCOPE_CLAIMS.get(scope, ())}


def _value(user: User, client: Client, claim: str) -> Any:
    if claim == "sub":
        return user.sub
    if claim == "name":
        return user.full_name
    if claim == "preferred_username":
        return user.username
    if claim == "updated_at":
        return int(user.updated_at.timestamp()) if user.updated_at else None
    if claim == "email_verified":
        return True  # addresses are set by administrators from the staff register
    if claim == "phone_number":
        return user.phone
    if claim == "department":
        unit = user.department
        return {"code": unit.code, "name": unit.name} if unit else None
    if claim == "roles":
        return user.client_roles(client.id)
    return getattr(user, claim, None)


def user_claims(user: User, client: Client, scopes: Iterable[str],
                requested: dict[str, Any] | None = None) -> dict[str, Any]:
    """``sub`` and the claims released by ``scopes``, plus individually requested ones.

    ``requested`` is one member (``userinfo`` or ``id_token``) of the OIDC Core §5.5
    ``claims`` parameter. A claim requested there is released only if the client
    is registered for a scope that carries it (a claims request never widens what
    the client may see).
    """
    names = claims_for_scopes(scopes)
    allowed = claims_for_scopes((client.scope or "").split())
    names |= {name for name in (requested or {}) if name in allowed}
    result: dict[str, Any] = {"sub": user.sub}
    for name in sorted(names - {"sub"}):
        value = _value(user, client, name)
        if value not in (None, ""):
            result[name] = value
    return result
