"""Consent: trusted clients skip it, others ask; remembered per client and scope set."""

from __future__ import annotations

import re

from tests.support.flow import pkce_pair
from tests.support.urls import query


def _consent_page(public_flow, **params):
    verifier, challenge = pkce_pair()
    response = public_flow.authorize(code_challenge=challenge, code_challenge_method="S256",
                                     **params)
    return response, verifier


def _submit(client, page: str, decision: str):
    ticket = re.search(r'name="ticket" value="([^"]+)"', page).group(1)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/authorize/consent", data={"ticket": ticket, "csrf_token": csrf,
                                                   "decision": decision})


def test_untrusted_client_asks_in_plain_words(public_flow, signed_in):
    response, _ = _consent_page(public_flow, scope="openid profile email", ui_locales="en")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Ứng dụng di động wants to access your account" in page
    assert "See your name, username, job title and employee number" in page
    assert "See your email address" in page
    assert "form-action 'self' http://127.0.0.1:8080" in response.headers["Content-Security-Policy"]


def test_consent_page_is_vietnamese_by_default(public_flow, signed_in):
    response, _ = _consent_page(public_flow, scope="openid email")
    assert "Xem địa chỉ thư điện tử của bạn" in response.get_data(as_text=True)


def test_allow_issues_code_and_is_remembered(public_flow, signed_in, client):
    response, verifier = _consent_page(public_flow, scope="openid email")
    answer = _submit(client, response.get_data(as_text=True), "allow")
    assert answer.status_code == 302
    got = query(answer.headers["Location"])
    assert got["state"] == "st-123" and "code" in got
    assert public_flow.exchange(got["code"], verifier).get_json()["scope"] == "openid email"
    again, _ = _consent_page(public_flow, scope="openid email")
    assert again.status_code == 302  # remembered
    wider, _ = _consent_page(public_flow, scope="openid email profile")
    assert wider.status_code == 200  # a wider scope set asks again


def test_deny_redirects_access_denied(public_flow, signed_in, client, app):
    response, _ = _consent_page(public_flow, scope="openid email")
    answer = _submit(client, response.get_data(as_text=True), "deny")
    got = query(answer.headers["Location"])
    assert got["error"] == "access_denied" and got["state"] == "st-123"
    assert got["iss"] == app.config["ISSUER"]
    from idp.models import AuditEvent

    assert AuditEvent.query.filter_by(event_type="consent.denied").count() == 1


def test_consent_form_requires_csrf(public_flow, signed_in, client):
    response, _ = _consent_page(public_flow, scope="openid email")
    ticket = re.search(r'name="ticket" value="([^"]+)"', response.get_data(as_text=True)).group(1)
    answer = client.post("/authorize/consent", data={"ticket": ticket, "decision": "allow"})
    assert answer.status_code == 400 and "Location" not in answer.headers


def test_trusted_client_skips_consent(flow, signed_in):
    assert flow.authorize(scope="openid profile email").status_code == 302


def test_prompt_consent_always_asks(flow, signed_in):
    response = flow.authorize(prompt="consent")
    assert response.status_code == 200 and 'name="decision"' in response.get_data(as_text=True)


def test_prompt_none_without_consent_is_consent_required(public_flow, signed_in):
    got = query(public_flow.authorize(prompt="none", scope="openid email",
                                      code_challenge=pkce_pair()[1],
                                      code_challenge_method="S256").headers["Location"])
    assert got["error"] == "consent_required"


def test_offline_access_with_prompt_consent_gives_refresh_token(public_flow, signed_in, client):
    response, verifier = _consent_page(public_flow, scope="openid offline_access", prompt="consent")
    got = query(_submit(client, response.get_data(as_text=True), "allow").headers["Location"])
    body = public_flow.exchange(got["code"], verifier).get_json()
    assert "refresh_token" in body and "offline_access" in body["scope"]


def test_withdraw_consent_revokes_tokens(public_flow, signed_in, client, user, public_client):
    from idp.services import consent

    response, verifier = _consent_page(public_flow, scope="openid email")
    got = query(_submit(client, response.get_data(as_text=True), "allow").headers["Location"])
    body = public_flow.exchange(got["code"], verifier).get_json()
    assert consent.withdraw_consent(user, public_client.row) is True
    answer = client.get("/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert answer.status_code == 401
    again, _ = _consent_page(public_flow, scope="openid email")
    assert again.status_code == 200  # asks again
