"""The audit chain: plain inserts on the request path, one sealer, signed checkpoints.

Runs on a file SQLite database by default and on PostgreSQL with IDP_TEST_DATABASE_URL.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from idp.extensions import db
from idp.models import AuditCheckpoint, AuditEvent, utcnow
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


def _events(n: int) -> None:
    for i in range(n):
        audit.record("test.event", actor="an.nguyen", details={"n": i})


def _sql(statement: str) -> None:
    db.session.execute(text(statement))
    db.session.commit()


def _problems() -> list[str]:
    db.session.rollback()
    return audit.verify().problems


def test_concurrent_writers_then_one_seal_make_one_intact_chain(app):
    start, errors = threading.Barrier(THREADS), []
    threads = [threading.Thread(target=_writer, args=(app, n, start, errors))
               for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    db.session.rollback()
    assert audit.verify_chain() == (0, None, "")  # nothing is chained by the requests
    assert audit.seal(force_checkpoint=True).sealed == THREADS * EACH
    assert audit.verify_chain() == (THREADS * EACH, None, "")
    report = audit.verify()
    assert (report.ok, report.sealed, report.unsealed, report.covered) == \
        (True, THREADS * EACH, 0, THREADS * EACH)
    actors = db.session.execute(db.select(AuditEvent.actor)).scalars().all()
    assert sorted(set(actors)) == sorted(f"writer-{n}" for n in range(THREADS))


def test_recording_is_one_insert_without_lock_or_read_of_the_head(app):
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement.split()[0].upper())

    sa_event.listen(db.engine, "before_cursor_execute", seen)
    try:
        audit.record("test.event", actor="an.nguyen")
        audit.record("test.event", actor="an.nguyen")
        db.session.commit()
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", seen)
    assert statements == ["INSERT", "INSERT"]
    assert db.session.execute(
        db.select(db.func.count()).where(AuditEvent.hash.is_(None))).scalar() == 2


def test_verify_counts_unsealed_events_as_not_covered(app):
    _events(3)
    audit.seal(force_checkpoint=True)
    _events(2)
    report = audit.verify()
    assert (report.ok, report.sealed, report.unsealed, report.covered) == (True, 3, 2, 3)


def test_an_event_that_commits_late_takes_a_later_place(app):
    if db.engine.dialect.name == "sqlite":
        pytest.skip("SQLite has one writer: an open write blocks the others, so ids are "
                    "always committed in order there")
    late = AuditEvent(created_at=utcnow(), event_type="test.late", outcome="success", details={})
    other = app.app_context()
    db.session.add(late)
    db.session.flush()  # its id is taken, its commit comes after the next seal
    with other:
        _events(2)
        assert audit.seal().sealed == 2
        db.session.remove()
    db.session.commit()
    assert audit.seal(force_checkpoint=True).sealed == 1
    db.session.refresh(late)
    assert late.seq == 3 and late.id < max(db.session.execute(
        db.select(AuditEvent.id)).scalars())
    assert audit.verify().ok


def test_a_fork_cannot_be_stored(app):
    _events(1)
    audit.seal()
    first = db.session.execute(db.select(AuditEvent)).scalar_one()
    fork = AuditEvent(created_at=utcnow(), event_type="test.fork", outcome="success",
                      details={}, seq=2, prev_hash=first.prev_hash, hash="f" * 64)
    db.session.add(fork)
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    assert audit.verify_chain() == (1, None, "")


def test_a_changed_event_is_reported(app):
    _events(4)
    audit.seal(force_checkpoint=True)
    _sql("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2")
    problems = _problems()
    assert any("position 2" in p and "this event was changed" in p for p in problems)


def test_a_chain_recomputed_inside_the_database_is_reported(app):
    _events(4)
    audit.seal(force_checkpoint=True)
    _sql("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2")
    prev = db.session.execute(db.select(AuditEvent.hash).where(AuditEvent.seq == 1)).scalar()
    for row in db.session.execute(db.select(AuditEvent).where(AuditEvent.seq >= 2)
                                  .order_by(AuditEvent.seq)).scalars():
        row.prev_hash, row.hash = prev, "x" * 64  # make room: the hashes are unique
        db.session.flush()
        row.hash = prev = audit._digest(prev, row)
    db.session.commit()
    assert audit.verify_chain() == (4, None, "")  # the links alone look intact
    problems = _problems()
    assert len(problems) == 1
    assert "names another event at position 4" in problems[0]


def test_deleting_the_newest_events_is_reported(app):
    _events(4)
    audit.seal(force_checkpoint=True)
    _sql("DELETE FROM audit_events WHERE seq = 4")
    problems = _problems()
    assert audit.verify_chain() == (3, None, "")  # what is left links up
    assert len(problems) == 1 and "names position 4, which no longer exists" in problems[0]


def test_deleting_an_event_in_the_middle_is_reported(app):
    _events(4)
    audit.seal(force_checkpoint=True)
    _sql("DELETE FROM audit_events WHERE seq = 2")
    assert any("chain broken" in p for p in _problems())


def test_reordered_events_are_reported(app):
    _events(4)
    audit.seal(force_checkpoint=True)
    _sql("UPDATE audit_events SET seq = -seq WHERE seq IN (2, 3)")
    _sql("UPDATE audit_events SET seq = 5 + seq WHERE seq IN (-2, -3)")  # 2 → 3, 3 → 2
    rows = dict(db.session.execute(db.select(AuditEvent.seq, AuditEvent.id)).all())
    assert rows[2] > rows[3]
    assert any("chain broken" in p for p in _problems())


def test_a_checkpoint_forged_inside_the_database_is_reported(app):
    _events(3)
    audit.seal(force_checkpoint=True)
    _sql("DELETE FROM audit_events WHERE seq = 3")
    # Whoever can write the database but lacks IDP_AUDIT_KEY re-signs the shortened head.
    point = db.session.execute(db.select(AuditCheckpoint)).scalar_one()
    head = db.session.execute(db.select(AuditEvent.hash).where(AuditEvent.seq == 2)).scalar()
    point.seq, point.head_hash = 2, head
    point.signature = audit.sign_checkpoint(2, head, point.created_at, "not-the-audit-key")
    db.session.commit()
    problems = _problems()
    assert len(problems) == 1 and "is not signed with IDP_AUDIT_KEY" in problems[0]
    assert audit.verify().covered == 0


def test_checkpoints_are_written_at_most_every_few_seconds_unless_forced(app):
    _events(2)
    assert audit.seal().checkpoint is not None  # the first one at once
    _events(1)
    result = audit.seal()
    assert result.sealed == 1 and result.checkpoint is None
    assert audit.seal(force_checkpoint=True).checkpoint.seq == 3
    assert audit.seal(force_checkpoint=True).checkpoint is None  # the head did not move
    assert db.session.execute(db.select(db.func.count()).select_from(AuditCheckpoint)).scalar() == 2


def test_hooks_see_the_recorded_event_without_reading_it_back(app):
    seen = []
    audit.init_app(app, on_record=[seen.append])
    event = audit.record("test.event", subject="an.nguyen", details={"k": "v"})
    stored = db.session.get(AuditEvent, event.id)
    assert [(e.id, e.event_type, e.subject, e.details, e.hash) for e in seen] == \
        [(stored.id, "test.event", "an.nguyen", {"k": "v"}, None)]
