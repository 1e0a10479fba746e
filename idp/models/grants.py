"""Authorization codes, tokens (with refresh-token families) and consents.

Codes and refresh tokens are stored as SHA-256 hashes; access tokens are signed
JWTs (RFC 9068) recorded here by ``jti`` so that revocation and logout can make
introspection answer ``active: false``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ._base import UTCDateTime, utcnow


class AuthorizationCode(db.Model):
    __tablename__ = "authorization_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(128), unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("sso_sessions.id", ondelete="SET NULL"), index=True
    )
    redirect_uri: Mapped[str] = mapped_column(String(1024))
    scope: Mapped[str] = mapped_column(Text, default="")
    nonce: Mapped[str | None] = mapped_column(String(512))
    code_challenge: Mapped[str | None] = mapped_column(String(256))
    code_challenge_method: Mapped[str | None] = mapped_column(String(16))
    claims: Mapped[dict | None] = mapped_column(JSON)  # OIDC Core §5.5 claims request
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime)
    acr: Mapped[str | None] = mapped_column(String(128))
    amr: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # Single use: a code is marked used rather than deleted, so that a second
    # redemption can be recognised and the tokens issued from it revoked.
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    client = relationship("Client")
    user = relationship("User")


class Token(db.Model):
    """One token response: an access token (by jti) and perhaps a refresh token.

    Refresh tokens rotate: each use spends the row (``rotated_at``) and issues a
    new row in the same ``family_id``; presenting a spent one revokes the family.
    """

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("sso_sessions.id", ondelete="SET NULL"), index=True
    )
    code_id: Mapped[int | None] = mapped_column(
        ForeignKey("authorization_codes.id", ondelete="SET NULL"), index=True
    )
    family_id: Mapped[str] = mapped_column(String(64), index=True)
    grant_type: Mapped[str] = mapped_column(String(64))
    access_jti: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_token_hash: Mapped[str | None] = mapped_column(String(128), unique=True)
    scope: Mapped[str] = mapped_column(Text, default="")
    auth_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acr: Mapped[str | None] = mapped_column(String(128))
    amr: Mapped[list] = mapped_column(JSON, default=list)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    access_expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    refresh_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Encrypted copy of the response that replaced this one, kept only for the grace
    # window so that a client that lost it can get the same tokens again.
    replacement: Mapped[str | None] = mapped_column(Text)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    client = relationship("Client")
    user = relationship("User")


class Consent(db.Model):
    """Scopes a staff member allowed a (non-trusted) client, remembered until withdrawn."""

    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("user_id", "client_id", name="uq_consents_user_client"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(Text, default="")
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    client = relationship("Client")


class UsedJti(db.Model):
    """``jti`` values of client assertions already seen (RFC 7523 §3: no replay)."""

    __tablename__ = "used_jtis"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    jti: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

    __table_args__ = (UniqueConstraint("client_id", "jti", name="uq_used_jtis_client_jti"),)
