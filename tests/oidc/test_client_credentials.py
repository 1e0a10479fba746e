"""client_credentials (RFC 6749 §4.4): service clients, registered scopes only."""

from __future__ import annotations

from tests.support.errors import assert_invalid_client
from tests.support.flow import basic, decode_jwt


def _token(client, service_client, **data):
    return client.post("/token", data={"grant_type": "client_credentials", **data},
                       headers=basic("hr-sync", service_client.client_secret))


def test_service_client_gets_an_access_token_only(client, service_client):
    response = _token(client, service_client)
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["scope"] == "staff.read"
    header, claims = decode_jwt(body["access_token"])
    assert header["typ"] == "at+jwt"
    assert claims["sub"] == "hr-sync" and claims["client_id"] == "hr-sync"
    assert "auth_time" not in claims


def test_registered_scope_may_be_asked_for(client, service_client):
    assert _token(client, service_client, scope="staff.read").get_json()["scope"] == "staff.read"


def test_unregistered_scope_is_invalid_scope(client, service_client):
    response = _token(client, service_client, scope="staff.read staff.write")
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_scope"


def test_user_facing_client_cannot_use_it(client, confidential_client):
    response = client.post("/token", data={"grant_type": "client_credentials"},
                           headers=basic("docs", confidential_client.client_secret))
    assert response.get_json()["error"] == "unauthorized_client"


def test_public_client_cannot_use_it(client, public_client):
    response = client.post("/token", data={"grant_type": "client_credentials", "client_id": "spa"})
    # RFC 6749 §5.2: no Authorization header was used, so 400 and no challenge.
    assert_invalid_client(response, used_authorization_header=False)


def test_wrong_secret_in_the_header_is_401_with_a_challenge(client, service_client):
    response = client.post("/token", data={"grant_type": "client_credentials"},
                           headers=basic("hr-sync", "not-the-secret"))
    # RFC 6749 §5.2: the client used the Authorization header: 401 and WWW-Authenticate.
    assert_invalid_client(response, used_authorization_header=True)


def test_service_token_is_introspectable_by_its_client(client, service_client):
    token = _token(client, service_client).get_json()["access_token"]
    response = client.post("/introspect", data={"token": token},
                           headers=basic("hr-sync", service_client.client_secret))
    body = response.get_json()
    assert body["active"] is True and body["client_id"] == "hr-sync" and body["sub"] == "hr-sync"


def test_service_token_cannot_read_userinfo(client, service_client):
    token = _token(client, service_client).get_json()["access_token"]
    response = client.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
