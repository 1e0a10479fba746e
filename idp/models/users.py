"""Staff, departments (an org-unit tree) and roles."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ._base import UTCDateTime, random_id, utcnow

user_roles = Table(
    "user_roles",
    db.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
)

GLOBAL_ROLES = ("admin", "client-admin", "helpdesk", "auditor")


class OrgUnit(db.Model):
    """A node of the ministry's tree: ministry → department/agency → division."""

    __tablename__ = "org_units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    mfa_required: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    parent: Mapped[OrgUnit | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[OrgUnit]] = relationship(back_populates="parent")

    def ancestry(self) -> list[OrgUnit]:
        """This unit and its parents, nearest first."""
        chain, node = [], self
        while node is not None and node not in chain:
            chain.append(node)
            node = node.parent
        return chain


class Role(db.Model):
    """A global role (client_id is NULL) or a role defined by one client application."""

    __tablename__ = "roles"
    __table_args__ = (UniqueConstraint("client_id", "name", name="uq_roles_client_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), index=True
    )
    description: Mapped[str] = mapped_column(String(255), default="")

    client = relationship("Client", back_populates="roles")


class User(db.Model):
    """A staff member. ``sub`` is random, stable and never reused."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    sub: Mapped[str] = mapped_column(String(64), unique=True, default=random_id)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    full_name: Mapped[str] = mapped_column(String(255))
    given_name: Mapped[str] = mapped_column(String(128), default="")
    family_name: Mapped[str] = mapped_column(String(128), default="")
    title: Mapped[str] = mapped_column(String(255), default="")
    phone: Mapped[str] = mapped_column(String(64), default="")
    employee_number: Mapped[str] = mapped_column(String(64), default="")
    locale: Mapped[str] = mapped_column(String(8), default="vi")
    department_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | disabled
    password_hash: Mapped[str | None] = mapped_column(String(255))
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    department: Mapped[OrgUnit | None] = relationship()
    roles: Mapped[list[Role]] = relationship(secondary=user_roles, lazy="selectin")

    @property
    def active(self) -> bool:
        return self.status == "active"

    def global_roles(self) -> list[str]:
        return sorted(role.name for role in self.roles if role.client_id is None)

    def client_roles(self, client_pk: int) -> list[str]:
        return sorted(role.name for role in self.roles if role.client_id == client_pk)

    # Authlib asks the user for this (the ID token's ``sub``).
    def get_user_id(self) -> str:
        return self.sub
