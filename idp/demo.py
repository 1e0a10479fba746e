"""The demo: its departments, staff (with fixed TOTP secrets) and three client apps.

``idp demo`` (:mod:`idp.cli.demo`) seeds them and runs the provider with the apps.
"""

from __future__ import annotations

import os

from .extensions import db
from .models import Client, OrgUnit, User

DEMO_PASSWORD = "Demo-Password-2026"
# Fixed TOTP secrets so that the demo can print them (add them to an authenticator app,
# or compute a code with `python -c "import pyotp; print(pyotp.TOTP('...').now())"`).
TOTP_SECRETS = {"binh.tran": "JBSWY3DPEHPK3PXPBINHTRAN", "admin": "JBSWY3DPEHPK3PXPADMIN234"}

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
