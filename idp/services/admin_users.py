"""Staff accounts as administrators manage them: search, profile, status, credentials, roles."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, or_, select

from ..errors import Forbidden
from ..extensions import db
from ..models import (GLOBAL_ROLES, OrgUnit, RecoveryCode, Role, ThrottleCounter, TotpCredential,
                      User, utcnow)
from . import database, sessions, tokens, users
from .admin_audit import Actor, Page, log, paginate
from .admin_fields import FieldErrors, text

PROFILE_FIELDS = ("full_name", "email", "title", "phone", "employee_number")


# --- who may touch an account -------------------------------------------------------------
#
# An account holding a global role (admin, client-admin, helpdesk, auditor) is privileged:
# whoever can reset its password or second factor, change its email or status, or hand out
# global roles can act as an administrator. Only a full administrator (console: the admin role;
# API: every admin scope) may, so a helpdesk or an admin.staff-only program cannot escalate.


class ProtectedAccount(Forbidden):
    """The account holds (or is given) a global role and the caller is not a full administrator."""

    description = _l("Only an administrator may do this to an account with an admin role.")


def guard(user: User, actor: Actor, operation: str, *, grants_global_role: bool = False) -> User:
    """Refuse (and audit) ``operation`` on a privileged account unless ``actor`` is a full admin."""
    if (user.global_roles() or grants_global_role) and not actor.full_admin:
        log(actor, "user.change_refused", subject=user.username, outcome="failure",
            details={"operation": operation, "reason": "global_role"})
        database.commit_before_error()  # the error page rolls back; the event stays
        raise ProtectedAccount()
    return user


def search(q: str = "", page: int = 1, per_page: int = 50) -> Page:
    """Staff matching ``q`` in username, name, email or employee number, one page at a time."""
    query = select(User).order_by(User.username, User.id)
    term = (q or "").strip().lower()
    if term:
        like = f"%{term.replace('%', '').replace('_', '')}%"
        query = query.where(or_(
            User.username.like(like), func.lower(User.full_name).like(like),
            func.lower(User.email).like(like), func.lower(User.employee_number).like(like),
        ))
    return paginate(query, page, per_page)


def get(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        from ..errors import NotFound

        raise NotFound(_("No such staff member."))
    return user


def by_username(username: str) -> User:
    return users.get_user(username)


def _department_id(code: str, errors: dict[str, str]) -> int | None:
    if not code:
        return None
    unit = db.session.execute(select(OrgUnit).where(OrgUnit.code == code)).scalar_one_or_none()
    if unit is None:
        errors["department"] = _("No department has the code %(code)s.", code=code)
        return None
    return unit.id


def validate_profile(data: dict[str, Any], *, current: User | None = None) -> dict[str, Any]:
    """Check the editable profile fields; returns them or raises FieldErrors."""
    errors: dict[str, str] = {}
    clean = {name: text(data, name, errors, required=name in ("full_name", "email"))
             for name in PROFILE_FIELDS}
    if clean["email"] and not users.EMAIL_RE.match(clean["email"]):
        errors["email"] = _("%(email)s is not an email address.", email=clean["email"])
    elif clean["email"]:
        other = users.find_user(clean["email"])
        if other is not None and other is not current:
            errors["email"] = _("Another staff member has this email.")
    clean["department_id"] = _department_id(text(data, "department", errors), errors)
    if current is None:
        username = users.normalise_username(text(data, "username", errors, required=True))
        if username and not users.USERNAME_RE.match(username):
            errors["username"] = _("2 to 64 lower-case letters, digits, dots, dashes or underscores.")
        elif username and users.find_user(username):
            errors["username"] = _("This username is taken.")
        clean["username"] = username
    if errors:
        raise FieldErrors(errors)
    return clean


def create(data: dict[str, Any], actor: Actor) -> tuple[User, str]:
    """Create a staff member with a temporary password (returned once, changed at sign-in)."""
    clean = validate_profile(data)
    unit = db.session.get(OrgUnit, clean.pop("department_id")) if clean.get("department_id") else None
    user, temporary = users.create_user(
        clean.pop("username"), email=clean.pop("email"), full_name=clean.pop("full_name"),
        department=unit.code if unit else None, **clean,
    )
    log(actor, "user.created", subject=user.username)
    return user, temporary or ""


def update(user: User, data: dict[str, Any], actor: Actor) -> User:
    guard(user, actor, "update")
    clean = validate_profile(data, current=user)
    changed = sorted(k for k, v in clean.items() if getattr(user, k) != v)
    for key, value in clean.items():
        setattr(user, key, value)
    db.session.flush()
    log(actor, "user.updated", subject=user.username, details={"fields": changed})
    return user


def disable(user: User, actor: Actor) -> int:
    """Disable an account and end its sessions; the one way to do it (console, API and
    ``idp user disable``). Returns how many sessions ended."""
    if actor.name == user.username:
        raise Forbidden(_("You cannot disable your own account."))
    guard(user, actor, "set_enabled")
    user.status = "disabled"
    # A disabled account keeps no session (ASVS 3.3.x); their tokens die with them.
    ended = sessions.end_all_sessions(user, "disabled")
    log(actor, "user.disabled", subject=user.username)
    return ended


def enable(user: User, actor: Actor) -> None:
    guard(user, actor, "set_enabled")
    user.status = "active"
    log(actor, "user.enabled", subject=user.username)


def unlock(user: User, actor: Actor) -> None:
    """Lift a sign-in lock: the account's counters and the shared throttle row."""
    guard(user, actor, "unlock")
    try:  # the sign-in side owns the counters (database or Redis) when it is installed
        from .throttle import unlock_user
    except ImportError:
        unlock_user = None
    user.failed_logins = 0
    if unlock_user is not None:
        unlock_user(user, actor.name)  # audited there as account.unlock
    else:
        user.locked_until = None
        db.session.execute(delete(ThrottleCounter).where(ThrottleCounter.key == f"user:{user.id}"))
        log(actor, "account.unlock", subject=user.username)


def reset_password(user: User, actor: Actor) -> str:
    """Give a temporary password (returned once), to be changed at the next sign-in."""
    guard(user, actor, "reset_password")
    temporary = users.temporary_password()
    users.set_password(user, temporary, temporary=True, check_policy=False)
    sessions.end_all_sessions(user, "admin_revoked")
    tokens.revoke_for_user(user)
    log(actor, "user.password_reset", subject=user.username)
    return temporary


def reset_mfa(user: User, actor: Actor) -> None:
    """Remove the second factor; the staff member enrols again at the next sign-in."""
    guard(user, actor, "reset_mfa")
    db.session.execute(delete(TotpCredential).where(TotpCredential.user_id == user.id))
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    sessions.end_all_sessions(user, "admin_revoked")
    tokens.revoke_for_user(user)
    log(actor, "user.mfa_reset", subject=user.username)


def end_sessions(user: User, actor: Actor) -> int:
    guard(user, actor, "end_sessions")
    count = sessions.end_all_sessions(user, "admin_revoked")
    log(actor, "user.sessions_ended", subject=user.username, details={"count": count})
    return count


def has_mfa(user: User) -> bool:
    return db.session.execute(
        select(TotpCredential.id).where(TotpCredential.user_id == user.id,
                                        TotpCredential.confirmed_at.is_not(None))
    ).first() is not None


def client_roles() -> list[Role]:
    """Every role that a client application defines, for the assignment form."""
    return list(db.session.execute(
        select(Role).where(Role.client_id.is_not(None)).order_by(Role.client_id, Role.name)
    ).scalars())


def check_roles(user: User, global_names: list[str], actor: Actor) -> None:
    """Refuse a role change :func:`set_roles` would refuse, before anything else is changed."""
    unknown = [name for name in global_names if name not in GLOBAL_ROLES]
    if unknown:
        raise FieldErrors({"roles": _("Unknown role %(name)s.", name=unknown[0])})
    if actor.name == user.username and "admin" in user.global_roles() and "admin" not in global_names:
        raise Forbidden(_("You cannot remove your own admin role."))
    # Global roles are given and taken by a full administrator only.
    guard(user, actor, "set_roles",
          grants_global_role=sorted(set(global_names)) != user.global_roles())


def set_roles(user: User, global_names: list[str], client_role_ids: list[int], actor: Actor) -> None:
    """Replace the user's global and per-client roles."""
    check_roles(user, global_names, actor)
    chosen = [users.global_role(name) for name in dict.fromkeys(global_names)]
    if client_role_ids:
        found = list(db.session.execute(
            select(Role).where(Role.id.in_(client_role_ids), Role.client_id.is_not(None))
        ).scalars())
        if len(found) != len(set(client_role_ids)):
            raise FieldErrors({"client_roles": _("Unknown client role.")})
        chosen += found
    before = sorted(_role_label(r) for r in user.roles)
    user.roles = chosen
    user.updated_at = utcnow()
    db.session.flush()
    log(actor, "user.roles_changed", subject=user.username,
        details={"before": before, "after": sorted(_role_label(r) for r in chosen)})


def _role_label(role: Role) -> str:
    return role.name if role.client_id is None else f"{role.client.client_id}:{role.name}"


def as_dict(user: User) -> dict[str, Any]:
    return {
        "id": user.id, "sub": user.sub, "username": user.username, "email": user.email,
        "full_name": user.full_name, "title": user.title, "phone": user.phone,
        "employee_number": user.employee_number,
        "department": user.department.code if user.department else None,
        "status": user.status, "locked": bool(user.locked_until and user.locked_until > utcnow()),
        "must_change_password": user.must_change_password,
        "roles": sorted(_role_label(r) for r in user.roles),
        "last_login_at": user.last_login_at.isoformat() if user.last_login_at else None,
    }
