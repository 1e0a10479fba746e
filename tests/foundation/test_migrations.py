"""The Alembic revisions create exactly the schema the models describe, on both stores."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from idp import create_app
from idp.extensions import db
from idp.services import database


def _head() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(database.alembic_config()).get_current_head()


def test_migrations_match_models(config):
    app = create_app(config)
    with app.app_context():
        with db.engine.begin() as conn:
            db.metadata.drop_all(conn)
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        assert database.upgrade() == _head()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        assert diff == []
        tables = set(inspect(db.engine).get_table_names())
        assert {"users", "org_units", "roles", "clients", "sso_sessions", "tokens",
                "authorization_codes", "signing_keys", "totp_credentials", "audit_events",
                "logout_deliveries"} <= tables
        # Running the upgrade again is harmless.
        assert database.upgrade() == _head()
        with db.engine.begin() as conn:
            db.metadata.drop_all(conn)
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.create_all()  # leave the schema the other tests expect (PostgreSQL)
        db.engine.dispose()
