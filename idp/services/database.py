"""Database lifecycle: Alembic upgrades (the only way the schema is created)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from flask import current_app
from sqlalchemy import Engine, event

from ..extensions import db

MIGRATIONS = Path(__file__).resolve().parent.parent.parent / "migrations"


def alembic_config() -> Config:
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(revision: str = "head") -> str:
    """Apply the migrations up to ``revision``; returns the revision now applied."""
    from flask_migrate import upgrade as flask_upgrade

    flask_upgrade(directory=str(MIGRATIONS), revision=revision)
    return current_revision() or "none"


def current_revision() -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_sqlite() -> bool:
    return current_app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")


def tune_sqlite(engine: Engine) -> None:
    """Set each new SQLite connection up for a server with several workers.

    WAL lets readers run beside the one writer; ``synchronous=NORMAL`` syncs the file
    at checkpoints rather than at every commit (after a power cut the last commits may
    be lost, the file is never corrupted); the busy timeout makes a writer wait for the
    lock rather than fail; ``foreign_keys`` enforces what PostgreSQL enforces.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
