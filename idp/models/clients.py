"""Registered client applications (relying parties)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ._base import UTCDateTime, utcnow

CLIENT_TYPES = ("web", "spa", "native", "service")
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")


class Client(db.Model):
    """A relying party. Its secret is stored only as a SHA-256 hash."""

    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str | None] = mapped_column(String(128))
    # A rotated secret keeps working until this time (the grace period), then not.
    previous_secret_hash: Mapped[str | None] = mapped_column(String(128))
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    logo_uri: Mapped[str] = mapped_column(String(1024), default="")
    owner_department_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    client_type: Mapped[str] = mapped_column(String(16), default="web")
    token_endpoint_auth_method: Mapped[str] = mapped_column(
        String(32), default="client_secret_basic"
    )
    redirect_uris: Mapped[list] = mapped_column(JSON, default=list)
    post_logout_redirect_uris: Mapped[list] = mapped_column(JSON, default=list)
    backchannel_logout_uri: Mapped[str | None] = mapped_column(String(1024))
    backchannel_logout_session_required: Mapped[bool] = mapped_column(Boolean, default=True)
    frontchannel_logout_uri: Mapped[str | None] = mapped_column(String(1024))
    frontchannel_logout_session_required: Mapped[bool] = mapped_column(Boolean, default=True)
    grant_types: Mapped[list] = mapped_column(JSON, default=list)
    response_types: Mapped[list] = mapped_column(JSON, default=list)
    scope: Mapped[str] = mapped_column(Text, default="openid")
    id_token_signed_response_alg: Mapped[str] = mapped_column(String(16), default="RS256")
    jwks: Mapped[dict | None] = mapped_column(JSON)
    jwks_uri: Mapped[str | None] = mapped_column(String(1024))
    access_token_ttl: Mapped[int | None] = mapped_column(Integer)
    refresh_token_ttl: Mapped[int | None] = mapped_column(Integer)
    trusted: Mapped[bool] = mapped_column(Boolean, default=False)
    mfa_required: Mapped[bool] = mapped_column(Boolean, default=False)
    # RFC 9700 §2.1.1: PKCE is required of every client unless it was registered otherwise
    # (a confidential client that relies on the OIDC nonce instead). Public clients always use it.
    pkce_required: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # RFC 7592: the registration access token of a dynamically registered client.
    registration_token_hash: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    roles = relationship("Role", back_populates="client", cascade="all, delete-orphan")

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"


class InitialAccessToken(db.Model):
    """RFC 7591 §3: a token an administrator issues that allows one registration."""

    __tablename__ = "initial_access_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
