"""UserInfo (OIDC Core §5.3) with Bearer tokens (RFC 6750 §2-3)."""

from __future__ import annotations

import time

import pytest


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_get_with_header(client, tokens, user):
    response = client.get("/userinfo", headers=_bearer(tokens["access_token"]))
    assert response.status_code == 200
    body = response.get_json()
    assert body["sub"] == user.sub
    assert body["name"] == "Nguyễn Văn An" and body["email"] == "an.nguyen@example.gov.vn"
    assert response.headers["Cache-Control"] == "no-store"


def test_post_with_header(client, tokens, user):
    response = client.post("/userinfo", headers=_bearer(tokens["access_token"]))
    assert response.status_code == 200 and response.get_json()["sub"] == user.sub


def test_post_with_form_body(client, tokens, user):
    response = client.post("/userinfo", data={"access_token": tokens["access_token"]})
    assert response.status_code == 200 and response.get_json()["sub"] == user.sub


def test_token_in_header_and_body_is_invalid_request(client, tokens):
    response = client.post("/userinfo", headers=_bearer(tokens["access_token"]),
                           data={"access_token": tokens["access_token"]})
    assert response.status_code == 400
    assert 'error="invalid_request"' in response.headers["WWW-Authenticate"]


def test_token_in_query_is_refused(client, tokens):
    response = client.get("/userinfo", query_string={"access_token": tokens["access_token"]})
    assert response.status_code == 400


def test_no_token_is_a_bare_challenge(client, app):
    response = client.get("/userinfo")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="idp"'


@pytest.mark.parametrize("mangle", [
    lambda t: "garbage",
    lambda t: t[:-4] + "AAAA",  # bad signature
    lambda t: t.split(".")[0] + ".e30.",  # unsigned
])
def test_malformed_token_is_invalid_token(client, tokens, mangle):
    response = client.get("/userinfo", headers=_bearer(mangle(tokens["access_token"])))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert response.get_json()["error"] == "invalid_token"


def test_id_token_is_not_an_access_token(client, tokens):
    response = client.get("/userinfo", headers=_bearer(tokens["id_token"]))
    assert response.status_code == 401
    assert "not an access token" in response.get_json()["error_description"]


def test_expired_token(client, tokens, monkeypatch):
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 3600)
    response = client.get("/userinfo", headers=_bearer(tokens["access_token"]))
    assert response.status_code == 401
    assert response.get_json()["error_description"] == "The access token expired."


def test_revoked_by_session_end(client, tokens, signed_in):
    from idp.services import sessions

    sessions.end_session(signed_in, "logout")
    response = client.get("/userinfo", headers=_bearer(tokens["access_token"]))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_without_openid_scope_is_insufficient_scope(client, tokens, flow):
    narrowed = flow.refresh(tokens["refresh_token"], scope="profile").get_json()
    response = client.get("/userinfo", headers=_bearer(narrowed["access_token"]))
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]


def test_disabled_user(client, tokens, user):
    user.status = "disabled"  # however it happened (idp user disable, console, API)
    assert client.get("/userinfo", headers=_bearer(tokens["access_token"])).status_code == 401
