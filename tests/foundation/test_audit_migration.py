"""0003_audit_seal: a chain written under the old lock stays verifiable, and goes back."""

from __future__ import annotations

import pytest
from flask_migrate import downgrade
from sqlalchemy import text

from idp import create_app
from idp.extensions import db
from idp.models import AuditEvent, utcnow
from idp.services import audit, database


def _reset(conn) -> None:
    db.metadata.drop_all(conn)
    for table in ("alembic_version", "audit_checkpoints", "audit_sealer_lease"):
        conn.execute(text(f"DROP TABLE IF EXISTS {table}"))


def _old_chain(n: int) -> None:
    prev = audit.GENESIS
    for i in range(n):
        event = AuditEvent(created_at=utcnow(), event_type="test.old", outcome="success",
                           actor="an.nguyen", subject=None, client=None, ip=None,
                           details={"n": i})
        digest = audit._digest(prev, event)
        db.session.execute(text(
            "INSERT INTO audit_events (created_at, event_type, outcome, actor, details, "
            "prev_hash, hash) VALUES (:at, 'test.old', 'success', 'an.nguyen', :details, "
            ":prev, :hash)"),
            {"at": event.created_at.replace(tzinfo=None), "details": f'{{"n": {i}}}',
             "prev": prev, "hash": digest})
        prev = digest
    db.session.commit()


def test_upgrade_numbers_the_old_chain_and_downgrade_needs_it_sealed(config, caplog):
    app = create_app(config)
    with app.app_context():
        with db.engine.begin() as conn:
            _reset(conn)
        try:
            database.upgrade("0002_tokens")
            _old_chain(3)
            database.upgrade()
            assert audit.verify_chain() == (3, None, "")
            audit.record("test.new")
            db.session.commit()
            assert audit.seal(force_checkpoint=True).sealed == 1
            assert audit.verify().ok
            audit.record("test.unsealed")
            db.session.commit()
            db.session.remove()
            with pytest.raises(SystemExit):  # Flask-Migrate logs the error and exits
                downgrade(directory=str(database.MIGRATIONS), revision="0002_tokens")
            assert "1 audit events are not sealed yet" in caplog.text
            assert database.current_revision() == "0003_audit_seal"
            audit.seal()
            db.session.remove()
            downgrade(directory=str(database.MIGRATIONS), revision="0002_tokens")
            assert database.current_revision() == "0002_tokens"
            with db.engine.connect() as conn:
                assert conn.execute(text("SELECT count(*) FROM audit_events")).scalar() == 5
        finally:
            db.session.remove()
            with db.engine.begin() as conn:
                _reset(conn)
            db.create_all()  # leave the schema the other tests expect (PostgreSQL)
            db.engine.dispose()
