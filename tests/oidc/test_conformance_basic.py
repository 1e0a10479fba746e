"""The OpenID Foundation's oidcc-basic and oidcc-config test plans, one case per module:
each reproduces what that module sends and asserts what it checks."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.oidc.conftest import basic, decode_jwt, pkce_pair, query


def _code(flow, **params):
    got = query(flow.authorize(**params).headers["Location"])
    assert "code" in got, got
    return got


def _tokens(flow, **params):
    got = _code(flow, **params)
    response = flow.exchange(got["code"], None)
    assert response.status_code == 200
    return response.get_json()


def _userinfo(flow, body, how="header"):
    token = body["access_token"]
    if how == "post-body":
        return flow.client.post("/userinfo", data={"access_token": token})
    method = flow.client.post if how == "post-header" else flow.client.get
    return method("/userinfo", headers={"Authorization": f"Bearer {token}"})


def oidcc_server(ctx):
    body = _tokens(ctx.flow, nonce="n1")
    _, claims = decode_jwt(body["id_token"])
    assert claims["nonce"] == "n1" and claims["aud"] == "docs" and "at_hash" in claims


def oidcc_response_type_missing(ctx):
    got = query(ctx.flow.authorize(response_type=None).headers["Location"])
    assert got["error"] in {"invalid_request", "unsupported_response_type"}
    assert got["state"] == "st-123"


def oidcc_userinfo_get(ctx):
    assert _userinfo(ctx.flow, _tokens(ctx.flow)).get_json()["sub"] == ctx.user.sub


def oidcc_userinfo_post_header(ctx):
    assert _userinfo(ctx.flow, _tokens(ctx.flow), "post-header").get_json()["sub"] == ctx.user.sub


def oidcc_userinfo_post_body(ctx):
    assert _userinfo(ctx.flow, _tokens(ctx.flow), "post-body").get_json()["sub"] == ctx.user.sub


def oidcc_ensure_request_without_nonce_succeeds_for_code_flow(ctx):
    _, claims = decode_jwt(_tokens(ctx.flow)["id_token"])
    assert "nonce" not in claims


def _scope_case(scope, expected):
    def case(ctx):
        info = _userinfo(ctx.flow, _tokens(ctx.flow, scope=scope)).get_json()
        assert expected <= set(info), info
    return case


oidcc_scope_profile = _scope_case("openid profile", {"name", "preferred_username"})
oidcc_scope_email = _scope_case("openid email", {"email", "email_verified"})
oidcc_scope_address = _scope_case("openid address", {"sub"})  # not supported: ignored
oidcc_scope_phone = _scope_case("openid phone", {"phone_number"})
oidcc_scope_all = _scope_case("openid profile email address phone", {"name", "email", "phone_number"})
oidcc_ensure_other_scope_order_succeeds = _scope_case("email openid", {"email"})


def oidcc_display_page(ctx):
    _code(ctx.flow, display="page")


def oidcc_display_popup(ctx):
    _code(ctx.flow, display="popup")


def oidcc_prompt_login(ctx):
    response = ctx.flow.authorize(prompt="login")
    assert response.headers["Location"].startswith("/login?")
    assert query(response.headers["Location"])["prompt"] == "login"


def oidcc_prompt_none_not_logged_in(ctx):
    from idp.services import sessions

    sessions.end_session(ctx.session, "logout")
    assert query(ctx.flow.authorize(prompt="none").headers["Location"])["error"] == "login_required"


def oidcc_prompt_none_logged_in(ctx):
    _code(ctx.flow, prompt="none")


def oidcc_max_age_1(ctx):
    from idp.extensions import db

    ctx.session.auth_time -= timedelta(seconds=5)
    db.session.commit()
    response = ctx.flow.authorize(max_age="1")
    assert response.headers["Location"].startswith("/login?")


def oidcc_max_age_10000(ctx):
    _, claims = decode_jwt(_tokens(ctx.flow, max_age="10000")["id_token"])
    assert "auth_time" in claims


def oidcc_ensure_request_with_unknown_parameter_succeeds(ctx):
    _code(ctx.flow, extra="foobar")


def oidcc_id_token_hint(ctx):
    first = _tokens(ctx.flow)
    _code(ctx.flow, prompt="none", id_token_hint=first["id_token"])


def oidcc_login_hint(ctx):
    _code(ctx.flow, login_hint="an.nguyen@example.gov.vn")


def oidcc_ui_locales(ctx):
    _code(ctx.flow, ui_locales="vi-VN en")


def oidcc_claims_locales(ctx):
    _tokens(ctx.flow, claims_locales="vi")


def oidcc_ensure_request_with_acr_values_succeeds(ctx):
    _tokens(ctx.flow, acr_values="urn:idp:acr:pwd 1 2")


def oidcc_codereuse(ctx):
    got = _code(ctx.flow)
    assert ctx.flow.exchange(got["code"], None).status_code == 200
    assert ctx.flow.exchange(got["code"], None).get_json()["error"] == "invalid_grant"


def oidcc_codereuse_30seconds(ctx):
    got = _code(ctx.flow)
    first = ctx.flow.exchange(got["code"], None).get_json()
    assert ctx.flow.exchange(got["code"], None).get_json()["error"] == "invalid_grant"
    assert _userinfo(ctx.flow, first).status_code == 401  # the first access token is revoked


def oidcc_ensure_registered_redirect_uri(ctx):
    response = ctx.flow.authorize(redirect_uri="https://attacker.example/cb")
    assert response.status_code == 400 and "Location" not in response.headers


def oidcc_server_client_secret_post(ctx):
    from tests.conftest import _register

    # The plan's test client sends no PKCE: registered so (RFC 9700 §2.1.1), it relies on nonce.
    rp = _register("Post", client_type="web", client_id="post-rp", auth_method="client_secret_post",
                   redirect_uris=["https://post-rp.example/cb"], trusted=True, pkce_required=False)
    got = query(ctx.client.get("/authorize", query_string={
        "response_type": "code", "client_id": "post-rp", "redirect_uri": rp.redirect_uri,
        "scope": "openid"}).headers["Location"])
    response = ctx.client.post("/token", data={
        "grant_type": "authorization_code", "code": got["code"], "redirect_uri": rp.redirect_uri,
        "client_id": "post-rp", "client_secret": rp.client_secret})
    assert response.status_code == 200 and "id_token" in response.get_json()


def oidcc_unsigned_request_object_supported_correctly_or_rejected_as_unsupported(ctx):
    got = query(ctx.flow.authorize(request="eyJhbGciOiJub25lIn0.eyJzdGF0ZSI6IngifQ.").headers["Location"])
    assert got["error"] == "request_not_supported"


def oidcc_ensure_request_object_with_redirect_uri(ctx):
    got = query(ctx.flow.authorize(request_uri="https://rp.example/request.jwt").headers["Location"])
    assert got["error"] == "request_uri_not_supported"


def oidcc_claims_essential(ctx):
    body = _tokens(ctx.flow, claims=json.dumps({"userinfo": {"name": {"essential": True}}}))
    assert _userinfo(ctx.flow, body).get_json()["name"] == "Nguyễn Văn An"


def oidcc_refresh_token(ctx):
    body = _tokens(ctx.flow, scope="openid offline_access")
    newer = ctx.flow.refresh(body["refresh_token"])
    assert newer.status_code == 200
    _, first = decode_jwt(body["id_token"])
    _, second = decode_jwt(newer.get_json()["id_token"])
    assert (first["iss"], first["sub"], first["aud"]) == (second["iss"], second["sub"], second["aud"])


def oidcc_ensure_request_with_valid_pkce_succeeds(ctx):
    verifier, challenge = pkce_pair()
    got = _code(ctx.flow, code_challenge=challenge, code_challenge_method="S256")
    assert ctx.flow.exchange(got["code"], verifier).status_code == 200


def oidcc_ensure_post_request_succeeds(ctx):
    response = ctx.flow.authorize("POST")
    assert "code" in query(response.headers["Location"])


def oidcc_discovery_endpoint_verification(ctx):
    meta = ctx.client.get("/.well-known/openid-configuration").get_json()
    assert meta["issuer"] == ctx.app.config["ISSUER"]
    assert "code" in meta["response_types_supported"]
    assert "RS256" in meta["id_token_signing_alg_values_supported"]
    assert ctx.client.get("/jwks").get_json()["keys"]


MODULES = {name.replace("_", "-"): case for name, case in list(globals().items())
           if name.startswith("oidcc_") and callable(case)}


class Ctx:
    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_conformance_module(module, app, client, flow, user, sso_login):
    session = sso_login(user)
    MODULES[module](Ctx(app=app, client=client, flow=flow, user=user, session=session))


def test_plan_is_covered():
    assert len(MODULES) >= 35
