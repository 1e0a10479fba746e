"""Verification of the issue-11 fixes by an attacker: #1 (protected admin clients) and #6
(adapter open redirect), trying the other paths that reach the same effect.

#1a a program holding admin.staff alone (the HR sync integration of the finding, or anyone who
    has its secret) made any account an administrator, or reset an administrator's password and
    second factor through the API: the console only lets an admin do that (helpdesk may not
    touch an account holding a global role), the API let any admin.staff token;
#1b a client-admin registers an ordinary service client (and so knows its secret); a full admin
    later adds admin.staff to it, and the client-admin holds an administrator's credentials
    without ever touching a protected client;
#6  encodings a browser normalises (fullwidth or fraction slashes, "/.//", Unicode spaces) stay
    on the app's origin.
"""

from __future__ import annotations

import html
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from idp.extensions import db
from idp.models import AuditEvent, TotpCredential, utcnow
from idp.services import clients, passwords, users
from idp.services.crypto import encrypt
from tests.support.constants import PASSWORD

ACCOUNT_REFUSAL_VI = ("Chỉ quản trị viên mới được thực hiện thao tác này với tài khoản có vai "
                      "trò quản trị.")
UPGRADE_REFUSAL_EN = ("The admin.* scopes are given only when an application is registered: "
                      "whoever already holds this one's credentials would become an "
                      "administrator. Register a new application.")


def _api(client, token: str, method: str, path: str, **kwargs):
    return client.open(f"/api/admin{path}", method=method,
                       headers={"Authorization": f"Bearer {token}"}, **kwargs)


def _assert_insufficient_scope(response, message: str) -> None:
    assert response.status_code == 403, response.get_data(as_text=True)
    assert response.get_json() == {"error": "insufficient_scope", "error_description": message}
    # RFC 6750 §3: the challenge names the error and the scopes needed (every admin scope).
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="idp", error="insufficient_scope", error_description="The access token '
        'lacks the admin.clients admin.staff admin.audit scope.", '
        'scope="admin.clients admin.staff admin.audit"')
    assert response.headers["Cache-Control"] == "no-store"


# --- #1a an admin.staff-only program and the accounts holding a global role ---------------


@pytest.mark.parametrize("role", ["admin", "client-admin", "auditor", "helpdesk"])
def test_a_staff_only_program_cannot_give_a_global_role(client, client_credentials, user, role):
    token = client_credentials("admin.staff")  # what the HR sync integration holds
    response = _api(client, token, "PATCH", f"/users/{user.username}", json={"roles": [role]})
    _assert_insufficient_scope(response, ACCOUNT_REFUSAL_VI)
    db.session.expire_all()
    assert users.get_user(user.username).global_roles() == []
    refused = db.session.query(AuditEvent).filter_by(event_type="user.change_refused").one()
    assert refused.actor == "client:automation" and refused.subject == user.username
    assert refused.outcome == "failure" and refused.details["operation"] == "set_roles"
    assert not db.session.query(AuditEvent).filter_by(event_type="user.roles_changed").count()


def test_a_refused_role_change_leaves_the_profile_untouched(client, client_credentials, user):
    """One PATCH asking for a new e-mail *and* a global role: the refusal changes nothing."""
    token = client_credentials("admin.staff")
    before = users.get_user(user.username).email
    response = _api(client, token, "PATCH", f"/users/{user.username}",
                    json={"email": "attacker@example.gov.vn", "roles": ["admin"]})
    _assert_insufficient_scope(response, ACCOUNT_REFUSAL_VI)
    db.session.expire_all()
    assert users.get_user(user.username).email == before
    assert not db.session.query(AuditEvent).filter_by(event_type="user.updated").count()


def test_a_staff_only_program_cannot_take_over_an_administrator(client, client_credentials,
                                                                admin_user):
    token = client_credentials("admin.staff")
    db.session.add(TotpCredential(user_id=admin_user.id, secret_encrypted=encrypt("JBSWY3DPEHPK3PXP"),
                                  confirmed_at=utcnow()))
    db.session.commit()
    hash_before = admin_user.password_hash
    for method, path, body in [
        ("POST", f"/users/{admin_user.username}/reset-mfa", {}),
        ("POST", f"/users/{admin_user.username}/reset-password", {}),
        ("PATCH", f"/users/{admin_user.username}", {"email": "attacker@evil.example"}),
        ("PATCH", f"/users/{admin_user.username}", {"roles": []}),
        ("POST", f"/users/{admin_user.username}/disable", {}),
        ("POST", f"/users/{admin_user.username}/unlock", {}),
        ("POST", f"/users/{admin_user.username}/end-sessions", {}),
    ]:
        response = _api(client, token, method, path, json=body)
        _assert_insufficient_scope(response, ACCOUNT_REFUSAL_VI)
        assert "temporary_password" not in response.get_json()
    db.session.expire_all()
    admin = users.get_user(admin_user.username)
    assert admin.password_hash == hash_before and not admin.must_change_password
    assert admin.email == "binh.tran@example.gov.vn" and admin.status == "active"
    assert admin.global_roles() == ["admin"]
    assert db.session.query(TotpCredential).filter_by(user_id=admin.id).count() == 1
    operations = [e.details["operation"] for e in db.session.query(AuditEvent).filter_by(
        event_type="user.change_refused", subject=admin.username)]
    # The roles PATCH is refused by the role check, before the profile is touched.
    assert sorted(operations) == sorted(["reset_mfa", "reset_password", "update", "set_roles",
                                         "set_enabled", "unlock", "end_sessions"])
    # ...and the admin still signs in with the password they had.
    assert passwords.verify_password(admin.password_hash, PASSWORD)


def test_a_staff_only_program_still_manages_ordinary_staff(client, client_credentials, user,
                                                          confidential_client):
    token = client_credentials("admin.staff")
    changed = _api(client, token, "PATCH", f"/users/{user.username}",
                   json={"title": "Trưởng phòng", "roles": ["docs:clerk"]})
    assert changed.status_code == 200 and changed.get_json()["roles"] == ["docs:clerk"]
    reset = _api(client, token, "POST", f"/users/{user.username}/reset-password", json={})
    assert reset.status_code == 200
    db.session.expire_all()
    assert passwords.verify_password(users.get_user(user.username).password_hash,
                                     reset.get_json()["temporary_password"])


def test_a_full_admin_program_still_gives_and_takes_global_roles(client, client_credentials,
                                                                 user, admin_user):
    token = client_credentials("admin.clients admin.staff admin.audit")
    given = _api(client, token, "PATCH", f"/users/{user.username}", json={"roles": ["helpdesk"]})
    assert given.status_code == 200 and given.get_json()["roles"] == ["helpdesk"]
    reset = _api(client, token, "POST", f"/users/{admin_user.username}/reset-password", json={})
    assert reset.status_code == 200 and reset.get_json()["temporary_password"]


def test_helpdesk_still_cannot_take_over_an_administrator_in_the_console(client, csrf, sign_in_as,
                                                                         admin_user):
    """The console's own check is now backed by the service's: both refuse."""
    sign_in_as("helpdesk")
    for action in ("reset-password", "reset-mfa"):
        response = client.post(f"/admin/staff/{admin_user.id}/{action}",
                               data={"csrf_token": csrf()})
        assert response.status_code == 403
        assert ACCOUNT_REFUSAL_VI in response.get_data(as_text=True)
    db.session.expire_all()
    assert not users.get_user(admin_user.username).must_change_password


def test_every_operation_on_an_account_passes_the_guard():
    """A future operation on a staff account cannot forget the check (as for clients)."""
    import inspect

    from idp.services import admin_users

    checked = []
    for name, function in inspect.getmembers(admin_users, inspect.isfunction):
        if function.__module__ != admin_users.__name__ or name.startswith("_") or name == "guard":
            continue
        parameters = inspect.signature(function).parameters
        if "user" in parameters and "actor" in parameters:
            source = inspect.getsource(function)
            # set_roles guards through check_roles, which the API also runs before a PATCH.
            assert "guard(user, actor," in source or "check_roles(user," in source, name
            checked.append(name)
    assert sorted(checked) == ["check_roles", "disable", "enable", "end_sessions", "reset_mfa",
                               "reset_password", "set_roles", "unlock", "update"]


# --- #1b an ordinary client given admin.* afterwards --------------------------------------


def _token_for(client, client_id: str, secret: str, scope: str):
    return client.post("/token", data={"grant_type": "client_credentials", "scope": scope},
                       auth=(client_id, secret))


def test_an_ordinary_client_cannot_be_upgraded_to_admin_scopes(client, csrf, sign_in_as,
                                                              client_credentials):
    # The client-admin registers a harmless reporting service and reads its secret.
    sign_in_as("client-admin")
    created = client.post("/admin/clients/new", data={
        "client_name": "Báo cáo", "client_type": "service", "grant_types": "client_credentials",
        "scope": "openid", "client_id": "reports", "csrf_token": csrf()})
    assert created.status_code == 201
    known = created.get_data(as_text=True).split('class="secret">')[1].split("<")[0]

    # A full administrator, asked for "staff read access for the reports", edits it.
    token = client_credentials("admin.clients admin.staff admin.audit")
    response = _api(client, token, "PATCH", "/clients/reports?lang=en",
                    json={"scope": "openid admin.staff"})
    assert response.status_code == 422
    assert response.get_json()["fields"] == {"scope": UPGRADE_REFUSAL_EN}
    sign_in_as("admin")
    form = client.post("/admin/clients/reports/edit?lang=en", data={
        "client_name": "Báo cáo", "grant_types": "client_credentials",
        "scope": "openid admin.staff", "csrf_token": csrf()})
    assert form.status_code == 422
    error = form.get_data(as_text=True).split('id="e-scope">')[1].split("</p>")[0]
    assert UPGRADE_REFUSAL_EN in html.unescape(error)

    # The secret the client-admin knows buys no admin.staff token.
    db.session.expire_all()
    assert clients.get_client("reports").scope == "openid"
    refused = _token_for(client, "reports", known, "admin.staff")
    assert refused.status_code == 400 and refused.get_json()["error"] == "invalid_scope"

    # The administrator registers a new application instead; its secret only they saw.
    fresh = _api(client, token, "POST", "/clients", json={
        "client_name": "Báo cáo nhân sự", "client_type": "service", "client_id": "reports-staff",
        "grant_types": ["client_credentials"], "scope": "admin.staff"})
    assert fresh.status_code == 201
    assert _token_for(client, "reports-staff", fresh.get_json()["client_secret"],
                      "admin.staff").status_code == 200


def test_a_protected_client_may_still_get_another_admin_scope(client, client_credentials):
    row, _secret = clients.create_client("Đồng bộ nhân sự", client_type="service",
                                         client_id="hr-sync", scope="admin.staff")
    db.session.commit()
    token = client_credentials("admin.clients admin.staff admin.audit")
    response = _api(client, token, "PATCH", "/clients/hr-sync",
                    json={"scope": "admin.staff admin.audit"})
    assert response.status_code == 200 and response.get_json()["scope"] == "admin.staff admin.audit"


def test_a_person_never_gets_admin_scopes_through_a_web_client_holding_them(
        client, confidential_client, user, sso_login):
    """A web client given admin.* (say by the CLI) does not lend them to whoever signs in."""
    from tests.support.flow import Flow

    confidential_client.row.scope += " admin.clients admin.staff admin.audit"
    db.session.commit()
    sso_login(user)
    flow = Flow.broad(client, confidential_client)
    code, verifier = flow.code(scope="openid offline_access admin.clients admin.staff admin.audit")
    issued = client.post("/token", data=flow.token_form(code, verifier), **flow.auth()).get_json()
    assert issued["scope"].split() == ["openid", "offline_access"]
    refreshed = client.post("/token", data={"grant_type": "refresh_token",
                                            "refresh_token": issued["refresh_token"],
                                            "scope": "openid admin.staff"}, **flow.auth())
    assert refreshed.status_code == 400 and refreshed.get_json()["error"] == "invalid_scope"
    response = _api(client, issued["access_token"], "PATCH", f"/users/{user.username}",
                    json={"roles": ["admin"]})
    assert response.status_code == 403 and response.get_json()["error"] == "insufficient_scope"
    db.session.expire_all()
    assert users.get_user(user.username).global_roles() == []


# --- #6 encodings a browser normalises ----------------------------------------------------


BROWSER_NORMALISED = [
    "/.//evil.example/phish",                 # dot segment: the browser asks for //evil.example
    "/%EF%BC%8F%EF%BC%8Fevil.example/phish",  # fullwidth solidus U+FF0F twice
    "/%E2%81%84evil.example",                 # fraction slash U+2044
    "/%E2%88%95evil.example",                 # division slash U+2215
    "/%EF%BC%BCevil.example",                 # fullwidth reverse solidus U+FF3C
    "/%E3%80%80/evil.example",                # ideographic space
    "/%E2%80%A8/evil.example",                # line separator U+2028
    "/%20/evil.example",
]


def _same_origin(location: str, origin: str = "http://localhost") -> bool:
    """Resolve ``location`` as a browser does (WHATWG URL: tab/newline dropped, ``\\`` is ``/``)."""
    seen = location.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/")
    if not seen.isascii():
        return False  # werkzeug percent-encodes; raw non-ASCII would be for the browser to read
    return urlsplit(urljoin(origin + "/", seen)).netloc == urlsplit(origin).netloc


@pytest.fixture(scope="module")
def demo_op():
    from tests.support.fake_op import FakeOP

    op = FakeOP().start()
    op.clients = {"docs": "docs-secret"}
    yield op
    op.stop()


@pytest.mark.parametrize("raw_next", BROWSER_NORMALISED)
def test_browser_normalised_targets_stay_on_the_origin(raw_next: str, demo_op, tmp_path: Path):
    from clients import docs_app
    from tests.support.relying_party import STAFF, AppBrowser

    demo_op.reset()
    demo_op.user = {**STAFF, "roles": ["clerk"]}
    app = docs_app.create_app({
        "DOCS_URL": "http://localhost", "WEBMAIL_URL": "http://webmail.test",
        "ONESTOP_URL": "http://onestop.test", "SSO_ISSUER": demo_op.issuer, "SSO_CLIENT_ID": "docs",
        "SSO_CLIENT_SECRET": "docs-secret", "DATABASE": str(tmp_path / "docs.sqlite3")})
    browser = AppBrowser(app.test_client(), op=demo_op)
    start = browser.client.get(f"/auth/login?next={raw_next}")
    after_callback = browser.client.get(browser.authorize(start.headers["Location"]))
    signed_in = browser.client.get(f"/auth/login?next={raw_next}")
    language = browser.client.get(f"/lang/en?next={raw_next}")
    for response in (after_callback, signed_in, language):
        assert response.status_code == 302
        location = response.headers["Location"]
        assert location.startswith("/") and not location.startswith("//"), location
        assert _same_origin(location), location


def _docs(demo_op, tmp_path: Path):
    from clients import docs_app

    demo_op.reset()
    return docs_app.create_app({
        "DOCS_URL": "http://localhost", "WEBMAIL_URL": "http://webmail.test",
        "ONESTOP_URL": "http://onestop.test", "SSO_ISSUER": demo_op.issuer, "SSO_CLIENT_ID": "docs",
        "SSO_CLIENT_SECRET": "docs-secret", "DATABASE": str(tmp_path / "docs.sqlite3")})


PHISH = "Phiên đã hết hạn. Đăng nhập lại tại https://evil.example/sso"


@pytest.mark.parametrize("state", [None, "made-up-state"])
def test_a_crafted_error_callback_shows_none_of_the_attackers_text(state, demo_op, tmp_path: Path):
    """The error page is the app's: a link the attacker made puts no words of theirs on it."""
    client = _docs(demo_op, tmp_path).test_client()
    query = {"error": "account_locked", "error_description": PHISH, "iss": demo_op.issuer}
    if state:
        query["state"] = state
    response = client.get("/auth/callback", query_string=query)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "evil.example" not in page and "account_locked" not in page
    assert "invalid_state" in page


def test_the_providers_own_error_answer_is_still_shown(demo_op, tmp_path: Path):
    from urllib.parse import parse_qs

    client = _docs(demo_op, tmp_path).test_client()
    start = client.get("/auth/login?next=/")
    state = parse_qs(urlsplit(start.headers["Location"]).query)["state"][0]
    response = client.get("/auth/callback", query_string={
        "error": "access_denied", "error_description": "Người dùng đã từ chối.", "state": state,
        "iss": demo_op.issuer})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "access_denied" in page and "Người dùng đã từ chối." in page
