"""Client applications: registration, validation of metadata, secrets."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from ..errors import InvalidInput, NotFound
from ..extensions import db
from ..models import AUTH_METHODS, CLIENT_TYPES, Client, Role, utcnow
from . import outbound
from .crypto import hash_secret, new_secret, secret_matches

GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
DEFAULT_SCOPE = "openid profile email"

# What each type of application may do when nothing else is asked for.
TYPE_DEFAULTS: dict[str, dict[str, Any]] = {
    "web": {"auth": "client_secret_basic", "grants": ["authorization_code", "refresh_token"]},
    "spa": {"auth": "none", "grants": ["authorization_code", "refresh_token"]},
    "native": {"auth": "none", "grants": ["authorization_code", "refresh_token"]},
    "service": {"auth": "client_secret_basic", "grants": ["client_credentials"]},
}


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def validate_redirect_uri(uri: str, *, client_type: str = "web", field: str = "redirect_uri") -> str:
    """Check one registered URI (RFC 9700 §2.1, RFC 8252 §7): exact, absolute, no fragment."""
    uri = (uri or "").strip()
    try:
        parts = urlsplit(uri)
    except ValueError:  # "https://[::1/cb": an unclosed IPv6 literal is not a URI
        parts = None
    if (parts is None or not parts.scheme
            or not (parts.netloc or parts.scheme not in {"http", "https"})):
        raise InvalidInput(_("%(field)s: %(uri)s is not an absolute URI.", field=field, uri=uri))
    if parts.fragment or "#" in uri:
        # RFC 6749 §3.1.2: the endpoint URI MUST NOT include a fragment component.
        raise InvalidInput(_("%(field)s: %(uri)s must not have a fragment.", field=field, uri=uri))
    if "*" in uri:
        raise InvalidInput(_("%(field)s: wildcards are not allowed (%(uri)s).", field=field, uri=uri))
    if parts.username or parts.password:
        raise InvalidInput(_("%(field)s: %(uri)s must not contain user information.", field=field, uri=uri))
    if parts.scheme == "http":
        if not _is_loopback(parts.hostname or ""):
            raise InvalidInput(
                _("%(field)s: %(uri)s must use https (http is allowed only on loopback).",
                  field=field, uri=uri)
            )
    elif parts.scheme != "https":
        # RFC 8252 §7.1: native apps may use a private-use (reverse-domain) scheme.
        if client_type != "native" or "." not in parts.scheme:
            raise InvalidInput(_("%(field)s: the scheme of %(uri)s is not allowed.", field=field, uri=uri))
    return uri


def validate_outbound_uri(uri: str, *, field: str = "backchannel_logout_uri") -> str:
    """Check a URI the provider itself will call (back-channel logout, jwks_uri).

    Beyond the shape of a redirect URI: https only and a public address
    (:mod:`idp.services.outbound`; the same rules are applied again at connect time).
    """
    uri = validate_redirect_uri(uri, field=field)
    try:
        outbound.check_uri(uri, outbound.policy(current_app.config))
    except outbound.Refused as exc:
        if exc.kind == "scheme":
            message = _("%(field)s: %(uri)s must use https.", field=field, uri=uri)
        elif exc.kind == "address":
            message = _("%(field)s: %(host)s is %(address)s, an address the provider may not "
                        "call (loopback, private, link-local or reserved). Use a public host, "
                        "or ask the operator to list it in IDP_OUTBOUND_ALLOW.",
                        field=field, host=exc.host, address=exc.address)
        else:
            message = _("%(field)s: the provider may not call %(uri)s.", field=field, uri=uri)
        raise InvalidInput(message) from None
    return uri


def _uris(values: list[str] | None, client_type: str, field: str) -> list[str]:
    seen: list[str] = []
    for value in values or []:
        uri = validate_redirect_uri(value, client_type=client_type, field=field)
        if uri not in seen:
            seen.append(uri)
    return seen


def create_client(
    name: str,
    *,
    client_type: str = "web",
    redirect_uris: list[str] | None = None,
    post_logout_redirect_uris: list[str] | None = None,
    backchannel_logout_uri: str | None = None,
    frontchannel_logout_uri: str | None = None,
    scope: str | None = None,
    grant_types: list[str] | None = None,
    auth_method: str | None = None,
    trusted: bool = False,
    client_id: str | None = None,
    roles: list[str] | None = None,
    **extra: Any,
) -> tuple[Client, str | None]:
    """Register a client. Returns it with its secret (None for public clients)."""
    if not (name or "").strip():
        raise InvalidInput(_("A client needs a name."))
    if client_type not in CLIENT_TYPES:
        raise InvalidInput(_("The type must be one of %(types)s.", types=", ".join(CLIENT_TYPES)))
    defaults = TYPE_DEFAULTS[client_type]
    auth_method = auth_method or defaults["auth"]
    if auth_method not in AUTH_METHODS:
        raise InvalidInput(_("The authentication method must be one of %(m)s.", m=", ".join(AUTH_METHODS)))
    if client_type in {"spa", "native"} and auth_method != "none":
        raise InvalidInput(_("Single-page and native apps are public clients (auth method none)."))
    if client_type == "service" and auth_method == "none":
        raise InvalidInput(_("A service client must authenticate."))
    grants = list(dict.fromkeys(grant_types or defaults["grants"]))
    for grant in grants:
        if grant not in GRANT_TYPES:
            raise InvalidInput(_("Unsupported grant type %(g)s.", g=grant))
    if "client_credentials" in grants and auth_method == "none":
        raise InvalidInput(_("Public clients cannot use client_credentials."))
    uris = _uris(redirect_uris, client_type, "redirect_uri")
    if extra.get("jwks_uri"):
        extra["jwks_uri"] = validate_outbound_uri(extra["jwks_uri"], field="jwks_uri")
    if "authorization_code" in grants and not uris:
        raise InvalidInput(_("At least one redirect URI is required for the code flow."))
    client = Client(
        client_id=client_id or new_secret(16),
        name=name.strip(),
        client_type=client_type,
        token_endpoint_auth_method=auth_method,
        redirect_uris=uris,
        post_logout_redirect_uris=_uris(post_logout_redirect_uris, client_type,
                                        "post_logout_redirect_uri"),
        backchannel_logout_uri=validate_outbound_uri(backchannel_logout_uri)
        if backchannel_logout_uri else None,
        frontchannel_logout_uri=_uris([frontchannel_logout_uri], "web", "frontchannel_logout_uri")[0]
        if frontchannel_logout_uri else None,
        grant_types=grants,
        response_types=["code"] if "authorization_code" in grants else [],
        scope=" ".join(dict.fromkeys((scope or DEFAULT_SCOPE).split())),
        trusted=trusted,
        **extra,
    )
    secret = None
    if auth_method in {"client_secret_basic", "client_secret_post"}:
        secret = new_secret(32)
        client.secret_hash = hash_secret(secret)
    for role_name in roles or []:
        client.roles.append(Role(name=role_name))
    db.session.add(client)
    db.session.flush()
    return client, secret


def find_client(client_id: str | None) -> Client | None:
    """The client registered as ``client_id``, enabled or not; None if there is none.

    The one lookup by ``client_id``: the protocol endpoints, registration, the console,
    the API, self-service and the CLI all find clients here.
    """
    if not client_id:
        return None
    return db.session.execute(
        select(Client).where(Client.client_id == client_id)
    ).scalar_one_or_none()


def get_client(client_id: str) -> Client:
    """The client registered as ``client_id``, or NotFound."""
    client = find_client(client_id)
    if client is None:
        raise NotFound(_("No client application has the id %(id)s.", id=client_id))
    return client


def rotate_secret(client: Client, grace_seconds: int = 0) -> str:
    """Give the client a new secret; the old one keeps working for ``grace_seconds``."""
    if client.is_public or client.token_endpoint_auth_method == "private_key_jwt":
        raise InvalidInput(_("This client does not use a client secret."))
    secret = new_secret(32)
    if grace_seconds > 0 and client.secret_hash:
        client.previous_secret_hash = client.secret_hash
        client.previous_secret_expires_at = utcnow() + timedelta(seconds=grace_seconds)
    else:
        client.previous_secret_hash = None
        client.previous_secret_expires_at = None
    client.secret_hash = hash_secret(secret)
    return secret


def check_secret(client: Client, secret: str) -> bool:
    if secret_matches(secret, client.secret_hash):
        return True
    expires = client.previous_secret_expires_at
    return bool(expires and expires > utcnow() and secret_matches(secret, client.previous_secret_hash))
