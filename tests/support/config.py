"""The test configuration of the provider and the per-worker PostgreSQL databases."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import create_engine, text

from tests.support.constants import TEST_DATA_KEY


def worker_database_url(base: str, worker: str) -> str:
    """One PostgreSQL database per xdist worker, created when missing."""
    parts = urlsplit(base)
    name = f"{parts.path.lstrip('/') or 'test'}_{worker}"
    # Connect to the maintenance database to create the worker's own one.
    admin = create_engine(urlunsplit(parts._replace(path="/postgres")), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return urlunsplit(parts._replace(path=f"/{name}"))


def base_config(database_url: str | None, instance: str) -> dict:
    return {
        "TESTING": True,
        "ENV": "development",
        "INSTANCE_PATH": instance,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key",
        "DATA_KEY": TEST_DATA_KEY,
        "AUDIT_KEY": "test-audit-key",
        "WTF_CSRF_ENABLED": True,
        # Cheap hashing for speed; the OWASP parameters are tested with the preset.
        "ARGON2_MEMORY_KIB": 1024,
        "ARGON2_TIME_COST": 1,
        # Tests send many requests from one address; the ``ratelimits`` preset turns them on.
        "RATELIMIT_ENABLED": False,
        # No background threads unless a test asks (the worker's passes are called by hand).
        "LOGOUT_INLINE_WORKER": False,
        "LOGOUT_IMMEDIATE": False,
    }
