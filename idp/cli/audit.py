"""``idp audit``: seal and check the audit log's hash chain and signed checkpoints."""

from __future__ import annotations

import click

from .base import command, main


@main.group()
def audit() -> None:
    """Read, seal and check the audit log."""


@command(audit, "seal")
def audit_seal() -> None:
    """Chain the unsealed events now and sign a checkpoint of the head (``idp worker``
    does this continuously; one sealer at a time)."""
    from ..services import audit as audit_service

    result = audit_service.seal(force_checkpoint=True)
    if result.held_elsewhere:
        raise click.ClickException(
            "Another sealer holds the lease (an `idp worker` is running): it seals the "
            "events; nothing was done here.")
    point = result.checkpoint
    where = f"; checkpoint at position {point.seq}" if point is not None else ""
    click.echo(f"Sealed {result.sealed} events{where}.")


@command(audit, "verify")
def audit_verify() -> None:
    """Check every link and every signed checkpoint; report what is not covered yet."""
    from ..services import audit as audit_service

    report = audit_service.verify()
    if report.unsealed:
        click.echo(f"{report.unsealed} events are not sealed yet: the chain and the "
                   "checkpoints do not cover them until the sealer (`idp worker`, or "
                   "`idp audit seal`) has chained them.")
    uncovered = report.sealed - report.covered
    if uncovered > 0:
        click.echo(f"{uncovered} sealed events come after the newest valid checkpoint: their "
                   "links are checked, but a recomputed tail would not be detected until the "
                   "next checkpoint.")
    if not report.ok:
        raise click.ClickException(
            "Audit log check failed:\n  " + "\n  ".join(report.problems)
            + f"\n{report.sealed} events verified before the first broken link.")
    click.echo(f"Audit chain intact: {report.sealed} events verified, "
               f"{report.checkpoints} checkpoints, covered up to position {report.covered}.")
