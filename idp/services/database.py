"""Database lifecycle: Alembic upgrades (the only way the schema is created), and the
transaction boundaries.

Services add, change and flush; they never commit. One boundary commits once, or rolls
everything back: :func:`init_app` for each request, :func:`unit_of_work` for each CLI
command and each worker step (see docs/adr/0001-authlib-boundary.md, "Transaction
boundaries").
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from flask import Flask, Response, current_app
from sqlalchemy import Engine, event

from ..extensions import db

MIGRATIONS = Path(__file__).resolve().parent.parent.parent / "migrations"


@contextmanager
def unit_of_work() -> Iterator[None]:
    """One transaction: commit when the block ends, roll back everything if it raises."""
    try:
        yield
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()


def init_app(app: Flask) -> None:
    """The request's boundary: one commit after the view, before the response leaves.

    A response below 500 (a page, a redirect, a protocol error whose failure is recorded)
    commits what the request did; a 5xx rolls all of it back. Committing here rather than
    at teardown means a commit that fails answers 500 instead of a success the database
    never kept.
    """
    app.after_request(_end_request)


def commit_before_error() -> None:
    """Keep what was just written although the error response after it rolls back.

    For the few writes that precede an error raised into a handler which discards the
    failed request's work (Authlib's token-endpoint errors, registration's, the admin
    API's and console's domain errors): a refusal's audit event, a security reaction
    such as a revoked token family, a spent client-assertion jti. Call it right after
    them, when the request has written nothing else it would not keep (docs/adr/0001,
    "Transaction boundaries", lists every caller; tests/foundation/test_transactions.py
    checks the list).
    """
    db.session.commit()


def _end_request(response: Response) -> Response:
    if response.status_code >= 500:
        db.session.rollback()
    else:
        db.session.commit()
    return response


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
