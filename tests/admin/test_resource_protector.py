"""One resource protector (idp/oidc/protector.py) answers RFC 6750 §3 alike at /userinfo,
the admin API and registration management (RFC 7592 §2)."""

from __future__ import annotations

import pytest

from idp.extensions import db
from idp.services import registration
from idp.services.admin_audit import Actor

BAD = "eyJhbGciOiJub25lIn0.eyJzY29wZSI6ImFkbWluLnN0YWZmIn0.forged"


@pytest.fixture
def registered(client, app):
    _, initial = registration.issue_initial_token("CI", 3600, Actor("binh.tran"))
    db.session.commit()
    response = client.post("/register", headers={"Authorization": f"Bearer {initial}"},
                           json={"client_name": "Lịch họp",
                                 "redirect_uris": ["https://meet.example/cb"]})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def resource(registered):
    """Each protected resource: (method, path) for a GET that needs a bearer token."""
    return {"userinfo": "/userinfo", "admin": "/api/admin/clients",
            "registration": f"/register/{registered['client_id']}"}


RESOURCES = ["userinfo", "admin", "registration"]


@pytest.mark.parametrize("name", RESOURCES)
def test_no_token_is_401_with_a_bare_challenge(client, resource, name):
    response = client.get(resource[name])
    assert response.status_code == 401
    # RFC 6750 §3.1: "SHOULD NOT include an error code or other error information".
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="idp"'
    assert response.headers["Cache-Control"] == "no-store"
    assert set(response.get_json()) == {"error", "error_description"}


@pytest.mark.parametrize("name", RESOURCES)
def test_a_bad_token_is_401_invalid_token_with_a_description(client, resource, name):
    response = client.get(resource[name], headers={"Authorization": f"Bearer {BAD}"})
    assert response.status_code == 401
    body = response.get_json()
    assert set(body) == {"error", "error_description"} and body["error"] == "invalid_token"
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="idp", error="invalid_token", error_description="')
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("name", RESOURCES)
def test_a_token_in_the_url_is_400_invalid_request(client, resource, name):
    response = client.get(resource[name], query_string={"access_token": BAD})
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="idp", error="invalid_request", error_description="Send the access token '
        'in the Authorization header or the form body, not the URL."')


def test_insufficient_scope_names_the_scope(client, client_credentials):
    token = client_credentials("admin.audit")
    response = client.get("/api/admin/clients", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.get_json() == {"error": "insufficient_scope",
                                   "error_description": "Access token không có phạm vi admin.clients."}
    # The challenge is ASCII only (RFC 6750 §3): the English text stands in for the Vietnamese.
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="idp", error="insufficient_scope", error_description="The access token '
        'lacks the admin.clients scope.", scope="admin.clients"')


def test_an_access_token_is_no_registration_access_token(client, registered, client_credentials):
    """RFC 7592 §2: only the client's registration access token opens its configuration."""
    token = client_credentials("admin.clients")
    response = client.get(f"/register/{registered['client_id']}",
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"


def test_the_registration_access_token_opens_its_client(client, registered):
    response = client.get(f"/register/{registered['client_id']}", headers={
        "Authorization": f"Bearer {registered['registration_access_token']}"})
    assert response.status_code == 200
    assert response.get_json()["client_id"] == registered["client_id"]
