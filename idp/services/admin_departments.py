"""The department tree (ministry → department/agency → division) as administrators edit it."""

from __future__ import annotations

import re
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from ..errors import NotFound
from ..extensions import db
from ..models import OrgUnit
from .admin_audit import Actor, log
from .admin_fields import FieldErrors, as_bool, text

CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def tree() -> list[tuple[OrgUnit, int]]:
    """Every unit with its depth, parents before children, siblings by name."""
    units = list(db.session.execute(select(OrgUnit).order_by(OrgUnit.name)).scalars())
    children: dict[int | None, list[OrgUnit]] = {}
    for unit in units:
        children.setdefault(unit.parent_id, []).append(unit)
    ordered: list[tuple[OrgUnit, int]] = []

    def walk(parent: int | None, depth: int) -> None:
        for unit in children.get(parent, []):
            ordered.append((unit, depth))
            walk(unit.id, depth + 1)

    walk(None, 0)
    return ordered


def get(code: str) -> OrgUnit:
    unit = db.session.execute(select(OrgUnit).where(OrgUnit.code == code)).scalar_one_or_none()
    if unit is None:
        raise NotFound(_("No department has the code %(code)s.", code=code))
    return unit


def descendants(unit: OrgUnit) -> set[int]:
    """Ids of every unit below ``unit`` (one query per level)."""
    found: set[int] = set()
    frontier = [unit.id]
    while frontier:
        frontier = [row for row in db.session.execute(
            select(OrgUnit.id).where(OrgUnit.parent_id.in_(frontier))).scalars() if row not in found]
        found.update(frontier)
    return found


def _parent(data: dict, errors: dict[str, str], unit: OrgUnit | None) -> OrgUnit | None:
    code = text(data, "parent", errors)
    if not code:
        return None
    parent = db.session.execute(select(OrgUnit).where(OrgUnit.code == code)).scalar_one_or_none()
    if parent is None:
        errors["parent"] = _("No department has the code %(code)s.", code=code)
    elif unit is not None and (parent.id == unit.id or parent.id in descendants(unit)):
        errors["parent"] = _("A unit cannot be moved under itself or one of its own units.")
    return parent


def create(data: dict[str, Any], actor: Actor) -> OrgUnit:
    errors: dict[str, str] = {}
    code = text(data, "code", errors, required=True, max_length=64)
    if code and not CODE.match(code):
        errors["code"] = _("Letters, digits, dots, dashes or underscores.")
    elif code and db.session.execute(select(OrgUnit.id).where(OrgUnit.code == code)).first():
        errors["code"] = _("A department with the code %(code)s exists already.", code=code)
    name = text(data, "name", errors, required=True)
    parent = _parent(data, errors, None)
    if errors:
        raise FieldErrors(errors)
    unit = OrgUnit(code=code, name=name, parent=parent, mfa_required=as_bool(data.get("mfa_required")))
    db.session.add(unit)
    db.session.flush()
    log(actor, "department.created", details={"code": code, "parent": parent.code if parent else None})
    return unit


def update(unit: OrgUnit, data: dict[str, Any], actor: Actor) -> OrgUnit:
    """Rename, move (never under its own descendant) or change the MFA flag."""
    errors: dict[str, str] = {}
    name = text(data, "name", errors, required=True)
    parent = _parent(data, errors, unit)
    if errors:
        raise FieldErrors(errors)
    details = {"code": unit.code}
    if name != unit.name:
        details["renamed"] = {"from": unit.name, "to": name}
    if (parent.id if parent else None) != unit.parent_id:
        details["moved_under"] = parent.code if parent else None
    unit.name, unit.parent = name, parent
    unit.mfa_required = as_bool(data.get("mfa_required"))
    details["mfa_required"] = unit.mfa_required
    db.session.flush()
    log(actor, "department.updated", details=details)
    return unit


def as_dict(unit: OrgUnit) -> dict[str, Any]:
    return {"code": unit.code, "name": unit.name,
            "parent": unit.parent.code if unit.parent else None, "mfa_required": unit.mfa_required}
