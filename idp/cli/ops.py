"""Operations subcommands of ``idp``: export, import, backup, housekeeping."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from .base import command, main


@command(main, "export")
@click.argument("path", type=click.Path(dir_okay=False, allow_dash=True), default="-")
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
def export_cmd(path: str, force: bool) -> None:
    """Write departments, roles, clients and staff (with hashes) as JSON to PATH or stdout.

    The file holds password and client-secret hashes: it is written readable by its
    owner only; keep it as safe as a database backup.
    """
    from ..services import audit, transfer

    document = transfer.export_document()
    text = json.dumps(document, ensure_ascii=False, indent=1) + "\n"
    if path == "-":
        click.echo(text, nl=False)
    else:
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
        try:
            fd = os.open(path, flags, 0o600)
        except FileExistsError:
            raise click.ClickException(f"{path} exists already; give --force to overwrite it.") from None
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
    counts = {k: len(document[k]) for k in ("departments", "roles", "clients", "users")}
    audit.record("transfer.exported", actor="cli", details=counts)
    summary = ", ".join(f"{n} {k}" for k, n in counts.items())
    click.echo(f"Exported {summary}.", err=path == "-")


@command(main, "import")
@click.argument("path", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--on-conflict", type=click.Choice(["fail", "skip"]), default="fail",
              show_default=True,
              help="What to do with an entry that exists already: refuse the whole "
                   "import, or keep the existing entry and import the rest.")
def import_cmd(path: str, on_conflict: str) -> None:
    """Import a document written by `idp export`, all of it or nothing."""
    from ..services import audit, transfer

    try:
        raw = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        document = json.loads(raw)
    except OSError as exc:
        raise click.ClickException(f"Cannot read {path}: {exc.strerror}.") from None
    except ValueError as exc:
        raise click.ClickException(f"{path} is not JSON: {exc}.") from None
    counts = transfer.import_document(document, on_conflict=on_conflict)
    audit.record("transfer.imported", actor="cli", details=counts)
    click.echo("Imported {departments} departments, {roles} roles, {clients} clients, "
               "{users} staff; skipped {skipped} existing.".format(**counts))


@command(main, "backup")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
def backup_cmd(path: str, force: bool) -> None:
    """Copy the SQLite database to PATH, consistently, while the provider runs."""
    from flask import current_app

    from ..services import transfer

    source = transfer.sqlite_path(current_app.config["SQLALCHEMY_DATABASE_URI"])
    if source is None:
        raise click.ClickException(
            "idp backup copies a SQLite database file; this provider uses another database. "
            'For PostgreSQL use pg_dump, e.g. pg_dump --format=custom --file=idp.dump "$DATABASE".'
        )
    if os.path.exists(path) and not force:
        raise click.ClickException(f"{path} exists already; give --force to overwrite it.")
    try:
        pages = transfer.backup_sqlite(source, path)
    except (OSError, RuntimeError) as exc:
        raise click.ClickException(f"Backup failed: {exc}") from None
    click.echo(f"Backed up {source} to {path} ({pages} pages, integrity ok).")


@command(main, "housekeeping")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 10_000))
def housekeeping_cmd(batch_size: int) -> None:
    """Delete expired codes, tokens, jtis, reset links, old sessions and delivered logouts once."""
    from ..services import housekeeping

    counts = housekeeping.purge_expired(batch_size=batch_size)
    click.echo(", ".join(f"{k}: {v}" for k, v in counts.items()))
