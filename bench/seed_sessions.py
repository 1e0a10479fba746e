"""Insert N live SSO sessions for the bench user straight into the database.

Run with the provider's environment (IDP_DATABASE_URL etc.) and its virtualenv:
    .venv/bin/python bench/seed_sessions.py 100000
Prints one JSON line: rows created, seconds, and the sso_sessions table's size on disk
before and after (the provider keeps sessions in the database, not in its workers).
"""

from __future__ import annotations

import json
import secrets
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BATCH = 5000


def table_bytes(db) -> int:
    """Bytes on disk: the sessions table and its indexes (PostgreSQL), the whole file (SQLite)."""
    engine = db.engine
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            return conn.exec_driver_sql("SELECT pg_total_relation_size('sso_sessions')").scalar()
    path = engine.url.database
    files = [Path(path), Path(f"{path}-wal")] if path else []
    return sum(f.stat().st_size for f in files if f.exists())


def seed(count: int, username: str) -> dict:
    from idp import create_app
    from idp.extensions import db
    from idp.models import SsoSession, User, utcnow
    from idp.services.crypto import hash_secret

    app = create_app()
    with app.app_context():
        user = db.session.execute(db.select(User).filter_by(username=username)).scalar_one()
        before = table_bytes(db)
        started = time.perf_counter()
        now = utcnow()
        expires = now + timedelta(seconds=app.config["SESSION_ABSOLUTE_TIMEOUT"])
        table = SsoSession.__table__
        for offset in range(0, count, BATCH):
            rows = [{"sid": secrets.token_urlsafe(16), "cookie_hash": hash_secret(secrets.token_urlsafe(32)),
                     "user_id": user.id, "created_at": now, "last_seen_at": now, "expires_at": expires,
                     "auth_time": now, "amr": ["pwd"], "acr": "urn:idp:acr:pwd", "ip": "127.0.0.1",
                     "user_agent": "bench"} for _ in range(min(BATCH, count - offset))]
            db.session.execute(table.insert(), rows)
            db.session.commit()
        seconds = time.perf_counter() - started
        return {"created": count, "seconds": round(seconds, 2), "bytes_before": before,
                "bytes_after": table_bytes(db)}


if __name__ == "__main__":
    total = min(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000, 1_000_000)
    print(json.dumps(seed(total, sys.argv[2] if len(sys.argv) > 2 else "bench.user")))
