"""The admin JSON API: bearer tokens with admin scopes, clients, staff, departments, errors."""

import pytest

from idp.extensions import db
from idp.models import AuditEvent, utcnow
from idp.services import clients, passwords, users


# --- authorisation -----------------------------------------------------------------------


def test_no_token_is_401_with_a_bearer_challenge(client, automation_client):
    response = client.get("/api/admin/clients")
    assert response.status_code == 401
    assert response.get_json() == {
        "error": "invalid_token",
        "error_description": "Cần có access token (Authorization: Bearer)."}
    # RFC 6750 §3.1: no token at all, a challenge without an error code.
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="idp"'


@pytest.mark.parametrize("bad", [
    {"typ": "JWT"},            # RFC 9068 §4: typ must be at+jwt
    {"ttl": -10},              # expired
    {"iss": "https://evil.example"},
    {"record": False},         # jti unknown to the provider
    {"revoked": True},         # revoked (logout, RFC 7009)
])
def test_bad_tokens_are_refused(client, mint, bad):
    token = mint(**bad)
    response = client.get("/api/admin/clients", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"


def test_a_token_signed_by_someone_else_is_refused(client, automation_client):
    from joserfc import jwt
    from joserfc.jwk import RSAKey

    key = RSAKey.generate_key(2048)
    forged = jwt.encode({"alg": "RS256", "typ": "at+jwt"}, {"iss": "http://127.0.0.1:5000",
                        "exp": 9999999999, "jti": "x", "scope": "admin.clients"}, key)
    response = client.get("/api/admin/clients", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


SCOPED = [
    ("GET", "/clients", "admin.clients"),
    ("GET", "/clients/docs", "admin.clients"),
    ("POST", "/registration-tokens", "admin.clients"),
    ("GET", "/users", "admin.staff"),
    ("GET", "/users/an.nguyen", "admin.staff"),
    ("POST", "/users/an.nguyen/unlock", "admin.staff"),
    ("GET", "/departments", "admin.staff"),
    ("GET", "/audit", "admin.audit"),
]


@pytest.mark.parametrize("scope", ["admin.clients", "admin.staff", "admin.audit"])
@pytest.mark.parametrize("method,path,needed", SCOPED, ids=[f"{m} {p}" for m, p, _ in SCOPED])
def test_scope_matrix(api, user, confidential_client, scope, method, path, needed):
    response = api(method, path, scope=scope, json={} if method == "POST" else None)
    if scope == needed:
        assert response.status_code in (200, 201)
    else:
        assert response.status_code == 403
        assert response.get_json()["error"] == "insufficient_scope"
        assert response.headers["WWW-Authenticate"] == (
            'Bearer realm="idp", error="insufficient_scope", error_description="The access '
            f'token lacks the {needed} scope.", scope="{needed}"')


# --- clients ---------------------------------------------------------------------------------


def test_client_lifecycle(api, department):
    created = api("POST", "/clients", json={
        "client_name": "Thư điện tử", "client_id": "webmail", "client_type": "web",
        "redirect_uris": ["https://mail.example.gov.vn/cb"], "scope": "openid email",
        "roles": ["reader"], "owner_department": "VP"})
    assert created.status_code == 201
    body = created.get_json()
    assert created.headers["Location"].endswith("/api/admin/clients/webmail")
    assert body["client_id"] == "webmail" and body["roles"] == ["reader"]
    assert clients.check_secret(clients.get_client("webmail"), body["client_secret"])
    got = api("GET", "/clients/webmail").get_json()
    assert "client_secret" not in got and got["owner_department"] == "VP"
    changed = api("PATCH", "/clients/webmail", json={"client_name": "Webmail", "enabled": False})
    assert changed.status_code == 200 and changed.get_json()["client_name"] == "Webmail"
    assert changed.get_json()["enabled"] is False
    rotated = api("POST", "/clients/webmail/secret", json={"grace_seconds": 3600}).get_json()
    row = clients.get_client("webmail")
    assert clients.check_secret(row, rotated["client_secret"]) and clients.check_secret(row, body["client_secret"])
    assert api("DELETE", "/clients/webmail").status_code == 204
    assert api("GET", "/clients/webmail").status_code == 404
    actors = {e.actor for e in db.session.query(AuditEvent).filter(AuditEvent.client == "webmail")}
    assert actors == {"client:automation"}


def test_client_validation_errors_are_422_with_fields(api):
    response = api("POST", "/clients", json={"client_name": "", "redirect_uris": ["http://x.example/cb#f"]})
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "invalid_input" and set(body["fields"]) == {"client_name", "redirect_uris"}
    assert "error_description" in body


@pytest.mark.parametrize("path,body,field", [
    ("/clients", {"client_name": 123}, "client_name"),
    ("/clients", {"client_name": "A", "trusted": "yes"}, "trusted"),
    ("/clients", {"client_name": "A", "access_token_ttl": 5}, "access_token_ttl"),
    ("/clients", {"client_name": "A", "client_type": "desktop"}, "client_type"),
    ("/users", {"username": "a", "full_name": "A", "email": ["x"]}, "email"),
    ("/departments", {"code": "X"}, "name"),
])
def test_bodies_that_break_the_documented_schema_are_422(api, department, path, body, field):
    response = api("POST", path, json=body)
    assert response.status_code == 422
    assert field in response.get_json()["fields"]


@pytest.mark.parametrize("query", ["page=0", "per_page=501", "page=x"])
def test_bad_paging_is_422(api, query):
    assert api("GET", f"/users?{query}").status_code == 422


def test_a_program_holding_only_admin_clients_cannot_mint_admin_programs(api):
    response = api("POST", "/clients", scope="admin.clients", json={
        "client_name": "Bot", "client_type": "service", "scope": "admin.staff"})
    assert response.status_code == 422 and "scope" in response.get_json()["fields"]


def test_not_json_is_422(api):
    response = api("POST", "/clients", data="x", headers={"Content-Type": "text/plain"})
    assert response.status_code == 422 and response.get_json()["error"] == "invalid_input"


def test_unknown_client_is_404(api):
    response = api("GET", "/clients/nope")
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


def test_registration_token_is_issued_once(api):
    response = api("POST", "/registration-tokens", json={"description": "CI", "ttl_seconds": 600})
    assert response.status_code == 201 and len(response.get_json()["token"]) > 30
    assert api("POST", "/registration-tokens", json={"ttl_seconds": 5}).status_code == 422


# --- staff -------------------------------------------------------------------------------------


def test_staff_lifecycle(api, department, confidential_client):
    created = api("POST", "/users", json={"username": "thu.vo", "full_name": "Võ Thị Thu",
                                          "email": "thu.vo@example.gov.vn", "department": "VP"})
    assert created.status_code == 201
    body = created.get_json()
    thu = users.get_user("thu.vo")
    assert passwords.verify_password(thu.password_hash, body["temporary_password"])
    assert api("POST", "/users", json={"username": "thu.vo", "full_name": "X",
                                       "email": "y@example.gov.vn"}).status_code == 422
    changed = api("PATCH", "/users/thu.vo", json={"title": "Trưởng phòng", "roles": ["helpdesk", "docs:clerk"]})
    assert changed.status_code == 200
    assert changed.get_json()["title"] == "Trưởng phòng"
    assert changed.get_json()["roles"] == ["docs:clerk", "helpdesk"]
    assert api("POST", "/users/thu.vo/disable").get_json()["status"] == "disabled"
    assert api("POST", "/users/thu.vo/enable").get_json()["status"] == "active"
    thu.locked_until = utcnow()
    db.session.commit()
    assert api("POST", "/users/thu.vo/unlock").status_code == 200
    assert api("POST", "/users/thu.vo/reset-mfa").status_code == 200
    assert api("POST", "/users/thu.vo/end-sessions").get_json()["sessions_ended"] == 0
    reset = api("POST", "/users/thu.vo/reset-password").get_json()
    db.session.refresh(thu)
    assert passwords.verify_password(thu.password_hash, reset["temporary_password"])
    assert api("GET", "/users/nobody").status_code == 404


def test_user_search_is_paginated(api, user, admin_user):
    page = api("GET", "/users?q=example.gov.vn&per_page=1&page=2").get_json()
    assert page["total"] == 2 and page["pages"] == 2 and len(page["items"]) == 1
    assert page["items"][0]["username"] == "binh.tran"


def test_departments(api, department):
    assert api("POST", "/departments", json={"code": "VU-PC", "name": "Vụ Pháp chế", "parent": "BO"}).status_code == 201
    items = api("GET", "/departments").get_json()["items"]
    assert [(i["code"], i["depth"]) for i in items] == [("BO", 0), ("VP", 1), ("VU-PC", 1)]
    again = api("POST", "/departments", json={"code": "BO", "name": "x"})
    assert again.status_code == 422 and "code" in again.get_json()["fields"]


def test_audit_read(api, user):
    api("POST", "/users/an.nguyen/end-sessions")
    events = api("GET", "/audit?subject=an.nguyen").get_json()
    assert events["items"][0]["event_type"] == "user.sessions_ended"
    assert events["items"][0]["actor"] == "client:automation"


def test_openapi_document(client):
    response = client.get("/api/admin/openapi.json")
    doc = response.get_json()
    assert doc["openapi"] == "3.1.0"
    assert {"/clients", "/clients/{client_id}", "/clients/{client_id}/secret", "/users",
            "/users/{username}", "/users/{username}/unlock", "/users/{username}/reset-mfa",
            "/users/{username}/end-sessions", "/users/{username}/disable",
            "/departments", "/registration-tokens", "/audit"} <= set(doc["paths"])
    assert doc["components"]["schemas"]["Error"]["required"] == ["error", "error_description"]
    assert doc["paths"]["/clients"]["post"]["security"] == [{"bearer": ["admin.clients"]}]
    assert doc["components"]["securitySchemes"]["bearer"]["flows"]["clientCredentials"]["tokenUrl"] \
        == "http://127.0.0.1:5000/token"


def test_api_is_exempt_from_csrf_but_needs_the_token(client, api):
    """No cookie, no CSRF token: the bearer token is the only credential."""
    assert api("POST", "/departments", json={"code": "X1", "name": "Một"}).status_code == 201
    assert client.post("/api/admin/departments", json={"code": "X2", "name": "Hai"}).status_code == 401
