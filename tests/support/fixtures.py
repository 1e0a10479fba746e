"""Fixtures that tests of more than one area use, registered for the whole suite by
``pytest_plugins`` in tests/conftest.py (area conftests hold the area's own)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from email import message_from_bytes, policy

import pytest

from idp.extensions import db

from tests.support.browser import Browser, Phone, code_at
from tests.support.clients import register
from tests.support.constants import MFA, PASSWORD
from tests.support.net import Mailbox, free_port

# --- the sign-in side: a browser, an authenticator, a mailbox, a Redis ----------------------


@pytest.fixture
def browser(app, client) -> Browser:
    return Browser(client, app)


@pytest.fixture
def phone(app, user) -> Phone:
    """Give ``user`` a confirmed authenticator (enrolled with the previous step's code)."""
    from idp.services import mfa

    secret = mfa.new_secret()
    codes = mfa.enrol(user, secret, code_at(secret, -1))
    assert codes is not None
    db.session.commit()  # the test is the boundary for what it sets up by hand
    return Phone(secret, codes)


@pytest.fixture
def mailbox(app):
    """An aiosmtpd server on 127.0.0.1:<free port>; the app sends its mail there."""
    from aiosmtpd.controller import Controller

    box = Mailbox()

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            box.messages.append(message_from_bytes(envelope.content, policy=policy.default))
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port)
    yield box
    controller.stop()


@pytest.fixture
def redis_url(app):
    """A throwaway redis-server on a free port, used as the shared counter store."""
    import shutil
    import subprocess
    import time

    import redis

    binary = shutil.which("redis-server")
    assert binary, "redis-server is needed for the Redis counter tests"
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis.from_url(url).ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
    app.config["REDIS_URL"] = url
    yield url
    proc.terminate()
    proc.wait(timeout=10)


# --- relying parties that sign their client assertions (RFC 7523) --------------------------


@pytest.fixture
def rsa_client_key():
    from joserfc.jwk import RSAKey

    return RSAKey.generate_key(2048, parameters={"kid": "rp-key-1", "alg": "RS256", "use": "sig"},
                               private=True)


@pytest.fixture
def jwt_client(app, rsa_client_key):
    """A confidential client that authenticates with private_key_jwt (keys registered inline)."""
    return register("Một cửa", client_type="web", client_id="one-stop",
                    redirect_uris=["http://127.0.0.4:5003/callback"], auth_method="private_key_jwt",
                    scope="openid profile", jwks={"keys": [rsa_client_key.as_dict(private=False)]})


# --- administrators: staff per role signed in with MFA, API tokens --------------------------


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
