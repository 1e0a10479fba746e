"""One sealer at a time, and no global lock left on the path that writes audit events."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from idp.extensions import db
from idp.models import AuditEvent, AuditSealerLease, utcnow
from idp.ops.worker import Worker
from idp.services import audit
from tests.support.flow import basic

WAIT = 20  # seconds: far beyond what an unblocked write takes, even on a loaded machine


def _events(n: int, actor: str = "an.nguyen") -> None:
    for i in range(n):
        audit.record("test.event", actor=actor, details={"n": i})
    db.session.commit()  # the caller's boundary, as a request's end


def _postgresql_only() -> None:
    if db.engine.dialect.name == "sqlite":
        pytest.skip("SQLite has one writer per database: an open write transaction blocks "
                    "every other writer by design, so there is no cross-node lock to prove gone")


def test_a_held_lease_keeps_a_second_sealer_out_until_it_expires(app):
    _events(3)
    assert audit.seal("sealer-a").sealed == 3
    _events(2)
    assert audit.seal("sealer-b").held_elsewhere  # A's lease is still running
    assert audit.seal("sealer-a").sealed == 2  # the holder renews it
    _events(1)
    lease = db.session.get(AuditSealerLease, 1)
    lease.expires_at = utcnow() - timedelta(seconds=1)  # A stopped without releasing
    db.session.commit()
    assert audit.seal("sealer-b").sealed == 1
    assert audit.seal("sealer-a").held_elsewhere
    assert audit.verify().ok


def test_two_sealers_at_once_only_one_seals(app):
    _events(1200)  # more than two batches: the first sealer keeps the lease throughout
    start, results, errors = threading.Barrier(2), {}, []

    def sealer(name: str) -> None:
        with app.app_context():
            try:
                start.wait()
                results[name] = audit.seal(name)
            except Exception as exc:  # noqa: BLE001  (reported below)
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=sealer, args=(n,)) for n in ("sealer-a", "sealer-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    outcomes = sorted((r.held_elsewhere, r.sealed) for r in results.values())
    assert outcomes == [(False, 1200), (True, 0)]
    db.session.rollback()
    assert audit.verify_chain() == (1200, None, "")


def test_the_worker_seals_and_hands_the_lease_over_when_stopping(app):
    _events(2)
    first = Worker(app)
    first.run_once()
    assert audit.verify_chain() == (2, None, "")
    _events(1)
    second = Worker(app)
    second.run_once()  # the first still holds the lease
    db.session.rollback()
    assert audit.verify().unsealed == 1
    first.stop()
    first.run()  # returns at once, and gives the lease back
    second.run_once()
    db.session.rollback()
    report = audit.verify()
    assert (report.ok, report.sealed, report.unsealed) == (True, 3, 0)


def test_an_open_audit_write_on_one_node_does_not_block_another(app, client, service_client):
    """Node A stops in the middle of a request that writes an audit event; node B still
    writes events and issues tokens; then the sealer chains both and verify passes."""
    _postgresql_only()
    inserted, finish, errors = threading.Event(), threading.Event(), []

    def node_a() -> None:
        with app.app_context():
            try:
                audit.record("token.issued", actor="node-a")
                db.session.flush()  # the INSERT is made; the transaction stays open
                inserted.set()
                finish.wait(WAIT * 3)
                db.session.commit()
            except Exception as exc:  # noqa: BLE001  (reported below)
                errors.append(exc)
            finally:
                db.session.remove()

    def node_b() -> None:
        with app.app_context():
            try:
                _events(5, actor="node-b")
                for _ in range(3):
                    response = client.post(
                        "/token", data={"grant_type": "client_credentials"},
                        headers=basic("hr-sync", service_client.client_secret))
                    assert response.status_code == 200, response.get_data(as_text=True)
            except Exception as exc:  # noqa: BLE001  (reported below)
                errors.append(exc)
            finally:
                db.session.remove()

    a = threading.Thread(target=node_a)
    a.start()
    assert inserted.wait(WAIT)
    b = threading.Thread(target=node_b)
    b.start()
    b.join(WAIT)
    blocked = b.is_alive()
    finish.set()
    a.join(WAIT)
    b.join(WAIT)
    assert not blocked, "node B waited for node A's open transaction: a global lock remains"
    assert not errors
    db.session.rollback()
    assert audit.seal(force_checkpoint=True).sealed >= 9
    report = audit.verify()
    assert (report.ok, report.unsealed) == (True, 0)
    actors = set(db.session.execute(db.select(AuditEvent.actor)).scalars())
    assert {"node-a", "node-b"} <= actors
