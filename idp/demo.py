"""``idp demo``: the provider and the three demo apps on loopback, with demo staff."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from .cli import main
from .extensions import db
from .models import Client, OrgUnit, User

DEMO_PASSWORD = "Demo-Password-2026"

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
    for client_id, name, base, roles in APPS:
        row = db.session.execute(db.select(Client).filter_by(client_id=client_id)).scalar()
        if row is None:
            row, secret = clients.create_client(
                name, client_id=client_id, redirect_uris=[f"{base}/callback"],
                post_logout_redirect_uris=[f"{base}/"],
                backchannel_logout_uri=f"{base}/backchannel-logout",
                scope="openid profile email phone offline_access roles department",
                trusted=True, roles=roles,
            )
        else:
            secret = clients.rotate_secret(row)
        secrets[client_id] = secret
    for username, full_name, dept, title, roles, app_roles, _mfa in STAFF:
        if users.find_user(username):
            continue
        role_rows = [users.global_role(r) for r in roles]
        for client_id, names in app_roles.items():
            row = clients.get_client(client_id)
            role_rows += [r for r in row.roles if r.name in names]
        users.create_user(username, email=f"{username}@demo.gov.vn", full_name=full_name,
                          password=DEMO_PASSWORD, department=dept, title=title,
                          roles=role_rows)
    return secrets


@main.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@with_appcontext
def demo(host: str, port: int) -> None:
    """Set up the demo data and run the provider (and the demo apps) on loopback."""
    from werkzeug.serving import run_simple

    from .services import database, keys

    database.upgrade()
    keys.ensure_keys()
    seed()
    issuer = current_app.config["ISSUER"]
    click.echo(f"\nProvider:   {issuer}  (discovery: {issuer}/.well-known/openid-configuration)")
    click.echo("Staff (password for all: %s):" % DEMO_PASSWORD)
    for username, full_name, dept, title, roles, app_roles, _mfa in STAFF:
        click.echo(f"  {username:12} {full_name:22} {dept:6} {', '.join(roles)}")
    run_simple(host, port, current_app._get_current_object(), threaded=True)
