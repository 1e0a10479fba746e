"""``idp user``: staff accounts (create, list, disable, set-password, unlock)."""

from __future__ import annotations

import json

import click

from .base import CLI, command, main


@main.group()
def user() -> None:
    """Manage staff accounts."""


@command(user, "create")
@click.argument("username")
@click.option("--email", required=True, help="The staff member's email address.")
@click.option("--name", "full_name", required=True, help='Full name, e.g. "Nguyễn Văn An".')
@click.option("--department", help="Code of the staff member's department.")
@click.option("--password", help="Initial password (must pass the password policy).")
@click.option("--temporary-password", is_flag=True,
              help="Generate a temporary password, printed once; changed at first sign-in.")
@click.option("--role", "roles", multiple=True,
              help="Global role (admin, client-admin, helpdesk, auditor), or CLIENT_ID:ROLE.")
@click.option("--title", default="", help="Job title.")
@click.option("--phone", default="", help="Phone number.")
@click.option("--employee-number", default="", help="Employee number.")
def user_create(username, email, full_name, department, password, temporary_password,
                roles, title, phone, employee_number) -> None:
    """Create a staff member."""
    from ..services import users

    if password and temporary_password:
        raise click.UsageError("Give --password or --temporary-password, not both.")
    if not password and not temporary_password:
        raise click.UsageError("Give --password PASSWORD or --temporary-password.")
    role_rows = [_resolve_role(name) for name in roles]
    created, temporary = users.create_user(
        username, email=email, full_name=full_name, password=password,
        department=department, roles=role_rows, title=title, phone=phone,
        employee_number=employee_number,
    )
    click.echo(f"Created {created.username} (sub {created.sub}).")
    if temporary:
        click.echo(f"Temporary password (shown once): {temporary}")


def _resolve_role(spec: str):
    from ..errors import InvalidInput
    from ..models import GLOBAL_ROLES, Role
    from ..services import clients, users

    if ":" in spec:
        client_id, name = spec.split(":", 1)
        client = clients.get_client(client_id)
        role = next((r for r in client.roles if r.name == name), None)
        if role is None:
            role = Role(name=name, client=client)
        return role
    if spec not in GLOBAL_ROLES:
        raise InvalidInput(f"Unknown role {spec}; global roles are {', '.join(GLOBAL_ROLES)}.")
    return users.global_role(spec)


@command(user, "list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def user_list(as_json: bool) -> None:
    """List staff members."""
    from ..extensions import db
    from ..models import User

    for row in db.session.execute(db.select(User).order_by(User.username)).scalars():
        item = {
            "username": row.username, "email": row.email, "name": row.full_name,
            "department": row.department.code if row.department else None,
            "status": row.status, "roles": [r.name for r in row.roles], "sub": row.sub,
        }
        if as_json:
            click.echo(json.dumps(item, ensure_ascii=False))
        else:
            click.echo(f"{row.username:20} {row.status:9} {row.email:32} {row.full_name}")


@command(user, "disable")
@click.argument("username")
def user_disable(username: str) -> None:
    """Disable an account and end its sessions."""
    from ..services import admin_users, users

    target = users.get_user(username)
    ended = admin_users.disable(target, CLI)
    click.echo(f"Disabled {target.username}; ended {ended} session(s).")


@command(user, "set-password")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="The new password (asked for when not given).")
@click.option("--temporary", is_flag=True, help="Make the user change it at next sign-in.")
def user_set_password(username: str, password: str, temporary: bool) -> None:
    """Set a staff member's password; every session of theirs ends (with its logouts)."""
    from ..services import audit, sessions, tokens, users

    target = users.get_user(username)
    users.set_password(target, password, temporary=temporary)
    # Whoever signed in with the old password must not stay signed in.
    ended = sessions.end_all_sessions(target, "password_set")
    tokens.revoke_for_user(target)  # also those of no session
    audit.record("user.password_set", actor="cli", subject=target.username,
                 details={"sessions_ended": ended})
    click.echo(f"Password of {target.username} set; ended {ended} session(s).")


@command(user, "unlock")
@click.argument("username")
def user_unlock(username: str) -> None:
    """Lift the temporary lock (and the delays) put on an account after failed sign-ins."""
    from ..services import throttle, users

    target = users.get_user(username)
    was_locked = throttle.unlock_user(target, actor="cli")
    click.echo(f"Unlocked {target.username}." if was_locked
               else f"{target.username} was not locked; its failure count is cleared.")
