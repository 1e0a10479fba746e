"""Database lifecycle: Alembic upgrades (the only way the schema is created)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from flask import current_app

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
