"""The OpenID Foundation's oidcc-basic and oidcc-config test plans, one case per module:
each reproduces what that module sends and asserts what it checks."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.support.flow import decode_jwt, pkce_pair
from tests.support.urls import query


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


def _sign_in_page(ctx, **params):
    """With no SSO session: /authorize sends the browser to the sign-in page; that page."""
    from idp.services import sessions

    sessions.end_session(ctx.session, "logout")
    response = ctx.flow.authorize(**params)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?")
    page = ctx.client.get(response.headers["Location"])
    assert page.status_code == 200 and page.mimetype == "text/html"
    return query(response.headers["Location"]), page.get_data(as_text=True)


def _display_case(display):
    # OIDC Core §3.1.2.1 display: a value the OP need not tailor for, but must accept; the
    # sign-in is a whole page, and with a session the code comes back with the state.
    def case(ctx):
        got = _code(ctx.flow, display=display)
        assert (got["state"], got["iss"]) == ("st-123", ctx.app.config["ISSUER"])
        _, html = _sign_in_page(ctx, display=display)
        assert html.lstrip().lower().startswith("<!doctype html>") and 'name="password"' in html
    return case


oidcc_display_page = _display_case("page")
oidcc_display_popup = _display_case("popup")


def oidcc_prompt_login(ctx):
    response = ctx.flow.authorize(prompt="login")
    assert response.headers["Location"].startswith("/login?")
    assert query(response.headers["Location"])["prompt"] == "login"


def oidcc_prompt_none_not_logged_in(ctx):
    from idp.services import sessions

    sessions.end_session(ctx.session, "logout")
    assert query(ctx.flow.authorize(prompt="none").headers["Location"])["error"] == "login_required"


def oidcc_prompt_none_logged_in(ctx):
    # OIDC Core §3.1.2.6: no page; straight back to the client with the session's user.
    response = ctx.flow.authorize(prompt="none")
    assert response.headers["Location"].startswith(ctx.flow.rp.redirect_uri + "?")
    got = query(response.headers["Location"])
    assert "error" not in got and got["state"] == "st-123"
    body = ctx.flow.exchange(got["code"], None).get_json()
    _, claims = decode_jwt(body["id_token"])
    assert claims["sub"] == ctx.user.sub
    assert claims["auth_time"] == int(ctx.session.auth_time.timestamp())  # no new sign-in


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
    # OIDC Core §3.1.2.1 (RFC 6749 §3.1): parameters the OP does not understand are ignored.
    got = _code(ctx.flow, extra="foobar")
    assert set(got) == {"code", "state", "iss"}
    assert ctx.flow.exchange(got["code"], None).status_code == 200


def oidcc_id_token_hint(ctx):
    import time

    from idp.services import keys

    # OIDC Core §3.1.2.1 id_token_hint: the hint of the signed-in user is honoured silently...
    first = _tokens(ctx.flow)
    got = _code(ctx.flow, prompt="none", id_token_hint=first["id_token"])
    _, claims = decode_jwt(ctx.flow.exchange(got["code"], None).get_json()["id_token"])
    assert claims["sub"] == ctx.user.sub
    # ...one naming another user is not: prompt=none gives login_required (§3.1.2.6), and
    # without prompt=none the user must sign in again.
    now = int(time.time())
    other = keys.sign({"iss": ctx.app.config["ISSUER"], "sub": "someone-else", "aud": "docs",
                       "iat": now, "exp": now + 600})
    got = query(ctx.flow.authorize(prompt="none", id_token_hint=other).headers["Location"])
    assert (got["error"], got["state"]) == ("login_required", "st-123") and "code" not in got
    response = ctx.flow.authorize(id_token_hint=other)
    assert response.headers["Location"].startswith("/login?")
    assert query(response.headers["Location"])["prompt"] == "login"


def oidcc_login_hint(ctx):
    # OIDC Core §3.1.2.1 login_hint: with a session the code comes back; without, the
    # sign-in page is filled in with the hint.
    assert "code" in _code(ctx.flow, login_hint="an.nguyen")
    got, html = _sign_in_page(ctx, login_hint="an.nguyen@example.gov.vn")
    assert got["login_hint"] == "an.nguyen@example.gov.vn"
    assert 'value="an.nguyen@example.gov.vn"' in html


def oidcc_ui_locales(ctx):
    # OIDC Core §3.1.2.1 ui_locales: the first supported tag of the list picks the language.
    got, html = _sign_in_page(ctx, ui_locales="en-GB vi")
    assert got["ui_locales"] == "en-GB vi" and '<html lang="en">' in html
    assert '<html lang="vi">' in ctx.client.get(ctx.flow.authorize(
        ui_locales="fr vi-VN en").headers["Location"]).get_data(as_text=True)


def oidcc_claims_locales(ctx):
    # OIDC Core §5.2: claims_locales is accepted; claims come in the one script they are kept in.
    body = _tokens(ctx.flow, scope="openid profile", claims_locales="vi")
    assert _userinfo(ctx.flow, body).get_json()["name"] == "Nguyễn Văn An"


def oidcc_ensure_request_with_acr_values_succeeds(ctx):
    # OIDC Core §3.1.2.1 acr_values (voluntary): values we do not know are ignored, and the
    # ID token states the acr the session reached.
    _, claims = decode_jwt(_tokens(ctx.flow, acr_values="urn:idp:acr:pwd 1 2")["id_token"])
    assert claims["acr"] == "urn:idp:acr:pwd"


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
    from tests.support.clients import register

    # The plan's test client sends no PKCE: registered so (RFC 9700 §2.1.1), it relies on nonce.
    rp = register("Post", client_type="web", client_id="post-rp", auth_method="client_secret_post",
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


# The modules of the oidcc-basic-certification-test-plan (and the config plan's one) that
# apply to a code-flow provider without request objects by value/reference support.
PLAN = {
    "oidcc-server", "oidcc-response-type-missing", "oidcc-userinfo-get",
    "oidcc-userinfo-post-header", "oidcc-userinfo-post-body",
    "oidcc-ensure-request-without-nonce-succeeds-for-code-flow", "oidcc-scope-profile",
    "oidcc-scope-email", "oidcc-scope-address", "oidcc-scope-phone", "oidcc-scope-all",
    "oidcc-ensure-other-scope-order-succeeds", "oidcc-display-page", "oidcc-display-popup",
    "oidcc-prompt-login", "oidcc-prompt-none-not-logged-in", "oidcc-prompt-none-logged-in",
    "oidcc-max-age-1", "oidcc-max-age-10000",
    "oidcc-ensure-request-with-unknown-parameter-succeeds", "oidcc-id-token-hint",
    "oidcc-login-hint", "oidcc-ui-locales", "oidcc-claims-locales",
    "oidcc-ensure-request-with-acr-values-succeeds", "oidcc-codereuse",
    "oidcc-codereuse-30seconds", "oidcc-ensure-registered-redirect-uri",
    "oidcc-server-client-secret-post",
    "oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported",
    "oidcc-ensure-request-object-with-redirect-uri", "oidcc-claims-essential",
    "oidcc-refresh-token", "oidcc-ensure-request-with-valid-pkce-succeeds",
    "oidcc-ensure-post-request-succeeds", "oidcc-discovery-endpoint-verification",
}


def test_plan_is_covered():
    assert sorted(PLAN - set(MODULES)) == [], "plan modules without a case"
    assert sorted(set(MODULES) - PLAN) == [], "cases for modules not in the plan"
