"""Dynamic client registration (RFC 7591) and its management protocol (RFC 7592)."""

from datetime import timedelta

import pytest

from idp.extensions import db
from idp.models import AuditEvent, Client, InitialAccessToken, utcnow
from idp.services import clients, registration
from idp.services.admin_audit import Actor

META = {"client_name": "Lịch công tác", "redirect_uris": ["https://lich.example.gov.vn/cb"],
        "post_logout_redirect_uris": ["https://lich.example.gov.vn/"],
        "grant_types": ["authorization_code", "refresh_token"], "scope": "openid profile",
        "token_endpoint_auth_method": "client_secret_basic", "software_id": "ignored-extension"}


@pytest.fixture
def initial_token(app):
    _, token = registration.issue_initial_token("CI", 3600, Actor("binh.tran"))
    db.session.commit()
    return token


def _register(client, token, meta=None):
    return client.post("/register", json=META if meta is None else meta,
                       headers={"Authorization": f"Bearer {token}"})


def test_discovery_advertises_the_endpoint(client):
    meta = client.get("/.well-known/openid-configuration").get_json()
    assert meta["registration_endpoint"] == "http://127.0.0.1:5000/register"


def test_register_returns_credentials_and_metadata(client, initial_token):
    response = _register(client, initial_token)
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    for key in ("client_id", "client_secret", "client_id_issued_at", "registration_access_token",
                "registration_client_uri"):
        assert body[key]
    assert body["client_secret_expires_at"] == 0
    assert body["registration_client_uri"] == f"http://127.0.0.1:5000/register/{body['client_id']}"
    assert body["redirect_uris"] == META["redirect_uris"] and body["client_name"] == "Lịch công tác"
    assert "software_id" not in body  # RFC 7591 §2: unknown metadata is ignored
    row = clients.get_client(body["client_id"])
    assert clients.check_secret(row, body["client_secret"]) and not row.trusted
    assert row.registration_token_hash and body["registration_access_token"] not in row.registration_token_hash
    assert db.session.query(AuditEvent).filter_by(event_type="client.registered").one().client == row.client_id


def test_public_native_client(client, initial_token):
    response = _register(client, initial_token, {
        "client_name": "App", "redirect_uris": ["vn.gov.example.app:/cb"],
        "token_endpoint_auth_method": "none", "application_type": "native"})
    assert response.status_code == 201
    body = response.get_json()
    assert "client_secret" not in body and body["application_type"] == "native"
    assert clients.get_client(body["client_id"]).client_type == "native"


def test_an_initial_token_is_single_use(client, initial_token):
    assert _register(client, initial_token).status_code == 201
    again = _register(client, initial_token)
    assert again.status_code == 401 and again.get_json()["error"] == "invalid_token"
    assert again.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc"])
def test_missing_or_unknown_initial_token_is_401(client, app, header):
    headers = {"Authorization": header} if header else {}
    response = client.post("/register", json=META, headers=headers)
    assert response.status_code == 401 and response.get_json()["error"] == "invalid_token"
    assert db.session.query(Client).count() == 0


def test_expired_initial_token_is_401(client, initial_token):
    row = db.session.query(InitialAccessToken).one()
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert _register(client, initial_token).status_code == 401


@pytest.mark.parametrize("meta,error,fragment", [
    ({"redirect_uris": ["http://lich.example.gov.vn/cb"]}, "invalid_redirect_uri", "https"),
    ({"redirect_uris": ["https://lich.example.gov.vn/cb#x"]}, "invalid_redirect_uri", "fragment"),
    ({"redirect_uris": ["https://*.example.gov.vn/cb"]}, "invalid_redirect_uri", "wildcard"),
    ({"redirect_uris": []}, "invalid_redirect_uri", "redirect URI"),
    ({"post_logout_redirect_uris": ["http://x.example/"]}, "invalid_redirect_uri", "https"),
    ({"grant_types": ["password"]}, "invalid_client_metadata", "password"),
    ({"token_endpoint_auth_method": "private_key_jwt"}, "invalid_client_metadata", "private_key_jwt"),
    ({"scope": "openid admin.staff"}, "invalid_client_metadata", "admin"),
    ({"id_token_signed_response_alg": "none"}, "invalid_client_metadata", "RS256"),
    ({"response_types": ["token"]}, "invalid_client_metadata", "code"),
])
def test_invalid_metadata_is_400_and_spends_nothing(client, initial_token, meta, error, fragment):
    response = client.post("/register?lang=en", json={**META, **meta},
                           headers={"Authorization": f"Bearer {initial_token}"})
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == error and fragment in body["error_description"]
    assert db.session.query(InitialAccessToken).one().used_at is None


def test_body_that_is_not_json_is_invalid_client_metadata(client, initial_token):
    response = client.post("/register", data="x", headers={"Authorization": f"Bearer {initial_token}",
                                                           "Content-Type": "application/json"})
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_client_metadata"


@pytest.fixture
def registered(client, initial_token):
    return _register(client, initial_token).get_json()


def _manage(client, method, registered, token=None, **kwargs):
    return client.open(f"/register/{registered['client_id']}", method=method,
                       headers={"Authorization": f"Bearer {token or registered['registration_access_token']}"},
                       **kwargs)


def test_read_the_registration(client, registered):
    response = _manage(client, "GET", registered)
    assert response.status_code == 200
    body = response.get_json()
    assert body["client_id"] == registered["client_id"] and body["redirect_uris"] == META["redirect_uris"]
    assert "client_secret" not in body and "registration_access_token" not in body


def test_replace_the_registration(client, registered):
    meta = {**META, "client_id": registered["client_id"], "client_name": "Lịch họp",
            "redirect_uris": ["https://lich.example.gov.vn/callback"]}
    response = _manage(client, "PUT", registered, json=meta)
    assert response.status_code == 200
    assert response.get_json()["redirect_uris"] == ["https://lich.example.gov.vn/callback"]
    assert clients.get_client(registered["client_id"]).name == "Lịch họp"
    bad = _manage(client, "PUT", registered, json={**meta, "redirect_uris": ["http://evil.example/cb"]})
    assert bad.status_code == 400 and bad.get_json()["error"] == "invalid_redirect_uri"
    other = _manage(client, "PUT", registered, json={**meta, "client_id": "someone-else"})
    assert other.status_code == 400 and other.get_json()["error"] == "invalid_client_metadata"


def test_a_registration_token_opens_only_its_own_client(client, registered, confidential_client):
    response = client.get("/register/docs",
                          headers={"Authorization": f"Bearer {registered['registration_access_token']}"})
    assert response.status_code == 401
    assert _manage(client, "GET", registered, token="wrong").status_code == 401


def test_delete_the_registration(client, registered):
    assert _manage(client, "DELETE", registered).status_code == 204
    assert db.session.query(Client).filter_by(client_id=registered["client_id"]).first() is None
    assert _manage(client, "GET", registered).status_code == 401


def test_console_issues_initial_tokens_once(client, sign_in_as, csrf):
    sign_in_as("client-admin")
    response = client.post("/admin/registration-tokens", data={"description": "Đội phát triển",
                                                                "ttl_hours": "4", "csrf_token": csrf()})
    assert response.status_code == 201
    page = response.get_data(as_text=True)
    token = page.split('class="secret">')[1].split("<")[0]
    assert "Đội phát triển" in page
    assert token not in client.get("/admin/registration-tokens").get_data(as_text=True)
    assert _register(client, token).status_code == 201
    bad = client.post("/admin/registration-tokens", data={"ttl_hours": "0", "csrf_token": csrf()})
    assert bad.status_code == 422 and "Từ một phút đến 30 ngày." in bad.get_data(as_text=True)


def test_console_revokes_an_initial_token(client, sign_in_as, csrf, initial_token):
    sign_in_as("admin")
    row = db.session.query(InitialAccessToken).one()
    client.post(f"/admin/registration-tokens/{row.id}/revoke", data={"csrf_token": csrf()})
    assert _register(client, initial_token).status_code == 401
