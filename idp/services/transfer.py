"""Export and import of the directory (departments, roles, clients, staff) as one JSON
document, and the online backup of a SQLite database.

The document carries hashes only (argon2id password hashes, SHA-256 client secret
hashes), so staff keep their passwords and clients their secrets after a move.
It is still sensitive: whoever has it can attack the hashes offline.  Sessions,
tokens, MFA enrolments (encrypted with the source's IDP_DATA_KEY), signing keys and
the audit log stay behind.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.engine import make_url

from ..errors import Conflict, InvalidInput
from ..extensions import db
from ..models import Client, OrgUnit, Role, User, utcnow
from .clients import validate_outbound_uri

FORMAT = "idp-export"
VERSION = 1

DEPARTMENT_FIELDS = ("code", "name", "mfa_required")
CLIENT_FIELDS = (
    "client_id", "secret_hash", "previous_secret_hash", "previous_secret_expires_at", "name",
    "description", "logo_uri", "client_type", "token_endpoint_auth_method", "redirect_uris",
    "post_logout_redirect_uris", "backchannel_logout_uri",
    "backchannel_logout_session_required", "frontchannel_logout_uri",
    "frontchannel_logout_session_required", "grant_types", "response_types", "scope",
    "id_token_signed_response_alg", "jwks", "jwks_uri", "access_token_ttl",
    "refresh_token_ttl", "trusted", "mfa_required", "pkce_required", "enabled", "created_at",
)
USER_FIELDS = (
    "sub", "username", "email", "full_name", "given_name", "family_name", "title", "phone",
    "employee_number", "locale", "status", "password_hash", "password_changed_at",
    "must_change_password", "created_at",
)
DATETIME_FIELDS = {"previous_secret_expires_at", "created_at", "password_changed_at"}


class ImportRefused(InvalidInput):
    """The document cannot be imported; nothing was changed."""


# --- export ----------------------------------------------------------------------------


def _value(row: Any, field: str) -> Any:
    value = getattr(row, field)
    return value.isoformat() if isinstance(value, datetime) else value


def _role_ref(role: Role) -> str:
    """``admin`` for a global role, ``CLIENT_ID:NAME`` for a client's role."""
    return role.name if role.client_id is None else f"{role.client.client_id}:{role.name}"


def _departments_in_order() -> list[OrgUnit]:
    """Parents before children, so that an import can create them in order."""
    units = db.session.execute(select(OrgUnit).order_by(OrgUnit.id)).scalars().all()
    done: set[int] = set()
    ordered: list[OrgUnit] = []
    while len(ordered) < len(units):
        ready = [u for u in units if u.id not in done and (u.parent_id in done or u.parent_id is None)]
        if not ready:  # a cycle: export the rest as they are
            ready = [u for u in units if u.id not in done]
        for unit in ready:
            done.add(unit.id)
            ordered.append(unit)
    return ordered


def export_document() -> dict[str, Any]:
    """The directory as a versioned JSON-ready document."""
    departments = [
        {**{f: _value(u, f) for f in DEPARTMENT_FIELDS},
         "parent": u.parent.code if u.parent else None}
        for u in _departments_in_order()
    ]
    global_roles = db.session.execute(
        select(Role).where(Role.client_id.is_(None)).order_by(Role.name)
    ).scalars().all()
    clients = [
        {**{f: _value(c, f) for f in CLIENT_FIELDS},
         "owner_department": _code(c.owner_department_id),
         "roles": [{"name": r.name, "description": r.description}
                   for r in sorted(c.roles, key=lambda r: r.name)]}
        for c in db.session.execute(select(Client).order_by(Client.client_id)).scalars()
    ]
    users = [
        {**{f: _value(u, f) for f in USER_FIELDS},
         "department": u.department.code if u.department else None,
         "roles": sorted(_role_ref(r) for r in u.roles)}
        for u in db.session.execute(select(User).order_by(User.username)).scalars()
    ]
    return {
        "format": FORMAT, "version": VERSION, "exported_at": utcnow().isoformat(),
        "departments": departments,
        "roles": [{"name": r.name, "description": r.description} for r in global_roles],
        "clients": clients, "users": users,
    }


def _code(department_id: int | None) -> str | None:
    unit = db.session.get(OrgUnit, department_id) if department_id else None
    return unit.code if unit else None


# --- import ----------------------------------------------------------------------------


def check_document(doc: Any) -> None:
    """Refuse a document of another format or version, with a message that says why."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ImportRefused(f'This is not an IDP export: its "format" is not "{FORMAT}".')
    if doc.get("version") != VERSION:
        raise ImportRefused(
            f"This export has version {doc.get('version')!r}; this provider reads version "
            f"{VERSION} only. Export again with a matching provider."
        )
    for key in ("departments", "roles", "clients", "users"):
        if not isinstance(doc.get(key, []), list):
            raise ImportRefused(f'"{key}" must be a list.')


def _entries(doc: dict, kind: str, required: Iterable[str]) -> Iterable[tuple[int, dict]]:
    for index, item in enumerate(doc.get(kind, [])):
        if not isinstance(item, dict):
            raise ImportRefused(f"{kind}[{index}] is not an object.")
        for key in required:
            if item.get(key) in (None, ""):
                raise ImportRefused(f'{kind}[{index}] has no "{key}".')
        yield index, item


def _fields(item: dict, fields: Iterable[str], where: str) -> dict[str, Any]:
    values = {}
    for field in fields:
        if field not in item:
            continue
        value = item[field]
        if field in DATETIME_FIELDS and value is not None:
            try:
                value = datetime.fromisoformat(value)
            except (TypeError, ValueError):
                raise ImportRefused(f'{where}: "{field}" is not an ISO 8601 time.') from None
            if value.tzinfo is None:
                raise ImportRefused(f'{where}: "{field}" has no time zone.')
        values[field] = value
    return values


class _Importer:
    def __init__(self, on_conflict: str) -> None:
        self.on_conflict = on_conflict
        self.counts = {"departments": 0, "roles": 0, "clients": 0, "users": 0, "skipped": 0}

    def _conflict(self, message: str) -> bool:
        """True to skip the entry; raises in ``fail`` mode."""
        if self.on_conflict == "fail":
            raise Conflict(f"{message} Nothing was imported; use --on-conflict skip to keep "
                           "the existing entries.")
        self.counts["skipped"] += 1
        return True

    def _department(self, code: str | None, where: str) -> OrgUnit | None:
        if not code:
            return None
        unit = db.session.execute(select(OrgUnit).where(OrgUnit.code == code)).scalar_one_or_none()
        if unit is None:
            raise ImportRefused(f"{where}: no department has the code {code}.")
        return unit

    def departments(self, doc: dict) -> None:
        for index, item in _entries(doc, "departments", ("code", "name")):
            if self._exists(OrgUnit.code == item["code"]) and self._conflict(
                    f"A department with the code {item['code']} exists already."):
                continue
            parent = self._department(item.get("parent"), f"departments[{index}]")
            db.session.add(OrgUnit(**_fields(item, DEPARTMENT_FIELDS, f"departments[{index}]"),
                                   parent=parent))
            db.session.flush()
            self.counts["departments"] += 1

    def roles(self, doc: dict) -> None:
        for _index, item in _entries(doc, "roles", ("name",)):
            # Global roles are a fixed vocabulary: an existing one is the same role.
            if not self._exists(Role.name == item["name"], Role.client_id.is_(None)):
                db.session.add(Role(name=item["name"], description=item.get("description") or ""))
                db.session.flush()
                self.counts["roles"] += 1

    def clients(self, doc: dict) -> None:
        from ..models import AUTH_METHODS, CLIENT_TYPES

        for index, item in _entries(doc, "clients", ("client_id", "name")):
            where = f"clients[{index}] ({item['client_id']})"
            if self._exists(Client.client_id == item["client_id"]) and self._conflict(
                    f"A client with the id {item['client_id']} exists already."):
                continue
            values = _fields(item, CLIENT_FIELDS, where)
            if values.get("client_type", "web") not in CLIENT_TYPES or values.get(
                    "token_endpoint_auth_method", "none") not in AUTH_METHODS:
                raise ImportRefused(f"{where}: unknown client type or authentication method.")
            for name in ("jwks_uri", "backchannel_logout_uri"):
                if values.get(name):
                    # The provider calls these itself: the outbound (SSRF) rules apply here
                    # as at registration, whatever instance the document came from.
                    try:
                        validate_outbound_uri(str(values[name]), field=name)
                    except InvalidInput as exc:
                        raise ImportRefused(f"{where}: {exc.description}") from None
            owner = self._department(item.get("owner_department"), where)
            client = Client(**values, owner_department_id=owner.id if owner else None)
            for role in item.get("roles") or []:
                client.roles.append(Role(name=role["name"], description=role.get("description") or ""))
            db.session.add(client)
            db.session.flush()
            self.counts["clients"] += 1

    def users(self, doc: dict) -> None:
        for index, item in _entries(doc, "users", ("sub", "username", "email", "full_name")):
            where = f"users[{index}] ({item['username']})"
            if self._exists(User.username == item["username"]) or self._exists(
                    User.email == item["email"]) or self._exists(User.sub == item["sub"]):
                if self._conflict(f"A staff member with the username {item['username']}, "
                                  "its email or its sub exists already."):
                    continue
            user = User(**_fields(item, USER_FIELDS, where),
                        department=self._department(item.get("department"), where))
            user.roles = [self._role(ref, where) for ref in item.get("roles") or []]
            db.session.add(user)
            db.session.flush()
            self.counts["users"] += 1

    def _role(self, ref: str, where: str) -> Role:
        client_id, _, name = ref.rpartition(":")
        query = select(Role).where(Role.name == name)
        if client_id:
            query = query.join(Client, Role.client_id == Client.id).where(
                Client.client_id == client_id)
        else:
            query = query.where(Role.client_id.is_(None))
        role = db.session.execute(query).scalar_one_or_none()
        if role is None:
            raise ImportRefused(f"{where}: the role {ref} does not exist.")
        return role

    @staticmethod
    def _exists(*conditions: Any) -> bool:
        return db.session.execute(select(1).where(*conditions).limit(1)).first() is not None


def import_document(doc: Any, on_conflict: str = "fail") -> dict[str, int]:
    """Import a whole document or nothing. ``on_conflict``: ``fail`` or ``skip``."""
    from sqlalchemy.exc import IntegrityError

    if on_conflict not in {"fail", "skip"}:
        raise InvalidInput("on_conflict must be fail or skip.")
    check_document(doc)
    importer = _Importer(on_conflict)
    try:
        importer.departments(doc)
        importer.roles(doc)
        importer.clients(doc)
        importer.users(doc)
    except IntegrityError as exc:
        db.session.rollback()
        raise ImportRefused(
            "The document holds two entries with the same key (or one that clashes with an "
            f"existing entry); nothing was imported. ({exc.orig.__class__.__name__})"
        ) from None
    except Exception:
        db.session.rollback()
        raise
    return importer.counts


# --- backup ----------------------------------------------------------------------------


def sqlite_path(database_url: str) -> str | None:
    """The file of a SQLite database URL; None for another database or an in-memory one."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return None
    return url.database if url.database and url.database != ":memory:" else None


def backup_sqlite(source: str, destination: str | os.PathLike[str]) -> int:
    """Copy a live SQLite database with the online backup API; returns its page count.

    The copy is consistent even while the provider writes: the API restarts a step
    when the source changes under it.  It is written beside the target and renamed,
    so a failed backup never leaves a half-written file under the final name.
    """
    target = Path(destination)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(partial)
    try:
        src.backup(dst, pages=1024, sleep=0.05)
        (check,) = dst.execute("PRAGMA integrity_check").fetchone()
        pages = dst.execute("PRAGMA page_count").fetchone()[0]
    finally:
        dst.close()
        src.close()
    if check != "ok":
        partial.unlink(missing_ok=True)
        raise RuntimeError(f"The copy failed its integrity check: {check}.")
    os.replace(partial, target)
    return pages
