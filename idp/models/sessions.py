"""SSO sessions, the clients that joined them, and the back-channel logout outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, JSON, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ._base import UTCDateTime, random_id, utcnow


class SsoSession(db.Model):
    """A staff member's sign-in. The browser holds only an opaque id, stored here hashed."""

    __tablename__ = "sso_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The public session id given to clients in ``sid`` (OIDC Front/Back-Channel Logout).
    sid: Mapped[str] = mapped_column(String(64), unique=True, default=random_id)
    cookie_hash: Mapped[str] = mapped_column(String(128), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    amr: Mapped[list] = mapped_column(JSON, default=list)
    acr: Mapped[str | None] = mapped_column(String(128))
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(512), default="")
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    end_reason: Mapped[str | None] = mapped_column(String(32))

    user = relationship("User")
    clients: Mapped[list[SessionClient]] = relationship(
        back_populates="session", cascade="all, delete-orphan"
    )


class SessionClient(db.Model):
    """A client application that received tokens within an SSO session."""

    __tablename__ = "session_clients"
    __table_args__ = (
        UniqueConstraint("session_id", "client_id", name="uq_session_clients_session_client"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sso_sessions.id", ondelete="CASCADE"))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    session: Mapped[SsoSession] = relationship(back_populates="clients")
    client = relationship("Client")


class LogoutDelivery(db.Model):
    """Outbox row: a back-channel logout to deliver, with retries and backoff."""

    __tablename__ = "logout_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    uri: Mapped[str] = mapped_column(String(1024))
    sid: Mapped[str | None] = mapped_column(String(64))
    sub: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    client = relationship("Client")
