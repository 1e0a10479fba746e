"""The HTTP edge: one JSON error shape, one no-store helper, CSP built from parts."""

from __future__ import annotations

import re

import pytest
from flask import Response

from idp import responses

# --- Content-Security-Policy -------------------------------------------------------------

BASE_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")


def test_every_page_gets_the_exact_policy(client):
    response = client.get("/healthz")
    assert response.headers["Content-Security-Policy"] == BASE_CSP


def test_form_action_names_each_origin_once_and_nothing_dangles():
    response = responses.allow_form_action(
        Response(), "https://rp.example/cb?x=1", None, "https://rp.example/other", "http://b.example:8/")
    assert response.headers["Content-Security-Policy"] == BASE_CSP.replace(
        "form-action 'self'", "form-action 'self' https://rp.example http://b.example:8")


def test_no_directive_has_an_empty_source_list():
    for policy in (responses.csp(), responses.csp(form_action=[]), responses.csp(frame_src=[""])):
        for directive in policy.split("; "):
            assert re.fullmatch(r"[a-z-]+( \S+)+", directive), directive
    assert "frame-src" not in responses.csp(frame_src=[])


def test_a_new_directive_comes_after_the_base_ones():
    assert responses.csp(frame_src=["https://a.example", "https://a.example"]) == (
        BASE_CSP + "; frame-src https://a.example")


# --- no-store ----------------------------------------------------------------------------


def test_no_store_sets_both_headers():
    # RFC 6749 §5.1: Cache-Control: no-store and Pragma: no-cache.
    response = responses.no_store(Response())
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"


def test_no_store_is_set_only_by_the_helper():
    from pathlib import Path

    package = Path(responses.__file__).parent
    hand_set = [str(p.relative_to(package)) for p in package.rglob("*.py")
                if p.name != "responses.py"
                and re.search(r"""["']Cache-Control["']\s*[\]:]\s*=?\s*["']no-store""", p.read_text())]
    # backchannel.py sends the header on an outgoing request, not in a response.
    assert hand_set == ["services/backchannel.py"] or hand_set == []


# --- the one JSON error shape ------------------------------------------------------------


def test_json_error_shape_and_challenge(app):
    with app.test_request_context():
        response = responses.json_error("invalid_token", "Expired.", 401,
                                        www_authenticate=responses.challenge(error="invalid_token"))
    assert response.status_code == 401
    assert response.get_json() == {"error": "invalid_token", "error_description": "Expired."}
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert response.headers["Cache-Control"] == "no-store"


def test_the_challenge_leaves_out_missing_parameters():
    assert responses.challenge() == "Bearer"
    assert responses.challenge(realm="idp", error=None) == 'Bearer realm="idp"'


def _placeholder(rule) -> dict:
    from werkzeug.routing.converters import NumberConverter

    return {name: 1 if isinstance(rule._converters.get(name), NumberConverter) else "x"
            for name in rule.arguments}


BAD_INPUTS = [
    {"method": "GET"},
    {"method": "POST", "data": "not=a&form"},
    {"method": "POST", "data": "{not json", "content_type": "application/json"},
    {"method": "POST", "json": [[["deep"]]]},
    {"method": "PATCH", "json": {"unknown": 1}, "headers": {"Authorization": "Bearer junk"}},
    {"method": "DELETE", "headers": {"Authorization": "Basic !!!"}},
]


def _is_error_body_exempt(path: str, response) -> bool:
    # RFC 6750 §3.1: a request to a protected resource without any token gets the bare
    # challenge, with no error code (so no error body either).
    return path == "/userinfo" and response.get_json() == {}


def test_every_json_error_has_error_and_error_description(app, client, confidential_client):
    """Walk every route with bad input, asking for JSON: each JSON error names both keys,
    and nothing answers 500."""
    seen = 0
    paths = sorted({rule.rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"})
    rules = {rule.rule: rule for rule in app.url_map.iter_rules()}
    for template in [*paths, "/no/such/path", "/api/admin/no-such"]:
        rule = rules.get(template)
        path = rule.build(_placeholder(rule))[1] if rule is not None else template
        for bad in BAD_INPUTS:
            kwargs = dict(bad)
            method = kwargs.pop("method")
            headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
            response = client.open(path, method=method, headers=headers, **kwargs)
            assert response.status_code != 500, (method, path)
            if response.status_code < 400 or not response.is_json:
                continue
            if _is_error_body_exempt(path, response):
                continue
            body = response.get_json()
            assert isinstance(body.get("error"), str) and body["error"], (method, path, body)
            assert isinstance(body.get("error_description"), str) and body["error_description"], (
                method, path, body)
            seen += 1
    assert seen > 50  # the walk reached the JSON endpoints, not only the 404 page


@pytest.mark.parametrize("path", ["/token", "/introspect", "/revoke"])
def test_authlib_errors_carry_a_description(client, path):
    # Authlib raises InvalidClientError() with no description; RFC 6749 §5.2 shape anyway.
    response = client.post(path, data={"grant_type": "authorization_code", "token": "x"},
                           headers={"Authorization": "Basic bm9ib2R5Om5vdGhpbmc="})
    assert response.status_code == 401
    body = response.get_json()
    assert body["error"] == "invalid_client"
    assert body["error_description"] == "Client authentication failed."


# --- URLs from the router, under the issuer -------------------------------------------------


def test_discovery_urls_come_from_the_router_under_the_issuer(config):
    from idp import create_app

    app = create_app({**config, "ISSUER": "https://idp.example/sso"})
    with app.app_context():
        from idp.oidc.discovery import metadata
        from idp.urls import external_url

        data = metadata()
        assert external_url("registration.read", client_id="a b") == (
            "https://idp.example/sso/register/a%20b")
    assert data["token_endpoint"] == "https://idp.example/sso/token"
    assert data["authorization_endpoint"] == "https://idp.example/sso/authorize"
    assert data["jwks_uri"] == "https://idp.example/sso/jwks"
    assert data["end_session_endpoint"] == "https://idp.example/sso/end_session"
