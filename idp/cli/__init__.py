"""The ``idp`` command: init, user, client, keys, audit, export, import, backup,
housekeeping, serve, worker, demo.

:mod:`.base` holds the group (:data:`main`, the console script ``idp.cli:main``); one
module per topic (:mod:`.users`, :mod:`.clients`, :mod:`.keys`, :mod:`.audit`,
:mod:`.ops`, :mod:`.serve`, :mod:`.worker`, :mod:`.demo`) registers its commands on it.
Nothing outside this package imports it: the provider does not depend on its command
line.

Every command prints a one-line error and exits non-zero on bad input, never a
traceback; scripts and runbooks depend on these spellings.
"""

from __future__ import annotations

import click

from . import audit, clients, demo, keys, ops, serve, users, worker  # noqa: F401  (their commands)
from .base import command, main

__all__ = ["main"]


@command(main, "init")
def init_cmd() -> None:
    """Create or upgrade the database and create the first signing keys (safe to re-run)."""
    from ..services import database, keys

    revision = database.upgrade()
    created = keys.ensure_keys()
    click.echo(f"Database at revision {revision}.")
    for key in created:
        click.echo(f"Created {key.state} {key.alg} signing key {key.kid}.")
    if not created:
        click.echo("Signing keys present.")
