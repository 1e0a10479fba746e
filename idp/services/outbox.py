"""Claiming due rows of an outbox table (back-channel logouts, mail) for one worker.

Both tables have ``id``, ``status``, ``next_attempt_at`` and ``attempts``. A claim moves
``next_attempt_at`` a lease ahead and counts the attempt, so that another worker skips the
row until the lease runs out (and retries it then, if this worker died).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Iterable

from sqlalchemy import select, update

from ..extensions import db
from ..models import utcnow
from .database import unit_of_work


def claim_due(model, lease: timedelta, limit: int, ids: Iterable[int] | None = None) -> list[int]:
    """Claim up to ``limit`` due rows of ``model`` (or only some of ``ids``); their ids."""
    now = utcnow()
    query = (select(model.id)
             .where(model.status == "pending", model.next_attempt_at <= now)
             .order_by(model.next_attempt_at, model.id)
             .limit(limit))
    if ids is not None:
        query = query.where(model.id.in_(list(ids)))
    postgresql = db.session.get_bind().dialect.name == "postgresql"
    if not postgresql:
        with unit_of_work():  # no read lock held while we ask for the write lock
            candidates = db.session.execute(query).scalars().all()
    claimed = []
    with unit_of_work():  # the claim commits at once: other workers see the lease
        if postgresql:
            # Rows another worker holds are skipped rather than waited for; the lock lasts
            # until the claim below commits.
            candidates = db.session.execute(
                query.with_for_update(skip_locked=True)).scalars().all()
        for row_id in candidates:
            # The conditional UPDATE is the claim on SQLite: writers are serialised, and
            # the second one finds next_attempt_at already moved and changes nothing.
            won = db.session.execute(
                update(model)
                .where(model.id == row_id, model.status == "pending",
                       model.next_attempt_at <= now)
                .values(next_attempt_at=now + lease, attempts=model.attempts + 1)
            ).rowcount
            if won:
                claimed.append(row_id)
    return claimed
