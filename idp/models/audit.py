"""Append-only audit events, chained by hash after the fact, and the signed checkpoints.

A request inserts an event with its chain fields empty (NULL). The sealer
(:mod:`idp.services.audit`, run by ``idp worker``) gives each unsealed event its place
in the chain (``seq``), its predecessor's hash and its own, and now and then writes an
:class:`AuditCheckpoint`: the head of the chain signed with ``IDP_AUDIT_KEY``, a key
that the database does not hold.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ._base import UTCDateTime, utcnow


class AuditEvent(db.Model):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    event_type: Mapped[str] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(16), default="success")
    actor: Mapped[str | None] = mapped_column(String(128), index=True)  # username, client or system
    subject: Mapped[str | None] = mapped_column(String(128), index=True)  # the staff member concerned
    client: Mapped[str | None] = mapped_column(String(64), index=True)
    ip: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    # NULL until sealed. Unique: two events can never hold the same place or claim the same
    # predecessor (the chain cannot fork, even if two sealers ran at once).
    seq: Mapped[int | None] = mapped_column(Integer, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    hash: Mapped[str | None] = mapped_column(String(64), unique=True)


class AuditCheckpoint(db.Model):
    """The chain's head at one moment, signed with IDP_AUDIT_KEY (HMAC-SHA256)."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, index=True)  # the head's place in the chain
    head_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    signature: Mapped[str] = mapped_column(String(64))


class AuditSealerLease(db.Model):
    """One row: which sealer may extend the chain, until when (one active across nodes)."""

    __tablename__ = "audit_sealer_lease"

    id: Mapped[int] = mapped_column(primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
