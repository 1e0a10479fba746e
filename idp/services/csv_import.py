"""Bulk import of staff from the HR export (CSV): a dry run with per-row errors, then all or nothing.

Columns: username, full_name, email, department_code, title, phone, employee_number.
UTF-8 with or without a byte-order mark; the header row is row 1.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import func, select

from ..extensions import db
from ..models import OrgUnit, User, utcnow
from . import passwords, users
from .admin_audit import Actor, log
from .admin_csv import spreadsheet_cell

COLUMNS = ("username", "full_name", "email", "department_code", "title", "phone",
           "employee_number")
REQUIRED = ("username", "full_name", "email")
MAX_ROWS = 20_000
MAX_LENGTH = {"full_name": 255, "email": 255, "title": 255, "phone": 64, "employee_number": 64}


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    message: str


@dataclass
class Parsed:
    rows: list[dict[str, str]]
    errors: list[RowError]

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.rows)


def _read(content: bytes) -> tuple[list[dict[str, str]], list[RowError]]:
    try:
        # utf-8-sig drops the byte-order mark that spreadsheet programs write.
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [RowError(0, "file", _("The file is not UTF-8 text."))]
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        return [], [RowError(1, c, _("The header has no %(column)s column.", column=c)) for c in missing]
    reader.fieldnames = header
    rows = []
    for record in reader:
        if len(rows) >= MAX_ROWS:
            return [], [RowError(0, "file", _("At most %(n)d rows per file.", n=MAX_ROWS))]
        if not any((v or "").strip() for k, v in record.items() if k):
            continue  # a blank line
        row = {c: (record.get(c) or "").strip() for c in COLUMNS}
        row["_row"] = str(reader.line_num)
        rows.append(row)
    if not rows:
        return [], [RowError(0, "file", _("The file has no staff rows."))]
    return rows, []


def _existing(column, values: set[str]) -> set[str]:
    found: set[str] = set()
    items = sorted(values)
    for start in range(0, len(items), 500):
        chunk = items[start:start + 500]
        found.update(db.session.execute(select(func.lower(column)).where(func.lower(column).in_(chunk))).scalars())
    return found


def _check_row(row: dict[str, str], seen: dict[str, set], taken: dict[str, set],
               departments: set[str]) -> list[RowError]:
    number, errors = int(row["_row"]), []
    username = users.normalise_username(row["username"])
    row["username"] = username
    if not username:
        errors.append(RowError(number, "username", _("This field is required.")))
    elif not users.USERNAME_RE.match(username):
        errors.append(RowError(number, "username", _("2 to 64 lower-case letters, digits, dots, dashes or underscores.")))
    elif username in seen["username"]:
        errors.append(RowError(number, "username", _("This username appears twice in the file.")))
    elif username in taken["username"]:
        errors.append(RowError(number, "username", _("This username is taken.")))
    email = row["email"].lower()
    if not users.EMAIL_RE.match(row["email"]):
        errors.append(RowError(number, "email", _("This is not an email address.")))
    elif email in seen["email"]:
        errors.append(RowError(number, "email", _("This email appears twice in the file.")))
    elif email in taken["email"]:
        errors.append(RowError(number, "email", _("Another staff member has this email.")))
    if not row["full_name"]:
        errors.append(RowError(number, "full_name", _("This field is required.")))
    if row["department_code"] and row["department_code"] not in departments:
        errors.append(RowError(number, "department_code",
                               _("No department has the code %(code)s.", code=row["department_code"])))
    for field, limit in MAX_LENGTH.items():
        if len(row[field]) > limit:
            errors.append(RowError(number, field, _("At most %(n)d characters.", n=limit)))
    seen["username"].add(username)
    seen["email"].add(email)
    return errors


def parse(content: bytes) -> Parsed:
    """Read and check every row against the file itself and the database (the dry run)."""
    rows, errors = _read(content)
    if errors:
        return Parsed(rows=[], errors=errors)
    taken = {
        "username": _existing(User.username, {users.normalise_username(r["username"]) for r in rows}),
        "email": _existing(User.email, {r["email"].lower() for r in rows}),
    }
    departments = set(db.session.execute(select(OrgUnit.code)).scalars())
    seen: dict[str, set] = {"username": set(), "email": set()}
    for row in rows:
        errors.extend(_check_row(row, seen, taken, departments))
    return Parsed(rows=rows, errors=errors)


def import_staff(content: bytes, actor: Actor) -> tuple[Parsed, list[dict[str, str]]]:
    """Check, then create every row in one transaction. Nothing is written if any row fails.

    Returns the check and, when it passed, each new staff member's temporary password.
    """
    parsed = parse(content)
    if not parsed.ok:
        return parsed, []
    units = dict(db.session.execute(select(OrgUnit.code, OrgUnit.id)).all())
    created = []
    try:
        for row in parsed.rows:
            temporary = users.temporary_password()
            names = row["full_name"].split()
            db.session.add(User(
                username=row["username"], email=row["email"], full_name=row["full_name"],
                given_name=names[-1], family_name=names[0] if len(names) > 1 else "",
                title=row["title"], phone=row["phone"], employee_number=row["employee_number"],
                department_id=units.get(row["department_code"]),
                password_hash=passwords.hash_password(temporary), password_changed_at=utcnow(),
                must_change_password=True,
            ))
            created.append({"username": row["username"], "full_name": row["full_name"],
                            "temporary_password": temporary})
        db.session.flush()
        log(actor, "user.imported", details={"count": len(created),
                                             "usernames": [c["username"] for c in created][:1000]})
    except Exception:
        db.session.rollback()
        raise
    return parsed, created


def passwords_csv(created: list[dict[str, str]]) -> str:
    """The temporary passwords as CSV; names come from the HR file, so no cell may be a formula."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["username", "full_name", "temporary_password"])
    for item in created:
        writer.writerow([spreadsheet_cell(item[c])
                         for c in ("username", "full_name", "temporary_password")])
    return "\ufeff" + buffer.getvalue()  # a BOM so that spreadsheet programs read UTF-8
