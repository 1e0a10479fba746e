"""Dynamic client registration (RFC 7591) and its management protocol (RFC 7592).

An administrator issues an initial access token (RFC 7591 §3, single use, expiring);
the registration returns a registration access token that lets its holder read,
replace and delete that one client (RFC 7592 §2).  Both are stored only as hashes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select, update

from ..errors import DomainError
from ..extensions import db
from ..models import Client, InitialAccessToken, User, utcnow
from . import admin_clients, clients
from .admin_audit import Actor, log
from .admin_fields import FieldErrors
from .crypto import hash_secret, new_secret, secret_matches

MAX_TTL = 30 * 86_400
URI_FIELDS = ("redirect_uris", "post_logout_redirect_uris")
# Members copied from the request to our validation (RFC 7591 §2 plus Logout 1.0 §2.x).
METADATA = ("client_name", "logo_uri", "redirect_uris", "post_logout_redirect_uris",
            "backchannel_logout_uri", "frontchannel_logout_uri", "scope",
            "id_token_signed_response_alg", "description")


class RegistrationError(DomainError):
    """RFC 7591 §3.2.2: invalid_redirect_uri or invalid_client_metadata, status 400."""

    status = 400

    def __init__(self, code: str, description: str):
        super().__init__(description)
        self.code = code


class BadToken(DomainError):
    """RFC 6750 §3.1: the initial or registration access token is missing or wrong."""

    code = "invalid_token"
    status = 401


class ClientDisabled(DomainError):
    """RFC 7592 §2.1–2.3: a client without permission to read, update or delete itself.

    "If the client does not have permission to read its record, the server MUST
    return an HTTP 403 Forbidden" (and likewise for update and delete): a client an
    administrator disabled keeps its registration access token, but may not use it
    until it is enabled again (it could otherwise repoint its redirect URIs).
    """

    code = "access_denied"  # RFC 6749 §4.1.2.1; RFC 7592 names the status, not a code
    status = 403


# --- initial access tokens ---------------------------------------------------------------


def issue_initial_token(description: str, ttl_seconds: int, actor: Actor,
                        created_by: User | None = None) -> tuple[InitialAccessToken, str]:
    """Make an initial access token; the token itself is returned once and stored hashed."""
    errors = {}
    if len(description or "") > 255:
        errors["description"] = _("At most %(n)d characters.", n=255)
    if not 60 <= ttl_seconds <= MAX_TTL:
        errors["ttl"] = _("Between one minute and 30 days.")
    if errors:
        raise FieldErrors(errors)
    token = new_secret(32)
    row = InitialAccessToken(
        token_hash=hash_secret(token), description=(description or "").strip(),
        created_by_id=created_by.id if created_by else None,
        expires_at=utcnow() + timedelta(seconds=ttl_seconds),
    )
    db.session.add(row)
    db.session.flush()
    log(actor, "registration.initial_token_issued",
        details={"id": row.id, "description": row.description, "ttl": ttl_seconds})
    return row, token


def list_initial_tokens() -> list[InitialAccessToken]:
    return list(db.session.execute(
        select(InitialAccessToken).order_by(InitialAccessToken.id.desc()).limit(200)
    ).scalars())


def revoke_initial_token(token_id: int, actor: Actor) -> None:
    row = db.session.get(InitialAccessToken, token_id)
    if row is not None and row.used_at is None:
        row.used_at = utcnow()  # spent: it can no longer register anything
        log(actor, "registration.initial_token_revoked", details={"id": token_id})


def _check_initial_token(token: str) -> None:
    """Refuse a wrong initial access token before anything else is done for the request.

    Validating the metadata first would resolve the host names it names for anyone:
    the answer ("db.internal is 10.0.0.5, an address the provider may not call") would
    map the internal DNS for callers holding no token at all. The token is spent only
    after the metadata passed (:func:`_spend_initial_token`).
    """
    live = db.session.execute(select(InitialAccessToken.id).where(
        InitialAccessToken.token_hash == hash_secret(token or ""),
        InitialAccessToken.used_at.is_(None), InitialAccessToken.expires_at > utcnow())).first()
    if live is None:
        raise BadToken(_("The initial access token is not valid."))


def _spend_initial_token(token: str) -> InitialAccessToken:
    """Mark the token used in one UPDATE, so that two registrations cannot share it."""
    now = utcnow()
    spent = db.session.execute(
        update(InitialAccessToken)
        .where(InitialAccessToken.token_hash == hash_secret(token or ""),
               InitialAccessToken.used_at.is_(None), InitialAccessToken.expires_at > now)
        .values(used_at=now)
    ).rowcount
    if not spent:
        db.session.rollback()
        raise BadToken(_("The initial access token is not valid."))
    return db.session.execute(select(InitialAccessToken).where(
        InitialAccessToken.token_hash == hash_secret(token))).scalar_one()


# --- registration -------------------------------------------------------------------------


def _client_type(meta: dict[str, Any], auth: str, grants: list[str]) -> str:
    if grants == ["client_credentials"]:
        return "service"
    if auth == "none":
        return "native" if meta.get("application_type") == "native" else "spa"
    return "web"


def _input(meta: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Our validation's input from RFC 7591 metadata; unknown members are ignored (§2)."""
    if not isinstance(meta, dict):
        raise RegistrationError("invalid_client_metadata", _("The body must be a JSON object."))
    auth = meta.get("token_endpoint_auth_method") or "client_secret_basic"
    if auth not in ("client_secret_basic", "client_secret_post", "none"):
        raise RegistrationError("invalid_client_metadata",
                                _("Unsupported token_endpoint_auth_method %(m)s.", m=str(auth)))
    # RFC 7591 §2: grant_types defaults to authorization_code.
    grants = meta.get("grant_types") or ["authorization_code"]
    if not isinstance(grants, list):
        raise RegistrationError("invalid_client_metadata", _("grant_types must be an array."))
    response_types = meta.get("response_types") or (["code"] if "authorization_code" in grants else [])
    if response_types not in (["code"], []):
        raise RegistrationError("invalid_client_metadata", _("Only the code response type is supported."))
    data = {key: meta.get(key) for key in METADATA if key in meta}
    data["grant_types"] = grants
    data["client_type"] = _client_type(meta, auth, [str(g) for g in grants])
    if not str(data.get("client_name") or "").strip():
        data["client_name"] = _("Unnamed application")
    return data, auth


def _pkce_required(meta: dict[str, Any], auth: str) -> bool:
    """RFC 9700 §2.1.1: PKCE unless a confidential client registers ``"pkce_required": false``
    (it then relies on the nonce). Anything else keeps the default; RFC 7591 §3.2.1 lets
    the server register other values than asked, and the response says which."""
    return not (auth != "none" and meta.get("pkce_required") is False)


def _raise_rfc7591(error: FieldErrors) -> None:
    field, message = next(iter(error.errors.items()))
    code = "invalid_redirect_uri" if field in URI_FIELDS else "invalid_client_metadata"
    # The URI checks name their field already; say it once.
    description = message if message.startswith(f"{field}: ") else f"{field}: {message}"
    raise RegistrationError(code, description) from None


def register(meta: dict[str, Any], initial_token: str, ip: str | None = None) -> dict[str, Any]:
    """RFC 7591 §3.1–3.2.1: validate, spend the initial token, create; returns the response."""
    _check_initial_token(initial_token)
    data, auth = _input(meta)
    try:
        admin_clients.validate(data)
    except FieldErrors as error:
        _raise_rfc7591(error)
    grant = _spend_initial_token(initial_token)
    actor = Actor(name=f"initial-token:{grant.id}", ip=ip)
    client, secret = admin_clients.create(data, actor, auth_method=auth, event="client.registered")
    client.pkce_required = _pkce_required(meta, auth)
    token = new_secret(32)
    client.registration_token_hash = hash_secret(token)
    db.session.flush()
    body = response_body(client)
    body.update(registration_access_token=token, client_id_issued_at=int(client.created_at.timestamp()))
    if secret:
        body.update(client_secret=secret, client_secret_expires_at=0)  # 0: it does not expire
    return body


def response_body(client: Client) -> dict[str, Any]:
    """RFC 7591 §3.2.1 / RFC 7592 §3: the client's registered metadata."""
    from ..urls import external_url

    body = {
        "client_id": client.client_id, "client_name": client.name,
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "application_type": "native" if client.client_type == "native" else "web",
        "redirect_uris": client.redirect_uris, "post_logout_redirect_uris": client.post_logout_redirect_uris,
        "grant_types": client.grant_types, "response_types": client.response_types,
        "scope": client.scope, "id_token_signed_response_alg": client.id_token_signed_response_alg,
        "registration_client_uri": external_url("registration.read", client_id=client.client_id),
        "pkce_required": client.pkce_required is not False,
    }
    for key, value in (("logo_uri", client.logo_uri), ("backchannel_logout_uri", client.backchannel_logout_uri),
                       ("frontchannel_logout_uri", client.frontchannel_logout_uri),
                       ("description", client.description)):
        if value:
            body[key] = value
    return body


def authenticate(client_id: str, token: str) -> Client:
    """RFC 7592 §2: the registration access token grants access to its own client only."""
    client = clients.find_client(client_id)
    if client is None or not secret_matches(token or "", client.registration_token_hash):
        # Same answer for an unknown client and a wrong token (RFC 7592 §2.1: 401).
        raise BadToken(_("The registration access token is not valid for this client."))
    if not client.enabled:
        raise ClientDisabled(_("This application is disabled; an administrator must enable "
                               "it before its registration can be read or changed."))
    return client


def replace(client: Client, meta: dict[str, Any], ip: str | None = None) -> dict[str, Any]:
    """RFC 7592 §2.2: the request replaces every metadata value; client_id must match."""
    if not isinstance(meta, dict) or meta.get("client_id") != client.client_id:
        raise RegistrationError("invalid_client_metadata", _("client_id must match the client."))
    if "client_secret" in meta and not clients.check_secret(client, str(meta["client_secret"])):
        raise RegistrationError("invalid_client_metadata", _("client_secret does not match."))
    data, auth = _input(meta)
    if auth != client.token_endpoint_auth_method or data["client_type"] != client.client_type:
        raise RegistrationError("invalid_client_metadata",
                                _("The authentication method and type cannot be changed."))
    # What administrators decide is not the developer's to replace.
    kept = admin_clients.as_dict(client)
    for key in ("trusted", "mfa_required", "owner_department", "roles",
                "access_token_ttl", "refresh_token_ttl"):
        data[key] = kept[key]
    actor = Actor(name=f"registration:{client.client_id}", ip=ip)
    try:
        admin_clients.update(client, data, actor)
    except FieldErrors as error:
        db.session.rollback()
        _raise_rfc7591(error)
    client.pkce_required = _pkce_required(meta, auth)
    db.session.flush()
    return response_body(client)


def remove(client: Client, ip: str | None = None) -> None:
    """RFC 7592 §2.3: deprovision the client; its tokens stop working."""
    admin_clients.delete_client(client, Actor(name=f"registration:{client.client_id}", ip=ip))
