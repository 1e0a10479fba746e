"""``idp client``: client applications (create, list, show, rotate-secret)."""

from __future__ import annotations

import json

import click

from .base import command, main


@main.group()
def client() -> None:
    """Manage client applications."""


@command(client, "create")
@click.option("--name", required=True, help="Name shown to staff.")
@click.option("--type", "client_type", type=click.Choice(["web", "spa", "native", "service"]),
              default="web", show_default=True)
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="Exact redirect URI.")
@click.option("--post-logout-redirect-uri", "post_logout", multiple=True)
@click.option("--backchannel-logout-uri")
@click.option("--frontchannel-logout-uri")
@click.option("--scope", help='Allowed scopes, e.g. "openid profile email".')
@click.option("--grant-type", "grant_types", multiple=True,
              type=click.Choice(["authorization_code", "refresh_token", "client_credentials"]))
@click.option("--auth-method", type=click.Choice(
    ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]))
@click.option("--trusted", is_flag=True, help="First-party: skips the consent page.")
@click.option("--client-id", help="Choose the client id (default: random).")
@click.option("--role", "roles", multiple=True, help="A role this application defines.")
@click.option("--jwks-uri", help="For private_key_jwt: where the client publishes its keys.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def client_create(name, client_type, redirect_uris, post_logout, backchannel_logout_uri,
                  frontchannel_logout_uri, scope, grant_types, auth_method, trusted,
                  client_id, roles, jwks_uri, as_json) -> None:
    """Register a client application; its secret is printed once."""
    from ..services import audit, clients

    created, secret = clients.create_client(
        name, client_type=client_type, redirect_uris=list(redirect_uris),
        post_logout_redirect_uris=list(post_logout),
        backchannel_logout_uri=backchannel_logout_uri,
        frontchannel_logout_uri=frontchannel_logout_uri, scope=scope,
        grant_types=list(grant_types) or None, auth_method=auth_method, trusted=trusted,
        client_id=client_id, roles=list(roles), **({"jwks_uri": jwks_uri} if jwks_uri else {}),
    )
    audit.record("client.created", actor="cli", client=created.client_id)
    data = _client_dict(created)
    if secret:
        data["client_secret"] = secret
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    click.echo(f"Created client {created.client_id} ({created.name}).")
    if secret:
        click.echo(f"Client secret (shown once): {secret}")


def _client_dict(row) -> dict:
    return {
        "client_id": row.client_id, "name": row.name, "type": row.client_type,
        "token_endpoint_auth_method": row.token_endpoint_auth_method,
        "redirect_uris": row.redirect_uris,
        "post_logout_redirect_uris": row.post_logout_redirect_uris,
        "backchannel_logout_uri": row.backchannel_logout_uri,
        "frontchannel_logout_uri": row.frontchannel_logout_uri,
        "grant_types": row.grant_types, "scope": row.scope, "trusted": row.trusted,
        "enabled": row.enabled, "roles": sorted(r.name for r in row.roles),
    }


@command(client, "list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def client_list(as_json: bool) -> None:
    """List client applications."""
    from ..extensions import db
    from ..models import Client

    for row in db.session.execute(db.select(Client).order_by(Client.name)).scalars():
        if as_json:
            click.echo(json.dumps(_client_dict(row), ensure_ascii=False))
        else:
            state = "enabled" if row.enabled else "disabled"
            click.echo(f"{row.client_id:24} {row.client_type:8} {state:9} {row.name}")


@command(client, "show")
@click.argument("client_id")
def client_show(client_id: str) -> None:
    """Show one client application as JSON (never its secret)."""
    from ..services import clients

    click.echo(json.dumps(_client_dict(clients.get_client(client_id)), ensure_ascii=False,
                          indent=2))


@command(client, "rotate-secret")
@click.argument("client_id")
@click.option("--grace", default=0, show_default=True, type=click.IntRange(0, 30 * 86400),
              help="Seconds during which the old secret still works.")
@click.option("--json", "as_json", is_flag=True)
def client_rotate_secret(client_id: str, grace: int, as_json: bool) -> None:
    """Give a client a new secret, printed once."""
    from ..services import audit, clients

    row = clients.get_client(client_id)
    secret = clients.rotate_secret(row, grace)
    audit.record("client.secret_rotated", actor="cli", client=row.client_id,
                 details={"grace_seconds": grace})
    if as_json:
        click.echo(json.dumps({"client_id": row.client_id, "client_secret": secret}))
    else:
        click.echo(f"New secret of {row.client_id} (shown once): {secret}")
