"""The background worker: delivers back-channel logouts and queued mail, seals the
audit chain, and ends timed-out sessions.

Run it as ``idp worker`` (one or more processes, on any node), or let the provider
run it as a thread (``IDP_LOGOUT_INLINE_WORKER``, on by default in development):
``create_app`` calls :func:`init_app`, which starts the thread with the first request
the process serves.
Any number may run at once: rows are claimed safely (see
:mod:`idp.services.backchannel`), and everything they do is in the database, so
nothing is lost when a worker or the provider restarts. Of all the workers, the one
that holds the sealer lease chains the audit events (see :mod:`idp.services.audit`).
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
        self.sealer = None  # this worker's name for the audit sealer lease, once it tries

    def _seal(self) -> None:
        """Chain the audit events if this worker holds the sealer lease (one across nodes).

        Its own ``try``: a failed seal must not hold back the logout deliveries.
        """
        from ..services import audit

        self.sealer = self.sealer or audit.new_holder()
        try:
            sealed = audit.seal(self.sealer).sealed
        except Exception:  # noqa: BLE001  (retried next pass; the events wait unsealed)
            log.exception("audit sealing failed")
            db.session.rollback()
            return
        if sealed:
            log.debug("sealed %d audit events", sealed)

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
                self._seal()  # after the logouts: a backlog of events must not delay them
                return attempted
            except Exception:  # the database may be down: log, wait, try again
                log.exception("worker pass failed")
                db.session.rollback()
                return 0
            finally:
                db.session.remove()

    def run(self) -> None:
        """Loop until :meth:`stop` is called, then give the sealer lease back."""
        try:
            while not self.stopping.is_set():
                self.run_once()
                self.stopping.wait(self.interval)
        finally:
            self.release_lease()

    def stop(self) -> None:
        """Ask the loop to end (safe from a signal handler: it only sets a flag)."""
        self.stopping.set()

    def release_lease(self) -> None:
        """Hand the sealer lease over at once rather than after its expiry."""
        if self.sealer is None:
            return
        from ..services import audit

        with self.app.app_context():
            try:
                audit.release(self.sealer)
            except Exception:  # noqa: BLE001  (the lease then simply expires)
                log.exception("could not release the audit sealer lease")
            finally:
                db.session.remove()


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

