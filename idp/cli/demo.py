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

from ..demo import APP_MODULES, APPS, DEMO_PASSWORD, STAFF, TOTP_SECRETS, app_url, seed
from .base import main

ROOT = Path(__file__).resolve().parents[2]  # the demo apps run from the checkout


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

    from ..services import database, keys

    database.upgrade()
    with database.unit_of_work():  # the demo's data in one transaction, before serving
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
