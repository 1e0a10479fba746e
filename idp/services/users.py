"""Staff accounts, departments and role assignments."""

from __future__ import annotations

import re
import secrets
import string

from flask_babel import gettext as _
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import lazyload

from ..errors import Conflict, InvalidInput, NotFound
from ..extensions import db
from ..models import OrgUnit, PasswordResetToken, Role, User, utcnow
from . import passwords

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalise_username(username: str) -> str:
    return (username or "").strip().lower()


def temporary_password() -> str:
    """A random password of 16 characters that passes the policy."""
    alphabet = string.ascii_letters + string.digits
    return "-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(3)) + "a"


def find_user(identifier: str) -> User | None:
    """A user by username or email (case-insensitive)."""
    ident = (identifier or "").strip().lower()
    if not ident:
        return None
    # The roles are read when used, not with the row: finding someone must cost what
    # finding no one costs (sign-in and reset answers take the same time, i11 #10).
    return db.session.execute(
        select(User).where(or_(User.username == ident, func.lower(User.email) == ident))
        .options(lazyload(User.roles))
    ).scalar_one_or_none()


def get_user(username: str) -> User:
    user = find_user(username)
    if user is None:
        raise NotFound(_("No staff member is called %(name)s.", name=username))
    return user


def get_department(code: str) -> OrgUnit:
    unit = db.session.execute(select(OrgUnit).where(OrgUnit.code == code)).scalar_one_or_none()
    if unit is None:
        raise NotFound(_("No department has the code %(code)s.", code=code))
    return unit


def create_department(code: str, name: str, parent_code: str | None = None) -> OrgUnit:
    code = (code or "").strip()
    if not code or not name:
        raise InvalidInput(_("A department needs a code and a name."))
    if db.session.execute(select(OrgUnit).where(OrgUnit.code == code)).first():
        raise Conflict(_("A department with the code %(code)s exists already.", code=code))
    parent = get_department(parent_code) if parent_code else None
    unit = OrgUnit(code=code, name=name.strip(), parent=parent)
    db.session.add(unit)
    db.session.flush()
    return unit


def global_role(name: str) -> Role:
    role = db.session.execute(
        select(Role).where(Role.name == name, Role.client_id.is_(None))
    ).scalar_one_or_none()
    if role is None:
        role = Role(name=name, client_id=None)
        db.session.add(role)
        db.session.flush()
    return role


def create_user(
    username: str,
    *,
    email: str,
    full_name: str,
    password: str | None = None,
    temporary: bool = False,
    department: str | None = None,
    roles: list[Role] | None = None,
    check_policy: bool = True,
    **profile: str,
) -> tuple[User, str | None]:
    """Create a staff member. Returns the user and the temporary password, if one was made."""
    username = normalise_username(username)
    if not USERNAME_RE.match(username):
        raise InvalidInput(_("A username has 2 to 64 letters, digits, dots, dashes or underscores."))
    email = (email or "").strip()
    if not EMAIL_RE.match(email):
        raise InvalidInput(_("%(email)s is not an email address.", email=email))
    if not (full_name or "").strip():
        raise InvalidInput(_("The full name is required."))
    if find_user(username) or find_user(email):
        raise Conflict(_("A staff member with this username or email exists already."))
    made = None
    if password is None:
        password, made, temporary = temporary_password(), None, True
        made = password
    elif check_policy:
        passwords.check_policy(password, username=username, email=email)
    unit = get_department(department) if department else None
    names = full_name.strip().split()
    user = User(
        username=username, email=email, full_name=full_name.strip(), department=unit,
        given_name=profile.pop("given_name", names[-1] if names else ""),
        family_name=profile.pop("family_name", names[0] if len(names) > 1 else ""),
        password_hash=passwords.hash_password(password), password_changed_at=utcnow(),
        must_change_password=temporary, **profile,
    )
    user.roles = list(roles or [])
    db.session.add(user)
    db.session.flush()
    return user, made


def set_password(user: User, password: str, *, temporary: bool = False,
                 check_policy: bool = True) -> None:
    if check_policy:
        passwords.check_policy(password, username=user.username, email=user.email)
    user.password_hash = passwords.hash_password(password)
    user.password_changed_at = utcnow()
    user.must_change_password = temporary
    # A reset link asked for before the change must not undo it (ASVS 2.5: links die
    # with the password they were sent for), whoever changed it.
    db.session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.user_id == user.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=utcnow())
    )
