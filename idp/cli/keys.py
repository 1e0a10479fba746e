"""``idp keys``: the signing keys (list, rotate) and a new data key."""

from __future__ import annotations

import click

from ..config import new_data_key
from .base import command, main


@main.group()
def keys() -> None:
    """Manage the provider's signing keys."""


@command(keys, "list")
def keys_list() -> None:
    """List signing keys and their states."""
    from ..extensions import db
    from ..models import SigningKey

    for row in db.session.execute(db.select(SigningKey).order_by(SigningKey.id)).scalars():
        until = f" published until {row.publish_until:%Y-%m-%d %H:%M}Z" if row.publish_until else ""
        click.echo(f"{row.kid:32} {row.alg:6} {row.state:8} created {row.created_at:%Y-%m-%d %H:%M}Z{until}")


@command(keys, "rotate")
@click.option("--alg", type=click.Choice(["RS256", "ES256"]), help="Rotate only this algorithm.")
@click.option("--force", is_flag=True, help="Promote a next key even if just published.")
def keys_rotate(alg: str | None, force: bool) -> None:
    """Make the published next key active and publish a new next key."""
    from ..services import audit, keys as key_service

    try:
        promoted = key_service.rotate(alg, force=force)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    for key in promoted:
        audit.record("keys.rotated", actor="cli", details={"kid": key.kid, "alg": key.alg})
        click.echo(f"{key.alg}: {key.kid} is now active.")


@keys.command("gen-data-key", context_settings={"ignore_unknown_options": False})
def keys_gen_data_key() -> None:
    """Print a new random IDP_DATA_KEY value."""
    click.echo(new_data_key())
