"""Client applications as administrators manage them: validate, create, update, delete.

The same validation serves the console form, the admin API and dynamic registration
(RFC 7591 §2), so a client is held to the same rules however it was registered.
"""

from __future__ import annotations

import inspect
import re
from functools import wraps
from typing import Any, Callable, TypeVar

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select

from ..errors import Forbidden, InvalidInput
from ..extensions import db
from ..models import (AuthorizationCode, Client, Consent, LogoutDelivery, OrgUnit, Role,
                      SessionClient, Token, UsedJti, user_roles)
from . import clients, database, tokens
from .admin_audit import Actor, log
from .admin_fields import FieldErrors, as_bool, as_list, text

ID_TOKEN_ALGS = ("RS256", "ES256")
ADMIN_SCOPES = ("admin.clients", "admin.staff", "admin.audit")
ADMIN_SCOPE_PREFIX = "admin."
# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")
ROLE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
CLIENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")
TTL_LIMITS = {"access_token_ttl": (60, 86_400), "refresh_token_ttl": (300, 31_536_000)}


# --- who may touch a client ----------------------------------------------------------------
#
# A client holding an admin.* scope is an administrator in its own right: whoever can set its
# secret, scopes, redirect URIs or status can act as it.  So every operation that changes a
# client or reveals its credentials is wrapped in @changes_client, which runs guard() first.


class ProtectedClient(Forbidden):
    """The client holds an admin.* scope and the caller is not a full administrator."""

    description = _l("This application holds administrative scopes (admin.*): only an "
                     "administrator may change it or its credentials.")


def is_admin_scope(scope: str) -> bool:
    return scope.startswith(ADMIN_SCOPE_PREFIX)


def holds_admin_scope(client: Client) -> bool:
    return any(is_admin_scope(s) for s in (client.scope or "").split())


def guard(client: Client, actor: Actor, operation: str) -> Client:
    """Refuse (and audit) ``operation`` on a client holding admin.* unless ``actor`` is a full admin."""
    if holds_admin_scope(client) and not actor.full_admin:
        log(actor, "client.change_refused", client=client.client_id, outcome="failure",
            details={"operation": operation, "reason": "admin_scope"})
        database.commit_before_error()  # the error page rolls back; the event stays
        raise ProtectedClient()
    return client


F = TypeVar("F", bound=Callable[..., Any])


def changes_client(operation: F) -> F:
    """Mark ``operation(client, ..., actor)`` as changing or revealing a client: guard() first."""
    signature = inspect.signature(operation)
    if "client" not in signature.parameters or "actor" not in signature.parameters:
        raise TypeError(f"{operation.__name__} must take client and actor")

    @wraps(operation)
    def run(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        guard(bound.arguments["client"], bound.arguments["actor"], operation.__name__)
        return operation(*args, **kwargs)

    run.changes_client = True  # type: ignore[attr-defined]
    return run  # type: ignore[return-value]


# Functions of this module that take a client yet neither change it nor reveal a credential.
READS_ONLY = ("as_dict", "guard", "holds_admin_scope")


def _uri_list(data: dict, name: str, client_type: str, errors: dict[str, str]) -> list[str]:
    try:
        values = as_list(data.get(name))
    except TypeError:
        errors[name] = _("Expected a list of URIs.")
        return []
    result: list[str] = []
    for value in values:
        try:
            uri = clients.validate_redirect_uri(value, client_type=client_type, field=name)
        except InvalidInput as exc:
            errors.setdefault(name, str(exc.description))
            continue
        if uri not in result:
            result.append(uri)
    return result


def _one_uri(data: dict, name: str, errors: dict[str, str],
             check=clients.validate_redirect_uri) -> str | None:
    value = (data.get(name) or "").strip() if isinstance(data.get(name), (str, type(None))) else None
    if value is None:
        errors[name] = _("Expected a URI.")
        return None
    if not value:
        return None
    try:
        return check(value, field=name)
    except InvalidInput as exc:
        errors[name] = str(exc.description)
        return None


def _ttl(data: dict, name: str, errors: dict[str, str]) -> int | None:
    raw = data.get(name)
    if raw in (None, ""):
        return None
    low, high = TTL_LIMITS[name]
    try:
        value = int(raw)
    except (TypeError, ValueError):
        errors[name] = _("Enter a whole number of seconds.")
        return None
    if not low <= value <= high:
        errors[name] = _("Between %(low)d and %(high)d seconds.", low=low, high=high)
    return value


def _department(data: dict, errors: dict[str, str]) -> int | None:
    code = str(data.get("owner_department") or "").strip()
    if not code:
        return None
    unit = db.session.execute(select(OrgUnit).where(OrgUnit.code == code)).scalar_one_or_none()
    if unit is None:
        errors["owner_department"] = _("No department has the code %(code)s.", code=code)
        return None
    return unit.id


def _scope(data: dict, errors: dict[str, str], may_grant_admin: bool) -> str:
    try:
        tokens = list(dict.fromkeys(as_list(data.get("scope") or clients.DEFAULT_SCOPE)))
    except TypeError:
        tokens = []
        errors["scope"] = _("Expected scopes separated by spaces.")
    bad = [token for token in tokens if not SCOPE_TOKEN.match(token)]
    if bad:
        errors["scope"] = _("%(scope)s is not a valid scope.", scope=bad[0])
    elif not may_grant_admin and any(is_admin_scope(t) for t in tokens):
        # Only a full administrator may hand out the admin API to a program.
        errors["scope"] = _("Only an administrator may grant the admin.* scopes.")
    return " ".join(tokens)


def _grants(data: dict, client_type: str, auth: str, errors: dict[str, str]) -> list[str]:
    try:
        grants = as_list(data.get("grant_types")) or clients.TYPE_DEFAULTS[client_type]["grants"]
    except TypeError:
        errors["grant_types"] = _("Expected a list of grant types.")
        return []
    grants = list(dict.fromkeys(grants))
    unknown = [g for g in grants if g not in clients.GRANT_TYPES]
    if unknown:
        errors["grant_types"] = _("Unsupported grant type %(g)s.", g=unknown[0])
    elif "client_credentials" in grants and auth == "none":
        errors["grant_types"] = _("Public clients cannot use client_credentials.")
    elif client_type == "service" and set(grants) != {"client_credentials"}:
        errors["grant_types"] = _("A service uses only client_credentials.")
    return grants


def _roles(data: dict, errors: dict[str, str]) -> list[str]:
    try:
        names = list(dict.fromkeys(as_list(data.get("roles"))))
    except TypeError:
        errors["roles"] = _("Expected a list of role names.")
        return []
    bad = [name for name in names if not ROLE_NAME.match(name)]
    if bad:
        errors["roles"] = _("%(name)s is not a valid role name (lower-case letters, digits, . _ -).",
                            name=bad[0])
    return names


def validate(data: dict[str, Any], *, current: Client | None = None,
             may_grant_admin: bool = False) -> dict[str, Any]:
    """Check client metadata; returns model fields or raises FieldErrors (field → message)."""
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {
        "name": text(data, "client_name", errors, required=True),
        "description": text(data, "description", errors, max_length=2000),
    }
    client_type = current.client_type if current else str(data.get("client_type") or "web")
    if client_type not in clients.TYPE_DEFAULTS:
        errors["client_type"] = _("Choose a type of application.")
        client_type = "web"
    auth = current.token_endpoint_auth_method if current else clients.TYPE_DEFAULTS[client_type]["auth"]
    clean["client_type"] = client_type
    clean["logo_uri"] = _one_uri(data, "logo_uri", errors) or ""
    clean["owner_department_id"] = _department(data, errors)
    clean["redirect_uris"] = _uri_list(data, "redirect_uris", client_type, errors)
    clean["post_logout_redirect_uris"] = _uri_list(data, "post_logout_redirect_uris",
                                                   client_type, errors)
    # The provider POSTs to this one itself: the outbound (SSRF) rules apply.
    clean["backchannel_logout_uri"] = _one_uri(data, "backchannel_logout_uri", errors,
                                               check=clients.validate_outbound_uri)
    clean["frontchannel_logout_uri"] = _one_uri(data, "frontchannel_logout_uri", errors)
    clean["grant_types"] = _grants(data, client_type, auth, errors)
    if "authorization_code" in clean["grant_types"] and not clean["redirect_uris"] \
            and "redirect_uris" not in errors:
        errors["redirect_uris"] = _("At least one redirect URI is required for the code flow.")
    clean["scope"] = _scope(data, errors, may_grant_admin)
    if current is not None and "scope" not in errors and not holds_admin_scope(current) \
            and any(is_admin_scope(t) for t in clean["scope"].split()):
        # Its secret, keys or registration access token may be known to whoever created or
        # rotated it (a client-admin, a developer): admin.* would make them administrators.
        errors["scope"] = _("The admin.* scopes are given only when an application is registered: "
                            "whoever already holds this one's credentials would become an "
                            "administrator. Register a new application.")
    alg = str(data.get("id_token_signed_response_alg") or "RS256")
    if alg not in ID_TOKEN_ALGS:
        errors["id_token_signed_response_alg"] = _("Choose RS256 or ES256.")
    clean["id_token_signed_response_alg"] = alg
    for name in TTL_LIMITS:
        clean[name] = _ttl(data, name, errors)
    clean["trusted"] = as_bool(data.get("trusted"))
    clean["mfa_required"] = as_bool(data.get("mfa_required"))
    clean["roles"] = _roles(data, errors)
    if errors:
        raise FieldErrors(errors)
    return clean


def create(data: dict[str, Any], actor: Actor, *, client_id: str | None = None,
           auth_method: str | None = None,
           event: str = "client.created") -> tuple[Client, str | None]:
    """Register a client from validated metadata. Returns it and its secret (shown once).

    Only a full administrator (``actor.full_admin``) may give it admin.* scopes.
    """
    clean = validate(data, may_grant_admin=actor.full_admin)
    if client_id is not None and not CLIENT_ID.match(client_id):
        raise FieldErrors({"client_id": _("2 to 64 letters, digits, dots, dashes or underscores.")})
    if client_id and clients.find_client(client_id) is not None:
        raise FieldErrors({"client_id": _("This client id is taken.")})
    roles = clean.pop("roles")
    client, secret = clients.create_client(clean.pop("name"), client_id=client_id or None,
                                           roles=roles, auth_method=auth_method, **clean)
    log(actor, event, client=client.client_id,
        details={"type": client.client_type, "grant_types": client.grant_types})
    return client, secret


def _sync_roles(client: Client, names: list[str]) -> None:
    existing = {role.name: role for role in client.roles}
    removed = [role for name, role in existing.items() if name not in names]
    if removed:
        db.session.execute(delete(user_roles).where(
            user_roles.c.role_id.in_([role.id for role in removed])))
        for role in removed:
            client.roles.remove(role)
    for name in names:
        if name not in existing:
            client.roles.append(Role(name=name))


@changes_client
def update(client: Client, data: dict[str, Any], actor: Actor) -> Client:
    """Change a client's metadata under the same rules as at creation (type is fixed)."""
    clean = validate(data, current=client, may_grant_admin=actor.full_admin)
    _sync_roles(client, clean.pop("roles"))
    changed = sorted(k for k, v in clean.items() if getattr(client, k) != v)
    for key, value in clean.items():
        setattr(client, key, value)
    client.response_types = ["code"] if "authorization_code" in client.grant_types else []
    db.session.flush()
    log(actor, "client.updated", client=client.client_id, details={"fields": changed})
    return client


@changes_client
def set_enabled(client: Client, enabled: bool, actor: Actor) -> None:
    was_enabled, client.enabled = client.enabled, enabled
    if not enabled or not was_enabled:
        # Its tokens end with it, and re-enabling brings none back: not even the pair of a
        # rotation that committed at the instant of the disable (its UPDATE missed it).
        tokens.revoke_for_client(client)
    log(actor, "client.enabled" if enabled else "client.disabled", client=client.client_id)


@changes_client
def rotate_secret(client: Client, grace_seconds: int, actor: Actor) -> str:
    if not 0 <= grace_seconds <= 30 * 86_400:
        raise FieldErrors({"grace_seconds": _("Between 0 and 30 days.")})
    secret = clients.rotate_secret(client, grace_seconds)
    log(actor, "client.secret_rotated", client=client.client_id,
        details={"grace_seconds": grace_seconds})
    return secret


@changes_client
def delete_client(client: Client, actor: Actor) -> None:
    """Delete a client and everything issued to it (explicitly: SQLite may not cascade)."""
    pk, client_id = client.id, client.client_id
    role_ids = [role.id for role in client.roles]
    if role_ids:
        db.session.execute(delete(user_roles).where(user_roles.c.role_id.in_(role_ids)))
    for model in (Token, AuthorizationCode, Consent, SessionClient, LogoutDelivery, UsedJti):
        db.session.execute(delete(model).where(model.client_id == pk))
    db.session.delete(client)
    db.session.flush()
    log(actor, "client.deleted", client=client_id)


def list_clients() -> list[Client]:
    return list(db.session.execute(select(Client).order_by(Client.name)).scalars())


def as_dict(client: Client) -> dict[str, Any]:
    """The client as the admin API and registration show it (never a secret)."""
    unit = db.session.get(OrgUnit, client.owner_department_id) if client.owner_department_id else None
    return {
        "client_id": client.client_id, "client_name": client.name,
        "description": client.description, "logo_uri": client.logo_uri or None,
        "owner_department": unit.code if unit else None, "client_type": client.client_type,
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "redirect_uris": client.redirect_uris,
        "post_logout_redirect_uris": client.post_logout_redirect_uris,
        "backchannel_logout_uri": client.backchannel_logout_uri,
        "frontchannel_logout_uri": client.frontchannel_logout_uri,
        "grant_types": client.grant_types, "response_types": client.response_types,
        "scope": client.scope, "id_token_signed_response_alg": client.id_token_signed_response_alg,
        "access_token_ttl": client.access_token_ttl, "refresh_token_ttl": client.refresh_token_ttl,
        "trusted": client.trusted, "mfa_required": client.mfa_required, "enabled": client.enabled,
        "roles": sorted(role.name for role in client.roles),
        "created_at": client.created_at.isoformat() if client.created_at else None,
    }
