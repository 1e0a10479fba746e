"""Where the lockout counters live: ``throttle_counters`` rows, or Redis when
``REDIS_URL`` is set (see :mod:`idp.services.throttle` for what they count)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Protocol

from flask import current_app
from sqlalchemy import case, delete, update
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import db
from ..models import ThrottleCounter, utcnow


@dataclass(frozen=True)
class State:
    """A key's counter: failures in the current window, and the time it may try again."""

    failures: int = 0
    not_before: datetime | None = None
    started: datetime | None = None  # the window's first failure (database store only)

    def within(self, window: int, now: datetime) -> int:
        """The failures, or 0 when their window is over (rows wait for housekeeping)."""
        if self.started is not None and self.started < now - timedelta(seconds=window):
            return 0
        return self.failures


class Store(Protocol):
    def get(self, key: str) -> State: ...
    def incr(self, key: str, now: datetime, window: int) -> int: ...
    def hold(self, key: str, until: datetime) -> None: ...
    def clear(self, key: str) -> None: ...


class DatabaseStore:
    """``throttle_counters`` rows; each failure is one INSERT ... ON CONFLICT DO UPDATE."""

    def get(self, key: str) -> State:
        row = db.session.get(ThrottleCounter, key, populate_existing=True)
        if row is None:
            return State()
        return State(row.failures, row.locked_until, row.window_started_at)

    def incr(self, key: str, now: datetime, window: int) -> int:
        dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
        table = ThrottleCounter.__table__
        stale = table.c.window_started_at < now - timedelta(seconds=window)
        # The window restarts when its first failure is older than the lock period,
        # in the same statement, so that concurrent failures are all counted.
        stmt = dialect.insert(table).values(key=key, failures=1, window_started_at=now)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "failures": case((stale, 1), else_=table.c.failures + 1),
                "window_started_at": case((stale, now), else_=table.c.window_started_at),
            },
        ).returning(table.c.failures)
        failures = db.session.execute(stmt).scalar_one()
        # The one commit outside a boundary (docs/adr/0001, "Transaction boundaries"): a
        # failure must stay counted even when the request that failed rolls back, or an
        # attacker who makes the request end in an error guesses without limit. The
        # counter is written through the request's session (a second connection would
        # wait on SQLite's one writer, which this session may hold), at the start of the
        # checks, before the request has written anything it would not keep.
        db.session.commit()
        return failures

    def hold(self, key: str, until: datetime) -> None:
        db.session.execute(
            update(ThrottleCounter).where(ThrottleCounter.key == key).values(locked_until=until)
        )
        db.session.commit()  # a lock survives a rollback, as the failure counts do (see incr)

    def clear(self, key: str) -> None:
        # Lifting a lock is part of the action that lifts it (a sign-in, an unlock, a
        # reset): it joins that action's transaction.
        db.session.execute(delete(ThrottleCounter).where(ThrottleCounter.key == key))


class RedisStore:
    """A Redis hash per key; the key expires with its window or its lock."""

    def __init__(self, url: str, prefix: str = "idp:"):
        import redis

        self.redis = redis.Redis.from_url(url)
        self.prefix = prefix

    def _name(self, key: str) -> str:
        return f"{self.prefix}throttle:{key}"

    def get(self, key: str) -> State:
        failures, until = self.redis.hmget(self._name(key), "failures", "not_before")
        stamp = datetime.fromisoformat(until.decode()) if until else None
        return State(int(failures or 0), stamp)

    def incr(self, key: str, now: datetime, window: int) -> int:
        name = self._name(key)
        pipe = self.redis.pipeline()
        pipe.hincrby(name, "failures", 1)
        pipe.expire(name, window, nx=True)  # the window starts with its first failure
        failures, _ = pipe.execute()
        return int(failures)

    def hold(self, key: str, until: datetime) -> None:
        name = self._name(key)
        pipe = self.redis.pipeline()
        pipe.hset(name, "not_before", until.isoformat())
        pipe.expire(name, max(1, math.ceil((until - utcnow()).total_seconds())), gt=True)
        pipe.execute()

    def clear(self, key: str) -> None:
        self.redis.delete(self._name(key))


@lru_cache(maxsize=4)
def _redis_store(url: str, prefix: str) -> RedisStore:
    return RedisStore(url, prefix)


def store() -> Store:
    url = current_app.config.get("REDIS_URL")
    return _redis_store(url, current_app.config["REDIS_PREFIX"]) if url else DatabaseStore()
