"""``idp audit``: check the audit log's hash chain."""

from __future__ import annotations

import click

from .base import command, main


@main.group()
def audit() -> None:
    """Read and check the audit log."""


@command(audit, "verify")
def audit_verify() -> None:
    """Check the hash chain; report the first broken link."""
    from ..services import audit as audit_service

    count, bad, reason = audit_service.verify_chain()
    if bad is not None:
        raise click.ClickException(
            f"Audit chain broken at event {bad.id} ({bad.event_type}, "
            f"{bad.created_at:%Y-%m-%d %H:%M:%S}Z): {reason}. {count - 1} earlier events verified."
        )
    click.echo(f"Audit chain intact: {count} events verified.")
