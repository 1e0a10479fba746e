"""``idp demo``: the provider and the three demo apps on loopback, with demo staff."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import click
from flask import current_app
from flask.cli import with_appcontext

from .cli import main
from .extensions import db
from .models import Client, OrgUnit, User

DEMO_PASSWORD = "Demo-Password-2026"
# Fixed TOTP secrets so that the demo can print them (add them to an authenticator app,
# or compute a code with `python -c "import pyotp; print(pyotp.TOTP('...').now())"`).
TOTP_SECRETS = {"binh.tran": "JBSWY3DPEHPK3PXPBINHTRAN", "admin": "JBSWY3DPEHPK3PXPADMIN234"}

ROOT = Path(__file__).resolve().parent.parent
APP_MODULES = {"docs": ("clients.docs_app", "DOCS"), "webmail": ("clients.webmail", "WEBMAIL"),
               "onestop": ("clients.onestop", "ONESTOP")}

DEPARTMENTS = [
    ("BNV", "Bộ Nội vụ", None),
    ("VP", "Văn phòng Bộ", "BNV"),
    ("VP-HC", "Phòng Hành chính", "VP"),
    ("TCCB", "Vụ Tổ chức cán bộ", "BNV"),
]

# username, full name, department, title, global roles, {client_id: [roles]}, with MFA
STAFF = [
    ("an.nguyen", "Nguyễn Văn An", "VP", "Chuyên viên", [],
     {"docs": ["clerk"], "onestop": ["officer"]}, False),
    ("binh.tran", "Trần Thị Bình", "VP", "Chánh Văn phòng", [],
     {"docs": ["leader"], "onestop": ["approver"]}, True),
    ("cuong.le", "Lê Văn Cường", "TCCB", "Chuyên viên", [], {"docs": ["clerk"]}, False),
    ("admin", "Quản trị hệ thống", "BNV", "Quản trị viên", ["admin"], {}, True),
]

APPS = [
    ("docs", "Quản lý văn bản và điều hành", "http://127.0.0.2:5001", ["clerk", "leader"]),
    ("webmail", "Thư điện tử", "http://127.0.0.3:5002", []),
    ("onestop", "Một cửa", "http://127.0.0.4:5003", ["officer", "approver"]),
]


def seed() -> dict[str, str]:
    """Create the demo data if missing; returns fresh secrets of the demo clients."""
    from .services import clients, users

    for code, name, parent in DEPARTMENTS:
        if not db.session.execute(db.select(OrgUnit).filter_by(code=code)).first():
            users.create_department(code, name, parent)
    secrets = {}
    for client_id, name, default_base, roles in APPS:
        base = app_url(client_id, default_base)
        row = db.session.execute(db.select(Client).filter_by(client_id=client_id)).scalar()
        if row is None:
            row, secret = clients.create_client(
                name, client_id=client_id, redirect_uris=[f"{base}/auth/callback"],
                post_logout_redirect_uris=[f"{base}/auth/logged-out"],
                backchannel_logout_uri=f"{base}/auth/backchannel-logout",
                scope="openid profile email phone offline_access roles department",
                trusted=True, roles=roles,
            )
        else:
            secret = clients.rotate_secret(row)
        secrets[client_id] = secret
    for username, full_name, dept, title, roles, app_roles, mfa in STAFF:
        if users.find_user(username):
            continue
        role_rows = [users.global_role(r) for r in roles]
        for client_id, names in app_roles.items():
            row = clients.get_client(client_id)
            role_rows += [r for r in row.roles if r.name in names]
        created, _ = users.create_user(
            username, email=f"{username}@demo.gov.vn", full_name=full_name,
            password=DEMO_PASSWORD, department=dept, title=title, roles=role_rows)
        if mfa:
            _enrol_totp(created)
    return secrets


def app_url(client_id: str, default: str) -> str:
    """A demo app's base URL: ``DOCS_URL``, ``WEBMAIL_URL``, ``ONESTOP_URL`` (as the apps read)."""
    return os.environ.get(f"{APP_MODULES[client_id][1]}_URL", default).rstrip("/")


def _enrol_totp(user: User) -> None:
    """Give a demo user a confirmed TOTP factor with a secret the demo prints."""
    from .models import TotpCredential, utcnow
    from .services.crypto import encrypt

    db.session.add(TotpCredential(user_id=user.id, secret_encrypted=encrypt(TOTP_SECRETS[user.username]),
                                  confirmed_at=utcnow()))
    db.session.commit()


@main.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--with-apps/--no-apps", default=True, show_default=True,
              help="Also start the three demo apps on 127.0.0.2-4.")
@click.option("--secrets-file", type=click.Path(dir_okay=False, writable=True),
              help="Write the demo clients' fresh secrets there as JSON {client_id: secret}.")
@with_appcontext
def demo(host: str, port: int, with_apps: bool, secrets_file: str | None) -> None:
    """Set up the demo data and run the provider (and the demo apps) on loopback."""
    from werkzeug.serving import run_simple

    from .services import database, keys

    database.upgrade()
    keys.ensure_keys()
    secrets = seed()
    if secrets_file:  # for apps started apart, e.g. by the end-to-end tests
        _write_secrets(Path(secrets_file), secrets)
    issuer = current_app.config["ISSUER"]
    children = _start_apps(issuer, secrets) if with_apps else []
    try:
        _print_banner(issuer)
        run_simple(host, port, current_app._get_current_object(), threaded=True)
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(timeout=10)


def _write_secrets(path: Path, secrets: dict[str, str]) -> None:
    """Write the secrets readable by the owner only, atomically (a reader never sees half)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(secrets, out)
    os.replace(tmp, path)


def _start_apps(issuer: str, secrets: dict[str, str]) -> list[subprocess.Popen]:
    """Start the three demo apps, each on its own loopback address (own cookie jar)."""
    env = dict(os.environ, SSO_ISSUER=issuer)
    env.pop("FLASK_RUN_FROM_CLI", None)  # else the apps' app.run() would be a no-op
    for client_id, _name, base, _roles in APPS:
        prefix = APP_MODULES[client_id][1]
        env[f"{prefix}_CLIENT_SECRET"] = secrets[client_id]
        env[f"{prefix}_URL"] = app_url(client_id, base)
        env[f"{prefix}_ISSUER"] = issuer
    children = []
    for client_id, _name, base, _roles in APPS:
        module = APP_MODULES[client_id][0]
        parts = urlsplit(app_url(client_id, base))
        children.append(subprocess.Popen(
            [sys.executable, "-m", module, "--host", parts.hostname, "--port", str(parts.port)],
            env=env, cwd=ROOT,
        ))
    return children


def _print_banner(issuer: str) -> None:
    click.echo("\n" + "=" * 72)
    click.echo(f"Provider:   {issuer}   (my account: {issuer}/account, admin: {issuer}/admin)")
    click.echo(f"Discovery:  {issuer}/.well-known/openid-configuration")
    for client_id, name, base, _roles in APPS:
        click.echo(f"App:        {app_url(client_id, base):24} {name}")
    click.echo(f"\nStaff accounts (password for all: {DEMO_PASSWORD}):")
    for username, full_name, dept, title, roles, app_roles, mfa in STAFF:
        granted = ", ".join(roles + [f"{c}:{r}" for c, rs in app_roles.items() for r in rs])
        click.echo(f"  {username:10} {full_name:20} {dept:5} {granted}")
        if mfa:
            click.echo(f"  {'':10} TOTP secret {TOTP_SECRETS[username]} (second factor)")
    click.echo("=" * 72 + "\n")
