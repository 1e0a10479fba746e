"""The background worker: delivers back-channel logouts and queued mail, and ends
timed-out sessions.

Run it as ``idp worker`` (one or more processes, on any node), or let the provider
run it as a thread (``IDP_LOGOUT_INLINE_WORKER``, on by default in development).
Any number may run at once: rows are claimed safely (see
:mod:`idp.services.backchannel`), and everything they do is in the database, so
nothing is lost when a worker or the provider restarts.
"""

from __future__ import annotations

import logging
import signal
import threading
import time

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from .cli import main
from .extensions import db

log = logging.getLogger("idp.worker")

HOUSEKEEPING_EVERY = 60.0  # seconds between two sweeps for timed-out sessions


class Worker:
    """The loop: deliver due logouts and mail, every minute end timed-out sessions, sleep."""

    def __init__(self, app: Flask, *, interval: float = 1.0,
                 housekeeping_every: float = HOUSEKEEPING_EVERY) -> None:
        self.app = app
        self.interval = interval
        self.housekeeping_every = housekeeping_every
        self.stopping = threading.Event()
        self._last_housekeeping = float("-inf")

    def run_once(self) -> int:
        """One pass; returns how many logout deliveries were attempted."""
        from .services import backchannel, housekeeping, logout, mail

        with self.app.app_context():
            try:
                now = time.monotonic()
                if now - self._last_housekeeping >= self.housekeeping_every:
                    self._last_housekeeping = now
                    ended = logout.end_timed_out_sessions()
                    if ended:
                        log.info("ended %d timed-out sessions", ended)
                    purged = housekeeping.purge_expired(batch_size=500)
                    if any(purged.values()):
                        log.info("housekeeping deleted %s", purged)
                attempted = 0
                while not self.stopping.is_set():
                    outcomes = backchannel.deliver_due()
                    attempted += len(outcomes)
                    if len(outcomes) < backchannel.BATCH:
                        break
                while not self.stopping.is_set() and len(mail.send_due()) == mail.BATCH:
                    pass  # a full batch: more may be due
                return attempted
            except Exception:  # the database may be down: log, wait, try again
                log.exception("worker pass failed")
                db.session.rollback()
                return 0
            finally:
                db.session.remove()

    def run(self) -> None:
        """Loop until :meth:`stop` is called."""
        while not self.stopping.is_set():
            self.run_once()
            self.stopping.wait(self.interval)

    def stop(self) -> None:
        self.stopping.set()


_inline_lock = threading.Lock()


def inline_enabled(app: Flask) -> bool:
    flag = app.config.get("LOGOUT_INLINE_WORKER")
    if flag is None:
        return app.config["ENV"] == "development" and not app.testing
    return bool(flag)


def start_inline(app: Flask) -> Worker | None:
    """Start the worker thread in this provider process, once; None when disabled."""
    if not inline_enabled(app):
        return None
    with _inline_lock:
        running = app.extensions.get("idp_inline_worker")
        if running is not None:
            return running
        worker = Worker(app)
        app.extensions["idp_inline_worker"] = worker
    threading.Thread(target=worker.run, daemon=True, name="idp-logout-worker").start()
    log.info("inline logout worker started (IDP_LOGOUT_INLINE_WORKER)")
    return worker


@main.command("worker")
@click.option("--interval", type=click.FloatRange(0.1, 60), default=1.0, show_default=True,
              help="Seconds to sleep between two passes.")
@click.option("--once", is_flag=True, help="Make one pass and exit (for cron or a runbook).")
@with_appcontext
def worker_cmd(interval: float, once: bool) -> None:
    """Deliver back-channel logouts and mail, and end timed-out sessions, until stopped."""
    worker = Worker(current_app._get_current_object(), interval=interval)  # type: ignore[attr-defined]
    if once:
        click.echo(f"Back-channel logout attempts made: {worker.run_once()}.")
        return
    # A stop between two passes loses nothing: a claimed row is retried after its lease.
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    click.echo("Worker running; press Ctrl+C to stop.")
    try:
        worker.run()
    except KeyboardInterrupt:
        worker.stop()
    click.echo("Worker stopped.")


def current_worker() -> Worker | None:
    """The inline worker of the current app, if one runs (for health checks)."""
    return current_app.extensions.get("idp_inline_worker")
