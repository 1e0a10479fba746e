"""The audit chain under concurrent writers: never forked, never broken.

Runs on a file SQLite database by default and on PostgreSQL with IDP_TEST_DATABASE_URL.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.exc import IntegrityError

from idp.extensions import db
from idp.models import AuditEvent, utcnow
from idp.services import audit

THREADS = 8
EACH = 25


def _writer(app, number: int, start: threading.Barrier, errors: list) -> None:
    with app.app_context():
        try:
            start.wait()
            for i in range(EACH):
                # The caller's boundary commits, as a request's end does.
                audit.record("test.event", actor=f"writer-{number}", details={"i": i})
                db.session.commit()
        except Exception as exc:  # noqa: BLE001  (reported to the test below)
            errors.append(exc)
        finally:
            db.session.remove()


def test_concurrent_writers_keep_one_intact_chain(app):
    start, errors = threading.Barrier(THREADS), []
    threads = [threading.Thread(target=_writer, args=(app, n, start, errors))
               for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    db.session.rollback()
    count, bad, reason = audit.verify_chain()
    assert (count, bad, reason) == (THREADS * EACH, None, "")
    actors = db.session.execute(db.select(AuditEvent.actor)).scalars().all()
    assert sorted(set(actors)) == sorted(f"writer-{n}" for n in range(THREADS))


def test_a_fork_cannot_be_stored(app):
    first = audit.record("test.event")
    db.session.commit()
    fork = AuditEvent(created_at=utcnow(), event_type="test.fork", outcome="success",
                      details={}, prev_hash=first.prev_hash, hash="f" * 64)
    db.session.add(fork)
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    assert audit.verify_chain() == (1, None, "")


def test_hooks_see_the_recorded_event_without_reading_it_back(app):
    seen = []
    audit.init_app(app, on_record=[seen.append])
    event = audit.record("test.event", subject="an.nguyen", details={"k": "v"})
    stored = db.session.get(AuditEvent, event.id)
    assert [(e.id, e.event_type, e.subject, e.details, e.hash) for e in seen] == \
        [(stored.id, "test.event", "an.nguyen", {"k": "v"}, stored.hash)]
