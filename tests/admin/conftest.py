"""Fixtures for the administrators' side: staff per role signed in with MFA, API tokens."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from tests.conftest import PASSWORD

MFA = {"amr": ("pwd", "otp"), "acr": "urn:idp:acr:mfa"}
ROLES = ("admin", "client-admin", "helpdesk", "auditor")


@pytest.fixture
def make_staff(app, department):
    """Create a staff member holding the given global roles."""
    from idp.services import users

    def make(username: str, *roles: str, **profile):
        created, _ = users.create_user(
            username, email=f"{username}@example.gov.vn", full_name=profile.pop("full_name", "Lê Văn Cường"),
            password=PASSWORD, department=department.code,
            roles=[users.global_role(r) for r in roles], **profile)
        return created

    return make


@pytest.fixture
def sign_in_as(make_staff, sso_login):
    """Sign the test browser in, with the second factor, as staff holding ``role``."""
    def sign_in(role: str | None, mfa: bool = True):
        name = f"staff.{(role or 'none').replace('-', '')}"
        user = make_staff(name, *([role] if role else []))
        sso_login(user, **(MFA if mfa else {}))
        return user

    return sign_in


@pytest.fixture
def csrf(app, client):
    """A valid CSRF token for the test browser's session (as a console form carries)."""
    from flask import g, session
    from flask_wtf.csrf import generate_csrf

    def token() -> str:
        with app.test_request_context():
            g.pop("csrf_token", None)  # the tests share one app context: no cached token
            value = generate_csrf()
            raw = session["csrf_token"]
        with client.session_transaction() as browser_session:
            browser_session["csrf_token"] = raw
        return value

    return token


@pytest.fixture
def automation_client(app):
    from idp.services import clients

    row, secret = clients.create_client("Tự động hoá", client_type="service", client_id="automation",
                                        scope="admin.clients admin.staff admin.audit")
    row.test_secret = secret
    return row


@pytest.fixture
def mint(app, automation_client):
    """An RFC 9068 access token for the automation client, recorded in the tokens table."""
    from idp.extensions import db
    from idp.models import Token, utcnow
    from idp.services import keys

    def make(scope: str = "admin.clients admin.staff admin.audit", *, typ: str = "at+jwt",
             ttl: int = 300, iss: str | None = None, record: bool = True, revoked: bool = False):
        now = utcnow()
        jti = uuid.uuid4().hex
        claims = {"iss": iss or app.config["ISSUER"], "sub": automation_client.client_id,
                  "client_id": automation_client.client_id, "aud": app.config["ISSUER"],
                  "iat": int(now.timestamp()), "exp": int((now + timedelta(seconds=ttl)).timestamp()),
                  "jti": jti, "scope": scope}
        if record:
            db.session.add(Token(client_id=automation_client.id, family_id=jti,
                                 grant_type="client_credentials", access_jti=jti, scope=scope,
                                 access_expires_at=now + timedelta(seconds=max(ttl, 1)),
                                 revoked_at=now if revoked else None))
            db.session.commit()
        return keys.sign(claims, typ=typ)

    return make


@pytest.fixture
def client_credentials(client, automation_client):
    """A real access token from /token (client_credentials, RFC 6749 §4.4) for ``scope``."""
    def token(scope: str) -> str:
        response = client.post("/token", data={"grant_type": "client_credentials", "scope": scope},
                               auth=("automation", automation_client.test_secret))
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()["access_token"]

    return token


@pytest.fixture
def api(client, client_credentials):
    """Call the admin API with a bearer token carrying ``scope``."""
    def call(method: str, path: str, scope: str = "admin.clients admin.staff admin.audit", **kwargs):
        headers = {"Authorization": f"Bearer {client_credentials(scope)}", **kwargs.pop("headers", {})}
        return client.open(f"/api/admin{path}", method=method, headers=headers, **kwargs)

    return call
