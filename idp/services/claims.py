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


def requestable(client: Client, granted: Iterable[str]) -> set[str]:
    """The claims an OIDC Core §5.5 ``claims`` request may add to what the scopes release.

    Only claims that a *granted* scope carries: the consent page lists scopes, so a
    claim requested by name is released only when the user allowed a scope that
    carries it. A trusted first-party client skips consent by design (it gets every
    registered scope it asks for without a page), so for it the registered scopes
    count: a claims request never shows it more than asking for the scope would.
    """
    names = claims_for_scopes(granted)
    if client.trusted:
        names |= claims_for_scopes((client.scope or "").split())
    return names


def user_claims(user: User, client: Client, scopes: Iterable[str],
                requested: dict[str, Any] | None = None) -> dict[str, Any]:
    """``sub`` and the claims released by the granted ``scopes``, plus requested ones.

    ``requested`` is one member (``userinfo`` or ``id_token``) of the OIDC Core §5.5
    ``claims`` parameter; a claim requested there is released only if ``requestable``.
    """
    scopes = list(scopes)
    names = claims_for_scopes(scopes)
    names |= {name for name in (requested or {}) if name in requestable(client, scopes)}
    return _claims_of(user, client, names)


def requested_claims(user: User, client: Client, granted: Iterable[str],
                     requested: dict[str, Any] | None) -> dict[str, Any]:
    """Only the claims named in ``requested`` that may be released (the ID token's)."""
    allowed = requestable(client, granted)
    names = {name for name in (requested or {}) if name in allowed}
    return {k: v for k, v in _claims_of(user, client, names).items() if k in names}


def _claims_of(user: User, client: Client, names: set[str]) -> dict[str, Any]:
    result: dict[str, Any] = {"sub": user.sub}
    for name in sorted(names - {"sub"}):
        value = _value(user, client, name)
        if value not in (None, ""):
            result[name] = value
    return result
