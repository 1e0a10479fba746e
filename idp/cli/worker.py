"""``idp worker``: deliver back-channel logouts and mail, seal the audit chain, end
timed-out sessions."""

from __future__ import annotations

import signal

import click
from flask import current_app
from flask.cli import with_appcontext

from ..ops.worker import Worker
from .base import main


@main.command("worker")
@click.option("--interval", type=click.FloatRange(0.1, 60), default=1.0, show_default=True,
              help="Seconds to sleep between two passes.")
@click.option("--once", is_flag=True, help="Make one pass and exit (for cron or a runbook).")
@with_appcontext
def worker_cmd(interval: float, once: bool) -> None:
    """Deliver back-channel logouts and mail, seal the audit chain, and end timed-out
    sessions, until stopped."""
    worker = Worker(current_app._get_current_object(), interval=interval)  # type: ignore[attr-defined]
    if once:
        click.echo(f"Back-channel logout attempts made: {worker.run_once()}.")
        worker.release_lease()  # a cron run must not keep the next one from sealing
        return
    # A stop between two passes loses nothing: a claimed row is retried after its lease.
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    click.echo("Worker running; press Ctrl+C to stop.")
    try:
        worker.run()
    except KeyboardInterrupt:
        worker.stop()
    click.echo("Worker stopped.")
