"""What the hot paths promise: cacheable discovery and JWKS documents, a SQLite set up
for several workers, and a bounded number of SQL statements per token request
(a regression here shows as a slower token endpoint in bench/)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import event, text

from idp.extensions import db
from idp.services import keys


@pytest.mark.parametrize(("path", "mimetype"), [
    ("/.well-known/openid-configuration", "application/json"),
    ("/jwks", "application/jwk-set+json"),
])
def test_documents_carry_an_etag_and_answer_304_when_unchanged(client, path, mimetype):
    first = client.get(path)
    assert first.status_code == 200 and first.mimetype == mimetype
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"].startswith("public, max-age=")
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == first.headers["Cache-Control"]
    other = client.get(path, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.get_json() == first.get_json()


def test_jwks_etag_changes_when_a_key_is_rotated(app, client):
    before = client.get("/jwks")
    keys.rotate("ES256", force=True)
    after = client.get("/jwks", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert after.headers["ETag"] != before.headers["ETag"]
    kids = {k["kid"] for k in after.get_json()["keys"]}
    assert {k["kid"] for k in before.get_json()["keys"]} < kids


def test_sqlite_uses_wal_and_enforces_foreign_keys(app):
    if db.engine.dialect.name != "sqlite":
        assert db.engine.dialect.name == "postgresql"  # nothing to set up there
        return
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000


class Statements:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *_args) -> None:
        self.count += 1


@pytest.fixture
def statements(app):
    counter = Statements()
    event.listen(db.engine, "before_cursor_execute", counter)
    yield counter
    event.remove(db.engine, "before_cursor_execute", counter)


def _basic(client_id: str, secret: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def _code_flow(client, rp, scope: str) -> dict:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    response = client.get("/authorize", query_string={
        "response_type": "code", "client_id": rp.client_id, "redirect_uri": rp.redirect_uri,
        "scope": scope, "state": "s", "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256"})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    code = parse_qs(urlsplit(response.headers["Location"]).query)["code"][0]
    response = client.post("/token", headers=_basic(rp.client_id, rp.client_secret), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri,
        "code_verifier": verifier})
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.get_json()


def test_client_credentials_runs_at_most_five_statements(client, service_client, statements):
    headers = _basic(service_client.client_id, service_client.client_secret)
    client.post("/token", data={"grant_type": "client_credentials"}, headers=headers)  # keys loaded
    statements.count = 0
    response = client.post("/token", data={"grant_type": "client_credentials"}, headers=headers)
    assert response.status_code == 200 and response.get_json()["token_type"] == "Bearer"
    # client, token row, chain lock (SQLite), chain head, audit event
    assert statements.count <= 5


def test_refresh_and_userinfo_run_few_statements(client, confidential_client, user, sso_login,
                                                 statements):
    sso_login(user)
    tokens = _code_flow(client, confidential_client, "openid profile offline_access")
    # Each request in production starts with an empty session; the test's requests share
    # the test's, whose rows the last request's commit expired (reloading them costs
    # statements no real request makes).
    sub = user.sub
    db.session.remove()
    statements.count = 0
    response = client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert response.status_code == 200 and response.get_json()["sub"] == sub
    assert statements.count <= 2  # the token with its user and client; the code's claims request
    statements.count = 0
    response = client.post("/token", data={"grant_type": "refresh_token",
                                           "refresh_token": tokens["refresh_token"]},
                           headers=_basic(confidential_client.client_id,
                                          confidential_client.client_secret))
    assert response.status_code == 200 and "id_token" in response.get_json()
    assert statements.count <= 10
