"""Regressions of issue 19: what failed against another certified provider, one test per item.

Each is also a latent bug against our own provider whenever its policy differs, so each is
reproduced here with the fake provider; tests/interop runs the same against node-oidc-provider.
"""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from clients.idp_client import Settings, User
from tests.support.fake_op import DROP, FakeOP
from tests.support.relying_party import STAFF, AppBrowser, build_rp
from tests.support.urls import query


def _token(browser: AppBrowser) -> dict:
    with browser.client.session_transaction() as session:
        return dict(session["_sso_token"])


# 1. offline_access needs prompt=consent (OIDC Core 11)

def test_offline_access_is_asked_with_prompt_consent(browser: AppBrowser) -> None:
    params = query(browser.start_login())
    assert "offline_access" in params["scope"].split()
    assert params["prompt"] == "consent"


def test_a_trusted_client_may_leave_prompt_consent_out(op: FakeOP, tmp_path: Path) -> None:
    app = build_rp(op, tmp_path, SSO_OFFLINE_ACCESS_CONSENT=False)
    assert "prompt" not in query(AppBrowser(app.test_client(), op=op).start_login())


def test_no_prompt_consent_without_offline_access(op: FakeOP, tmp_path: Path) -> None:
    app = build_rp(op, tmp_path, SSO_SCOPE="openid profile email")
    assert "prompt" not in query(AppBrowser(app.test_client(), op=op).start_login())


def test_an_app_passes_extra_authorization_parameters(op: FakeOP, tmp_path: Path) -> None:
    app = build_rp(op, tmp_path, SSO_AUTHORIZE_PARAMS={"ui_locales": "vi", "prompt": "login"})
    params = query(AppBrowser(app.test_client(), op=op).start_login())
    assert params["ui_locales"] == "vi" and params["prompt"] == "login consent"


def test_extra_parameters_cannot_replace_the_adapter_s_own(op: FakeOP, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="SSO_AUTHORIZE_PARAMS cannot set redirect_uri, state"):
        build_rp(op, tmp_path, SSO_AUTHORIZE_PARAMS={"state": "fixed", "redirect_uri": "https://evil/"})


# 2. refresh within the grant (RFC 6749 §6, §3.3)

def test_refresh_asks_for_the_granted_scope_not_the_configured_one(browser: AppBrowser, op: FakeOP) -> None:
    op.granted_scope = "openid profile email"  # the provider granted less than asked
    op.access_token_ttl = 30
    browser.login()
    page = browser.client.get("/private")
    assert page.status_code == 200, page.headers.get("Location")  # not sent to sign in again
    assert op.refresh_requests[-1]["scope"] == "openid profile email"
    assert op.refresh_count == 1


def test_refresh_sends_no_scope_when_the_grant_did_not_say(browser: AppBrowser, op: FakeOP) -> None:
    op.access_token_ttl = 30
    browser.login()
    with browser.client.session_transaction() as session:
        session["_sso_token"] = {k: v for k, v in session["_sso_token"].items() if k != "scope"}
    assert browser.client.get("/private").status_code == 200
    assert "scope" not in op.refresh_requests[-1]


# 3. the issuer, exactly (OIDC Discovery 4.3, Core 3.1.3.7)

def test_a_trailing_slash_stays_in_the_issuer_and_leaves_the_discovery_url() -> None:
    settings = Settings.load({}, {"issuer": "https://tenant.example.auth0.com/", "client_id": "x"})
    assert settings.issuer == "https://tenant.example.auth0.com/"
    assert settings.discovery_url == "https://tenant.example.auth0.com/.well-known/openid-configuration"


def test_an_issuer_mismatch_is_named_not_called_unreachable(op: FakeOP, tmp_path: Path) -> None:
    page = build_rp(op, tmp_path, SSO_ISSUER=op.issuer + "/").test_client().get("/auth/login")
    assert page.status_code == 502
    assert "invalid_issuer" in page.text and "metadata names another issuer" in page.text


# 4. userinfo: signed responses, and saying what really happened

def test_signed_userinfo_is_verified_and_merged(browser: AppBrowser, op: FakeOP) -> None:
    op.userinfo_signed = True
    op.id_token_overrides = {"name": DROP, "title": DROP}  # only userinfo has them
    assert browser.login().status_code == 302
    assert browser.client.get("/private").text == "Nguyễn Văn An | Văn phòng Bộ | clerk | Chuyên viên"


def test_signed_userinfo_with_a_forged_signature_is_refused(browser: AppBrowser, op: FakeOP) -> None:
    op.userinfo_signed = op.userinfo_rogue = True
    response = browser.login()
    assert response.status_code == 400
    assert "invalid_userinfo" in response.text and "signature is not valid" in response.text
    assert browser.client.get("/").text == "anonymous"


def test_userinfo_refusing_the_token_is_named(browser: AppBrowser, op: FakeOP) -> None:
    op.userinfo_status = 401
    response = browser.login()
    assert response.status_code == 502
    assert "invalid_token" in response.text and "refused the new access token" in response.text
    assert "unreachable" not in response.text


def test_userinfo_that_is_not_json_is_named(browser: AppBrowser, op: FakeOP) -> None:
    op.userinfo_raw = "<html>maintenance</html>"
    response = browser.login()
    assert response.status_code == 502
    assert "invalid_userinfo" in response.text and "neither JSON nor a signed JWT" in response.text


def test_userinfo_server_error_says_its_status(browser: AppBrowser, op: FakeOP) -> None:
    op.userinfo_status = 503
    response = browser.login()
    assert response.status_code == 502
    assert "temporarily_unavailable" in response.text and "HTTP 503" in response.text


# 5. a refreshed ID token that fails its checks ends the local session (OIDC Core 12.2)

@pytest.mark.parametrize("knob", ["forged", "other_sub", "other_aud", "other_iss"])
def test_a_bad_refreshed_id_token_ends_the_session_without_a_500(
        knob: str, browser: AppBrowser, op: FakeOP, caplog) -> None:
    op.access_token_ttl = 30
    browser.login()
    op.refresh_rogue = knob == "forged"
    op.refresh_id_token_overrides = {"other_sub": {"sub": "u-2"}, "other_aud": {"aud": "webmail"},
                                     "other_iss": {"iss": "https://evil.example"}}.get(knob, {})
    with caplog.at_level(logging.WARNING, logger="clients.idp_client.state"):
        response = browser.client.get("/private")
    assert response.status_code == 302 and response.headers["Location"].startswith("/auth/login")
    assert browser.client.get("/").text == "anonymous"
    assert "Refreshed ID token rejected" in caplog.text


# 6. claims by configurable names, scopes by configuration

def test_roles_from_groups_and_department_from_a_string(op: FakeOP, tmp_path: Path) -> None:
    op.user = {"sub": "u-9", "name": "Trần Bình", "groups": ["clerk", "leader"], "dept": "Phòng Pháp chế",
               "job": "Trưởng phòng"}
    app = build_rp(op, tmp_path, SSO_SCOPE="openid profile groups offline_access",
                   SSO_ROLES_CLAIM="groups", SSO_DEPARTMENT_CLAIM="dept", SSO_TITLE_CLAIM="job")
    browser = AppBrowser(app.test_client(), op=op)
    assert "roles" not in query(browser.start_login())["scope"].split()
    browser.login()
    assert browser.client.get("/private").text == "Trần Bình | Phòng Pháp chế | clerk,leader | Trưởng phòng"


@pytest.mark.parametrize(("claims", "config", "roles", "department"), [
    (STAFF, {}, ("clerk",), {"code": "VP", "name": "Văn phòng Bộ"}),  # our provider, the default
    ({"sub": "k", "realm_access": {"roles": ["approver"]}}, {"roles_claim": "realm_access.roles"},
     ("approver",), None),                                             # Keycloak's nested roles
    ({"sub": "g", "groups": "officer approver"}, {"roles_claim": "groups"}, ("officer", "approver"), None),
    ({"sub": "d", "department": "TCCB"}, {}, (), {"code": "TCCB", "name": "TCCB"}),
    ({"sub": "x", "roles": "not-a-list-of-str", "department": 7}, {}, ("not-a-list-of-str",), None),
])
def test_claim_mapping(claims: dict, config: dict, roles: tuple, department: dict | None) -> None:
    settings = Settings(issuer="https://op", client_id="c", **config)
    user = User.from_claims(claims, settings)
    assert user.roles == roles and user.department == department
