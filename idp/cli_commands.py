"""Subcommands of ``idp``: user, client, keys, audit, serve."""

from __future__ import annotations

import json
import os
import sys

import click

from .cli import command, main
from .config import ConfigError, new_data_key

# --- idp user -----------------------------------------------------------------------


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
    from .services import users

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
    from .errors import InvalidInput
    from .models import GLOBAL_ROLES, Role
    from .services import clients, users

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
    from .extensions import db
    from .models import User

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
    from .services import audit, sessions, users

    target = users.get_user(username)
    users.disable_user(target)
    ended = sessions.end_all_sessions(target, "disabled")
    audit.record("user.disabled", actor="cli", subject=target.username)
    click.echo(f"Disabled {target.username}; ended {ended} session(s).")


@command(user, "set-password")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="The new password (asked for when not given).")
@click.option("--temporary", is_flag=True, help="Make the user change it at next sign-in.")
def user_set_password(username: str, password: str, temporary: bool) -> None:
    """Set a staff member's password; every session of theirs ends (with its logouts)."""
    from .services import audit, sessions, tokens, users

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
    from .services import throttle, users

    target = users.get_user(username)
    was_locked = throttle.unlock_user(target, actor="cli")
    click.echo(f"Unlocked {target.username}." if was_locked
               else f"{target.username} was not locked; its failure count is cleared.")


# --- idp client ---------------------------------------------------------------------


@main.group()
def client() -> None:
    """Manage client applications."""


@command(client, "create")
@click.option("--name", required=True, help="Name shown to staff.")
@click.option("--type", "client_type", type=click.Choice(["web", "spa", "native", "service"]),
              default="web", show_default=True)
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="Exact redirect URI.")
@click.option("--post-logout-redirect-uri", "post_logout", multiple=True)
@click.option("--backchannel-logout-uri")
@click.option("--frontchannel-logout-uri")
@click.option("--scope", help='Allowed scopes, e.g. "openid profile email".')
@click.option("--grant-type", "grant_types", multiple=True,
              type=click.Choice(["authorization_code", "refresh_token", "client_credentials"]))
@click.option("--auth-method", type=click.Choice(
    ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]))
@click.option("--trusted", is_flag=True, help="First-party: skips the consent page.")
@click.option("--client-id", help="Choose the client id (default: random).")
@click.option("--role", "roles", multiple=True, help="A role this application defines.")
@click.option("--jwks-uri", help="For private_key_jwt: where the client publishes its keys.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def client_create(name, client_type, redirect_uris, post_logout, backchannel_logout_uri,
                  frontchannel_logout_uri, scope, grant_types, auth_method, trusted,
                  client_id, roles, jwks_uri, as_json) -> None:
    """Register a client application; its secret is printed once."""
    from .services import audit, clients

    created, secret = clients.create_client(
        name, client_type=client_type, redirect_uris=list(redirect_uris),
        post_logout_redirect_uris=list(post_logout),
        backchannel_logout_uri=backchannel_logout_uri,
        frontchannel_logout_uri=frontchannel_logout_uri, scope=scope,
        grant_types=list(grant_types) or None, auth_method=auth_method, trusted=trusted,
        client_id=client_id, roles=list(roles), **({"jwks_uri": jwks_uri} if jwks_uri else {}),
    )
    audit.record("client.created", actor="cli", client=created.client_id)
    data = _client_dict(created)
    if secret:
        data["client_secret"] = secret
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    click.echo(f"Created client {created.client_id} ({created.name}).")
    if secret:
        click.echo(f"Client secret (shown once): {secret}")


def _client_dict(row) -> dict:
    return {
        "client_id": row.client_id, "name": row.name, "type": row.client_type,
        "token_endpoint_auth_method": row.token_endpoint_auth_method,
        "redirect_uris": row.redirect_uris,
        "post_logout_redirect_uris": row.post_logout_redirect_uris,
        "backchannel_logout_uri": row.backchannel_logout_uri,
        "frontchannel_logout_uri": row.frontchannel_logout_uri,
        "grant_types": row.grant_types, "scope": row.scope, "trusted": row.trusted,
        "enabled": row.enabled, "roles": sorted(r.name for r in row.roles),
    }


@command(client, "list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def client_list(as_json: bool) -> None:
    """List client applications."""
    from .extensions import db
    from .models import Client

    for row in db.session.execute(db.select(Client).order_by(Client.name)).scalars():
        if as_json:
            click.echo(json.dumps(_client_dict(row), ensure_ascii=False))
        else:
            state = "enabled" if row.enabled else "disabled"
            click.echo(f"{row.client_id:24} {row.client_type:8} {state:9} {row.name}")


@command(client, "show")
@click.argument("client_id")
def client_show(client_id: str) -> None:
    """Show one client application as JSON (never its secret)."""
    from .services import clients

    click.echo(json.dumps(_client_dict(clients.get_client(client_id)), ensure_ascii=False,
                          indent=2))


@command(client, "rotate-secret")
@click.argument("client_id")
@click.option("--grace", default=0, show_default=True, type=click.IntRange(0, 30 * 86400),
              help="Seconds during which the old secret still works.")
@click.option("--json", "as_json", is_flag=True)
def client_rotate_secret(client_id: str, grace: int, as_json: bool) -> None:
    """Give a client a new secret, printed once."""
    from .services import audit, clients

    row = clients.get_client(client_id)
    secret = clients.rotate_secret(row, grace)
    audit.record("client.secret_rotated", actor="cli", client=row.client_id,
                 details={"grace_seconds": grace})
    if as_json:
        click.echo(json.dumps({"client_id": row.client_id, "client_secret": secret}))
    else:
        click.echo(f"New secret of {row.client_id} (shown once): {secret}")


# --- idp keys -----------------------------------------------------------------------


@main.group()
def keys() -> None:
    """Manage the provider's signing keys."""


@command(keys, "list")
def keys_list() -> None:
    """List signing keys and their states."""
    from .extensions import db
    from .models import SigningKey

    for row in db.session.execute(db.select(SigningKey).order_by(SigningKey.id)).scalars():
        until = f" published until {row.publish_until:%Y-%m-%d %H:%M}Z" if row.publish_until else ""
        click.echo(f"{row.kid:32} {row.alg:6} {row.state:8} created {row.created_at:%Y-%m-%d %H:%M}Z{until}")


@command(keys, "rotate")
@click.option("--alg", type=click.Choice(["RS256", "ES256"]), help="Rotate only this algorithm.")
@click.option("--force", is_flag=True, help="Promote a next key even if just published.")
def keys_rotate(alg: str | None, force: bool) -> None:
    """Make the published next key active and publish a new next key."""
    from .services import audit, keys as key_service

    try:
        promoted = key_service.rotate(alg, force=force)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    for key in promoted:
        audit.record("keys.rotated", actor="cli", details={"kid": key.kid, "alg": key.alg})
        click.echo(f"{key.alg}: {key.kid} is now active.")


@keys.command("gen-data-key", context_settings={"ignore_unknown_options": False})
def keys_gen_data_key() -> None:
    """Print a new random IDP_DATA_KEY value."""
    click.echo(new_data_key())


# --- idp audit ----------------------------------------------------------------------


@main.group()
def audit() -> None:
    """Read and check the audit log."""


@command(audit, "verify")
def audit_verify() -> None:
    """Check the hash chain; report the first broken link."""
    from .services import audit as audit_service

    count, bad, reason = audit_service.verify_chain()
    if bad is not None:
        raise click.ClickException(
            f"Audit chain broken at event {bad.id} ({bad.event_type}, "
            f"{bad.created_at:%Y-%m-%d %H:%M:%S}Z): {reason}. {count - 1} earlier events verified."
        )
    click.echo(f"Audit chain intact: {count} events verified.")


# --- idp serve ----------------------------------------------------------------------


# No app context: the app would be built (and development keys generated) before the
# production settings below are checked.
@main.command("serve", with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", type=click.IntRange(1, 64),
              help="Worker processes (default: 2 × cores + 1, at most 8).")
@click.option("--dev", is_flag=True, help="Development mode (generated keys, SQLite).")
def serve(host: str, port: int, workers: int | None, dev: bool) -> None:
    """Run the provider under gunicorn (production mode unless --dev)."""
    from . import config as settings

    env = dict(os.environ)
    env.setdefault("IDP_ENV", "development" if dev else "production")
    try:
        settings.load(env, None)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    count = workers or min(2 * (os.cpu_count() or 1) + 1, 8)
    _reset_metrics_dir(env.get("PROMETHEUS_MULTIPROC_DIR"))
    # Forwarded headers are trusted by the app (IDP_TRUSTED_PROXIES, ProxyFix) only:
    # gunicorn's own default would trust X-Forwarded-Proto from any loopback peer.
    argv = [sys.executable, "-m", "gunicorn", "--workers", str(count), "--bind",
            f"{host}:{port}", "--forwarded-allow-ips", "", "--timeout", "30",
            "--graceful-timeout", "20", *_no_control_socket(), "idp.wsgi:app"]
    os.execvpe(argv[0], argv, env)


def _no_control_socket() -> list[str]:
    """gunicorn 25.1+ opens a control socket at one path per user ($XDG_RUNTIME_DIR or
    ~/.gunicorn/gunicorn.ctl): several nodes on one host would take it from each other,
    and `gunicornc` could reach the wrong one. systemd's signals manage `idp serve`."""
    import gunicorn

    return ["--no-control-socket"] if gunicorn.version_info >= (25, 1) else []


def _reset_metrics_dir(path: str | None) -> None:
    """Empty PROMETHEUS_MULTIPROC_DIR: the counters of a previous run must not add up."""
    if not path:
        return
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.unlink(os.path.join(path, name))
