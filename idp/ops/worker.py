"""The background worker: delivers back-channel logouts and queued mail, and ends
timed-out sessions.

Run it as ``idp worker`` (one or more processes, on any node), or let the provider
run it as a thread (``IDP_LOGOUT_INLINE_WORKER``, on by default in development):
``create_app`` calls :func:`init_app`, which starts the thread with the first request
the process serves.
Any number may run at once: rows are claimed safely (see
:mod:`idp.services.backchannel`), and everything they do is in the database, so
nothing is lost when a worker or the provider restarts.
"""

from __future__ import annotations

import logging
import threading
import time

from flask import Flask

from ..extensions import db

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
        from ..services import backchannel, housekeeping, logout, mail
        from ..services.database import unit_of_work

        # Each step is its own unit of work (one commit, or a rollback of the step): the
        # sweep here; each batch of the purge; the claim, then each delivery's outcome, of
        # the two outboxes (none holds a transaction open while a client or the mail
        # server answers).

        with self.app.app_context():
            try:
                now = time.monotonic()
                if now - self._last_housekeeping >= self.housekeeping_every:
                    self._last_housekeeping = now
                    with unit_of_work():
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


def init_app(app: Flask) -> None:
    """Start the inline worker with the first request, when IDP_LOGOUT_INLINE_WORKER is on.

    Not at once: ``create_app`` also builds the app for every ``idp`` command (which must
    not start a thread), and a server that forks after building the app would lose it.
    """
    if not app.config["LOGOUT_INLINE_WORKER"]:
        return

    def start() -> None:
        if "idp_inline_worker" not in app.extensions:
            start_inline(app)

    app.before_request(start)


def start_inline(app: Flask) -> Worker:
    """Start the worker thread in this provider process, once."""
    with _inline_lock:
        running = app.extensions.get("idp_inline_worker")
        if running is not None:
            return running
        worker = Worker(app)
        app.extensions["idp_inline_worker"] = worker
    threading.Thread(target=worker.run, daemon=True, name="idp-logout-worker").start()
    log.info("inline logout worker started (IDP_LOGOUT_INLINE_WORKER)")
    return worker

