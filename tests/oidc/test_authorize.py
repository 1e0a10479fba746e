"""/authorize: validation order, errors as pages before the redirect_uri is trusted,
errors redirected after, iss and state, form POST, form_post response mode."""

from __future__ import annotations

import pytest

from tests.support.flow import pkce_pair
from tests.support.urls import query


def test_success_redirects_with_code_state_and_iss(flow, signed_in, app):
    verifier, challenge = pkce_pair()
    response = flow.authorize(code_challenge=challenge, code_challenge_method="S256")
    assert response.status_code == 302
    assert response.headers["Location"].startswith(flow.rp.redirect_uri + "?")
    got = query(response.headers["Location"])
    assert set(got) == {"code", "state", "iss"}
    assert got["state"] == "st-123"
    assert got["iss"] == app.config["ISSUER"]  # RFC 9207 §2
    assert response.headers["Cache-Control"] == "no-store"


def test_post_request_is_supported(flow, signed_in):
    verifier, challenge = pkce_pair()
    response = flow.authorize("POST", code_challenge=challenge, code_challenge_method="S256")
    assert response.status_code == 302
    assert "code" in query(response.headers["Location"])


@pytest.mark.parametrize("params, description", [
    ({"client_id": None}, "client_id"),
    ({"client_id": "nobody"}, "not registered"),
    ({"redirect_uri": None}, "redirect_uri"),
    ({"redirect_uri": "http://127.0.0.2:5001/callback/extra"}, "not registered"),
    ({"redirect_uri": "http://127.0.0.2:5001/"}, "not registered"),
    ({"redirect_uri": "http://127.0.0.2:5001/callback?x=1"}, "not registered"),
    ({"redirect_uri": "https://evil.example/callback"}, "not registered"),
])
def test_bad_client_or_redirect_uri_is_a_page_never_a_redirect(flow, signed_in, params, description):
    response = flow.authorize(ui_locales="en", **params)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert response.mimetype == "text/html"
    assert description in response.get_data(as_text=True)


def test_disabled_client_is_a_page(flow, signed_in, confidential_client):
    from idp.extensions import db

    confidential_client.row.enabled = False
    db.session.commit()
    response = flow.authorize()
    assert response.status_code == 400 and "Location" not in response.headers


def test_unregistered_redirect_uri_page_is_vietnamese_by_default(flow, signed_in):
    response = flow.authorize(redirect_uri="https://evil.example/cb")
    assert "chưa được đăng ký" in response.get_data(as_text=True)


@pytest.mark.parametrize("params, error, description", [
    ({"response_type": None}, "invalid_request", "response_type parameter is missing"),
    ({"response_type": "token"}, "unsupported_response_type", "response_type=token"),
    ({"response_type": "code id_token"}, "unsupported_response_type", "code id_token"),
    ({"response_type": "id_token"}, "unsupported_response_type", "id_token"),
    ({"scope": "profile email"}, "invalid_scope", "openid scope is required"),
    ({"response_mode": "fragment"}, "invalid_request", "response_mode"),
    ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported", "request parameter"),
    ({"request_uri": "https://rp.example/req.jwt"}, "request_uri_not_supported", "request_uri"),
    ({"prompt": "none login"}, "invalid_request", "prompt=none cannot be combined"),
    ({"prompt": "sometimes"}, "invalid_request", "Unsupported prompt"),
    ({"max_age": "-1"}, "invalid_request", "max_age"),
    ({"max_age": "soon"}, "invalid_request", "max_age"),
    ({"claims": "{not json"}, "invalid_request", "not valid JSON"),
    ({"claims": '{"userinfo": ["name"]}'}, "invalid_request", "not a valid claims request"),
    ({"id_token_hint": "not.a.token"}, "invalid_request", "id_token_hint"),
])
def test_errors_after_redirect_uri_go_back_to_the_client(flow, signed_in, app, params, error, description):
    response = flow.authorize(**params)
    assert response.status_code == 302
    assert response.headers["Location"].startswith(flow.rp.redirect_uri)
    got = query(response.headers["Location"])
    assert got["error"] == error
    assert description in got["error_description"]
    assert got["state"] == "st-123"
    assert got["iss"] == app.config["ISSUER"]


def test_repeated_parameter_is_invalid_request(flow, signed_in, client, confidential_client):
    response = client.get(
        "/authorize?response_type=code&client_id=docs&scope=openid&scope=openid+email"
        f"&redirect_uri={confidential_client.redirect_uri}&state=s")
    got = query(response.headers["Location"])
    assert got["error"] == "invalid_request" and "scope" in got["error_description"]


def test_unknown_parameters_are_ignored(flow, signed_in):
    code, _ = flow.code(extra_parameter="whatever", display="page", claims_locales="vi")
    assert code


def test_form_post_response_mode(flow, signed_in, app):
    verifier, challenge = pkce_pair()
    response = flow.authorize(response_mode="form_post", code_challenge=challenge,
                              code_challenge_method="S256")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f'action="{flow.rp.redirect_uri}"' in page
    assert 'name="code"' in page and 'name="state" value="st-123"' in page
    assert f'name="iss" value="{app.config["ISSUER"]}"' in page
    assert "oidc-form-post.js" in page and "<button" in page
    assert "onload" not in page and "<script>" not in page  # no inline script
    csp = response.headers["Content-Security-Policy"]
    assert "form-action 'self' http://127.0.0.2:5001" in csp
    assert "script-src 'self'" in csp
    assert response.headers["Cache-Control"] == "no-store"


def test_form_post_errors_are_posted_too(flow, signed_in):
    response = flow.authorize(response_mode="form_post", response_type="token")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'name="error" value="unsupported_response_type"' in page


def test_form_post_script_is_served(client):
    response = client.get("/static/oidc-form-post.js")
    assert response.status_code == 200 and b"submit()" in response.data


def test_no_session_sends_to_login_with_resume_ticket(flow, client, user):
    response = flow.authorize(login_hint="an.nguyen", ui_locales="en vi")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/login?") or "/login?" in location
    got = query(location)
    assert got["login_hint"] == "an.nguyen"
    assert got["ui_locales"] == "en vi"
    assert got["next"].startswith("/authorize/resume?ticket=")
    assert "mfa" not in got and "prompt" not in got


def test_resume_after_sign_in_issues_the_code(flow, client, user, sso_login):
    got = query(flow.authorize().headers["Location"])
    sso_login(user)
    response = client.get(got["next"])
    assert response.status_code == 302
    assert "code" in query(response.headers["Location"])


def test_tampered_or_missing_ticket_is_a_page(client):
    response = client.get("/authorize/resume?ticket=forged")
    assert response.status_code == 400 and "Location" not in response.headers


def test_code_issued_is_audited(flow, signed_in):
    from idp.models import AuditEvent

    flow.code()
    assert AuditEvent.query.filter_by(event_type="code.issued", client="docs").count() == 1
