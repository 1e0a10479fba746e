"""RP-initiated, back-channel and front-channel logout (the OIDC logout specifications)."""
from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest
from flask import Flask

from tests.support.fake_op import DROP, FakeOP
from tests.support.relying_party import AppBrowser
from tests.support.urls import query

BCL = "/auth/backchannel-logout"


def _signed_in(rp: Flask, op: FakeOP) -> AppBrowser:
    browser = AppBrowser(rp.test_client(), op=op)
    browser.login()
    assert browser.client.get("/").text.startswith("Xin chào")
    return browser


def test_rp_initiated_logout_redirects_to_end_session(rp: Flask, op: FakeOP) -> None:
    browser = _signed_in(rp, op)
    with browser.client.session_transaction() as session:
        id_token = session["_sso_token"]["id_token"]
    response = browser.post("/auth/logout")
    assert response.status_code == 302
    parts = urlsplit(response.headers["Location"])
    params = query(response.headers["Location"])
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{op.issuer}/end_session"
    assert params["id_token_hint"] == id_token
    assert params["post_logout_redirect_uri"] == "http://localhost/auth/logged-out"
    assert params["client_id"] == "rp" and len(params["state"]) >= 20
    assert browser.client.get("/").text == "anonymous"
    assert rp.extensions["idp_client"].store.count(sid=op.sid) == 0
    back = browser.client.get(f"/auth/logged-out?state={params['state']}")
    assert back.status_code == 302 and back.headers["Location"] == "/"


def test_backchannel_logout_ends_only_that_sid(rp: Flask, op: FakeOP) -> None:
    alice = _signed_in(rp, op)
    op.sid = "sid-2"
    other = _signed_in(rp, op)
    response = rp.test_client().post(BCL, data={"logout_token": op.logout_token("rp", sid="sid-1")})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert alice.client.get("/").text == "anonymous"
    assert alice.client.get("/private").status_code == 302
    assert other.client.get("/").text == "Xin chào Nguyễn Văn An"


def test_backchannel_logout_by_sub_ends_all_sessions_of_the_user(rp: Flask, op: FakeOP) -> None:
    first = _signed_in(rp, op)
    op.sid = "sid-2"
    second = _signed_in(rp, op)
    token = op.logout_token("rp", sid=DROP)
    assert rp.test_client().post(BCL, data={"logout_token": token}).status_code == 200
    assert first.client.get("/").text == "anonymous"
    assert second.client.get("/").text == "anonymous"


def test_backchannel_logout_accepts_an_unknown_signing_key_after_refreshing_jwks(rp: Flask, op: FakeOP) -> None:
    browser = _signed_in(rp, op)
    from tests.support.fake_op import _key

    op.key = _key("k2")  # the OP rotated its key after our JWKS was cached
    response = rp.test_client().post(BCL, data={"logout_token": op.logout_token("rp")})
    assert response.status_code == 200
    assert browser.client.get("/").text == "anonymous"


BAD_TOKENS = {
    "nonce-present": ({"nonce": "abc"}, {}, False, "nonce"),
    "events-missing": ({"events": DROP}, {}, False, "events"),
    "events-wrong": ({"events": {"http://example.com/other": {}}}, {}, False, "events"),
    "bad-signature": ({}, {}, True, "signature"),
    "wrong-aud": ({"aud": "another-client"}, {}, False, "aud"),
    "wrong-iss": ({"iss": "http://evil.example"}, {}, False, "iss"),
    "no-sid-no-sub": ({"sid": DROP, "sub": DROP}, {}, False, "sid"),
    "no-iat": ({"iat": DROP}, {}, False, "iat"),
    "old-iat": ({"iat": int(time.time()) - 3600}, {}, False, "iat"),
    "expired": ({"exp": int(time.time()) - 600}, {}, False, "exp"),
    "no-jti": ({"jti": DROP}, {}, False, "jti"),
    "id-token-typ": ({}, {"typ": "at+jwt"}, False, "typ"),
}


@pytest.mark.parametrize("case", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
def test_backchannel_logout_rejects_bad_tokens(rp: Flask, op: FakeOP, case) -> None:
    overrides, header, rogue, word = case
    browser = _signed_in(rp, op)
    token = op.logout_token("rp", header=header, rogue=rogue, **overrides)
    response = rp.test_client().post(BCL, data={"logout_token": token})
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request"
    assert word in response.json["error_description"]
    assert browser.client.get("/").text == "Xin chào Nguyễn Văn An"  # still signed in


def test_backchannel_logout_rejects_a_replayed_jti(rp: Flask, op: FakeOP) -> None:
    token = op.logout_token("rp")
    assert rp.test_client().post(BCL, data={"logout_token": token}).status_code == 200
    browser = _signed_in(rp, op)
    response = rp.test_client().post(BCL, data={"logout_token": token})
    assert response.status_code == 400
    assert response.json == {"error": "invalid_request",
                             "error_description": "This logout token was already used (jti replayed)."}
    assert browser.client.get("/").text == "Xin chào Nguyễn Văn An"


def test_backchannel_logout_without_token_is_a_400(rp: Flask) -> None:
    response = rp.test_client().post(BCL, data={})
    assert response.status_code == 400
    assert response.json["error_description"] == "The logout_token parameter is missing."


def test_backchannel_logout_needs_no_csrf_token(rp: Flask, op: FakeOP) -> None:
    response = rp.test_client().post(BCL, data={"logout_token": op.logout_token("rp")})
    assert response.status_code == 200


def test_frontchannel_logout_ends_sessions_of_the_sid(rp: Flask, op: FakeOP) -> None:
    browser = _signed_in(rp, op)
    response = rp.test_client().get("/auth/frontchannel-logout", query_string={"iss": op.issuer, "sid": op.sid})
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]
    assert browser.client.get("/").text == "anonymous"


def test_frontchannel_logout_checks_the_issuer(rp: Flask, op: FakeOP) -> None:
    browser = _signed_in(rp, op)
    response = rp.test_client().get("/auth/frontchannel-logout",
                                    query_string={"iss": "http://evil.example", "sid": op.sid})
    assert response.status_code == 400
    assert browser.client.get("/").text == "Xin chào Nguyễn Văn An"
