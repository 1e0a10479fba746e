"""Sign-in: the authorization request and the callback's checks (OIDC Core 3.1.2, 3.1.3.7)."""
from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest

from tests.support.fake_op import DROP, FakeOP
from tests.support.relying_party import AppBrowser
from tests.support.urls import query


def test_login_redirect_has_pkce_state_and_nonce(browser: AppBrowser, op: FakeOP) -> None:
    url = browser.start_login("/private")
    parts = urlsplit(url)
    params = query(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{op.issuer}/authorize"
    assert params["response_type"] == "code"
    assert params["client_id"] == "rp"
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43  # base64url of a SHA-256 digest
    assert len(params["state"]) >= 20 and len(params["nonce"]) >= 20
    assert params["scope"].split() == ["openid", "profile", "email", "roles", "department", "offline_access"]
    assert params["redirect_uri"] == "http://localhost/auth/callback"


def test_each_login_uses_fresh_state_nonce_and_challenge(browser: AppBrowser) -> None:
    first = query(browser.start_login())
    second = query(browser.start_login())
    for name in ("state", "nonce", "code_challenge"):
        assert first[name] != second[name]


def test_successful_login_shows_the_user_and_returns_to_next(browser: AppBrowser) -> None:
    response = browser.login("/private")
    assert response.status_code == 302
    assert response.headers["Location"] == "/private"
    page = browser.client.get("/private")
    assert page.text == "Nguyễn Văn An | Văn phòng Bộ | clerk | Chuyên viên"


def test_login_rotates_the_session_cookie(browser: AppBrowser, rp) -> None:
    browser.start_login()
    before = browser.client.get_cookie("rp_session").value
    browser.client.get(browser.authorize(browser.start_login()))
    assert browser.client.get_cookie("rp_session").value != before


def test_next_must_be_a_local_path(browser: AppBrowser) -> None:
    response = browser.login("https://evil.example/")
    assert response.headers["Location"] == "/"


def test_callback_rejects_unknown_state(browser: AppBrowser) -> None:
    callback = browser.authorize(browser.start_login())
    response = browser.client.get(callback.replace("state=", "state=x"))
    assert response.status_code == 400
    assert "invalid_state" in response.text
    assert browser.client.get("/").text == "anonymous"


def test_callback_rejects_a_response_from_another_browser_session(rp, op: FakeOP) -> None:
    alice, mallory = AppBrowser(rp.test_client(), op=op), AppBrowser(rp.test_client(), op=op)
    callback = mallory.authorize(mallory.start_login())
    alice.start_login()
    response = alice.client.get(callback)  # login CSRF: Mallory's code in Alice's browser
    assert response.status_code == 400 and "invalid_state" in response.text


@pytest.mark.parametrize("iss", ["http://evil.example", DROP], ids=["wrong", "missing"])
def test_callback_checks_iss_parameter_rfc9207(browser: AppBrowser, op: FakeOP, iss: object) -> None:
    op.iss_param = iss
    response = browser.login()
    assert response.status_code == 400
    assert "invalid_issuer" in response.text
    assert browser.client.get("/").text == "anonymous"


@pytest.mark.parametrize(
    ("overrides", "rogue", "detail"),
    [
        ({"nonce": "not-the-one-sent"}, False, "nonce"),
        ({"aud": "another-client"}, False, "aud"),
        ({"iss": "http://evil.example"}, False, "iss"),
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, False, "expired"),
        ({"sub": DROP}, False, "sub"),
        ({}, True, "bad_signature"),
    ],
    ids=["bad-nonce", "wrong-aud", "wrong-iss", "expired", "no-sub", "bad-signature"],
)
def test_callback_rejects_invalid_id_tokens(browser: AppBrowser, op: FakeOP, overrides, rogue, detail) -> None:
    op.id_token_overrides = overrides
    op.sign_with_rogue_key = rogue
    response = browser.login("/private")
    assert response.status_code == 400
    assert "invalid_id_token" in response.text
    assert detail in response.text
    assert browser.client.get("/private").status_code == 302  # still not signed in


def test_provider_error_is_a_readable_page(browser: AppBrowser, op: FakeOP) -> None:
    authorize_url = browser.start_login()
    state = query(authorize_url)["state"]
    response = browser.client.get("/auth/callback", query_string={
        "error": "access_denied", "error_description": "The user declined.", "state": state, "iss": op.issuer})
    assert response.status_code == 400
    assert "access_denied" in response.text and "The user declined." in response.text
    assert "Không đăng nhập được" in response.text


def test_unreachable_provider_is_not_a_500(op: FakeOP, tmp_path) -> None:
    from tests.support.relying_party import build_rp

    app = build_rp(op, tmp_path, SSO_ISSUER="http://127.0.0.1:9")  # nothing listens on port 9
    response = app.test_client().get("/auth/login")
    assert response.status_code == 502
    assert "temporarily_unavailable" in response.text


def test_metadata_without_an_authorization_endpoint_is_not_a_500(op: FakeOP, tmp_path) -> None:
    """OIDC Discovery 1.0 §3: a provider whose metadata lacks a REQUIRED member can't be used."""
    from tests.support.relying_party import build_rp

    op.metadata_drop = {"authorization_endpoint"}
    response = build_rp(op, tmp_path).test_client().get("/auth/login")
    assert response.status_code == 502
    assert "invalid_metadata" in response.text and "lacks authorization_endpoint" in response.text
