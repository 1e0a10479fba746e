"""Audit for the administrators' side: who acted, recording it, and reading the log back."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterator

from sqlalchemy import Select, func, select

from ..extensions import db
from ..models import AuditEvent
from . import audit, database
from .admin_csv import spreadsheet_cell

EXPORT_COLUMNS = ("id", "created_at", "event_type", "outcome", "actor", "subject", "client",
                  "ip", "details")


@dataclass(frozen=True)
class Actor:
    """The administrator (a staff username) or automation client (``client:<id>``) acting."""

    name: str
    ip: str | None = None
    # A full administrator (console: the admin role; API: every admin scope). Only a full
    # administrator may hand out admin.* scopes or touch a client that holds them.
    full_admin: bool = False


def log(actor: Actor, event_type: str, *, subject: str | None = None, client: str | None = None,
        details: dict[str, Any] | None = None,
        outcome: str = "success") -> AuditEvent:
    """Record one administrative action, attributed to ``actor``."""
    return audit.record(event_type, outcome=outcome, actor=actor.name, subject=subject,
                        client=client, ip=actor.ip, details=details)


def bearer_refused(event_type: str, reason: str, *, ip: str | None, client: str | None = None,
                   details: dict[str, Any] | None = None) -> AuditEvent:
    """Record a refused bearer token: why, from where, for which client; never the token.

    Kept even when the error response after it rolls the request back (registration's
    domain-error handler does).
    """
    event = audit.record(event_type, outcome="failure", client=client, ip=ip,
                         details={"reason": reason, **(details or {})})
    database.commit_before_error()
    return event


@dataclass
class AuditFilter:
    """Filters of the audit log page and export; empty values are ignored."""

    since: datetime | None = None
    until: datetime | None = None
    actor: str = ""
    subject: str = ""
    client: str = ""
    event_type: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def apply(self, query: Select) -> Select:
        if self.since:
            query = query.where(AuditEvent.created_at >= self.since)
        if self.until:
            query = query.where(AuditEvent.created_at < self.until)
        for column, value in ((AuditEvent.actor, self.actor), (AuditEvent.subject, self.subject),
                              (AuditEvent.client, self.client)):
            if value:
                query = query.where(column == value.strip())
        if self.event_type:
            # "user." matches every user event; a full name matches exactly.
            value = self.event_type.strip()
            query = query.where(AuditEvent.event_type.startswith(value) if value.endswith(".")
                                else AuditEvent.event_type == value)
        return query


@dataclass
class Page:
    items: list
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def paginate(query: Select, page: int, per_page: int) -> Page:
    """One page of ``query`` with LIMIT/OFFSET, and the total from a COUNT."""
    page = max(1, page)
    total = db.session.execute(
        select(func.count()).select_from(query.order_by(None).subquery())
    ).scalar_one()
    items = db.session.execute(
        query.limit(per_page).offset((page - 1) * per_page)
    ).scalars().all()
    return Page(items=list(items), total=total, page=page, per_page=per_page)


def search_events(filters: AuditFilter, page: int = 1, per_page: int = 50) -> Page:
    query = filters.apply(select(AuditEvent)).order_by(AuditEvent.id.desc())
    return paginate(query, page, per_page)


def event_types() -> list[str]:
    return list(db.session.execute(
        select(AuditEvent.event_type).distinct().order_by(AuditEvent.event_type)
    ).scalars())


def _rows(filters: AuditFilter, batch: int = 500) -> Iterator[AuditEvent]:
    """The matching events oldest first, read in keyset batches (never all at once)."""
    last = 0
    while True:
        rows = db.session.execute(
            filters.apply(select(AuditEvent)).where(AuditEvent.id > last)
            .order_by(AuditEvent.id).limit(batch)
        ).scalars().all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id
        db.session.expunge_all()


def as_dict(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id, "created_at": event.created_at.isoformat(), "event_type": event.event_type,
        "outcome": event.outcome, "actor": event.actor, "subject": event.subject,
        "client": event.client, "ip": event.ip, "details": event.details or {},
    }


def export_jsonl(filters: AuditFilter) -> Iterator[str]:
    for event in _rows(filters):
        yield json.dumps(as_dict(event), ensure_ascii=False) + "\n"


def export_csv(filters: AuditFilter) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    for event in _rows(filters):
        item = as_dict(event)
        item["details"] = json.dumps(item["details"], ensure_ascii=False)
        writer.writerow([spreadsheet_cell(item[c]) for c in EXPORT_COLUMNS])
        if buffer.tell() > 8192:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
