"""NUL characters: PostgreSQL text cannot hold them (SQLite can), so every endpoint must
refuse them as bad input (400/401/422), never fail with a 500 on one store only."""

from __future__ import annotations

import pytest

from tests.support.pages import csrf_token

NUL = "an\x00nguyen"


def test_nul_in_admin_api_fields_is_422(client, admin_api_token, department):
    headers = {"Authorization": f"Bearer {admin_api_token}"}
    response = client.post("/api/admin/users", headers=headers, json={
        "username": "nul.user", "full_name": "Tên\x00", "email": "nul@example.gov.vn",
        "title": "a\x00b"})
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert response.get_json()["error"] == "invalid_input"
    response = client.post("/api/admin/departments", headers=headers,
                           json={"code": "N\x00", "name": "x"})
    assert response.status_code == 422


@pytest.mark.parametrize(("method", "path", "field"), [
    ("POST", "/login", "username"), ("POST", "/password/forgot", "email"),
])
def test_nul_in_sign_in_forms_is_not_a_500(client, user, method, path, field):
    token = csrf_token(client.get(path).get_data(as_text=True))
    response = client.open(path, method=method, data={field: NUL, "password": "x" * 12,
                                                      "csrf_token": token})
    assert response.status_code < 500
    assert response.mimetype == "text/html"


@pytest.mark.parametrize(("path", "data"), [
    ("/token", {"grant_type": "authorization_code", "code": NUL, "client_id": NUL}),
    ("/token", {"grant_type": "refresh_token", "refresh_token": NUL}),
    ("/revoke", {"token": NUL}), ("/introspect", {"token": NUL}),
])
def test_nul_in_protocol_requests_is_not_a_500(client, confidential_client, path, data):
    response = client.post(path, data=data,
                           auth=(confidential_client.client_id, confidential_client.client_secret))
    assert response.status_code < 500, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/json"


def test_nul_in_authorize_is_not_a_500(client, confidential_client, user, sso_login):
    sso_login(user)
    for params in ({"client_id": NUL}, {"client_id": "docs", "redirect_uri": NUL},
                   {"client_id": "docs", "redirect_uri": confidential_client.redirect_uri,
                    "response_type": "code", "scope": "openid", "state": NUL, "nonce": NUL,
                    "login_hint": NUL}):
        response = client.get("/authorize", query_string=params)
        assert response.status_code < 500, (params, response.get_data(as_text=True)[:300])
