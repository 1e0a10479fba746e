"""The contract with /authorize: sign in on the way, then the relying party gets its code."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

from idp.models import SsoSession
from tests.support.browser import code_at
from tests.support.constants import PASSWORD

VERIFIER = "a" * 64
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()


def _authorize(browser, client, **extra):
    query = {"client_id": client.client_id, "redirect_uri": client.redirect_uri,
             "response_type": "code", "scope": "openid", "state": "s1", "nonce": "n1",
             "code_challenge": CHALLENGE, "code_challenge_method": "S256", **extra}
    return browser.get("/authorize", query_string=query)


def _follow(browser, response, limit: int = 6):
    while response.status_code in (302, 303) and limit:
        location = response.headers["Location"]
        if not location.startswith("/"):
            return location
        response, limit = browser.get(location), limit - 1
    return response


def test_sign_in_during_authorize_returns_a_code(browser, user, confidential_client):
    first = _authorize(browser, confidential_client, login_hint="an.nguyen", ui_locales="en")
    assert first.status_code == 302
    login = urlsplit(first.headers["Location"])
    assert login.path == "/login"
    args = parse_qs(login.query)
    assert args["login_hint"] == ["an.nguyen"] and args["next"][0].startswith("/")
    page = browser.get(first.headers["Location"])
    assert b'value="an.nguyen"' in page.data and b'<html lang="en">' in page.data
    signed_in = browser.submit(first.headers["Location"],
                               {"username": "an.nguyen", "password": PASSWORD})
    final = _follow(browser, signed_in)
    assert isinstance(final, str) and final.startswith(confidential_client.redirect_uri)
    assert parse_qs(urlsplit(final).query)["state"] == ["s1"]
    assert "code" in parse_qs(urlsplit(final).query)


def test_acr_values_mfa_steps_up_a_password_session(browser, user, phone, sso_login,
                                                    confidential_client):
    sso_login(user)
    first = _authorize(browser, confidential_client, acr_values="urn:idp:acr:mfa")
    step = _follow(browser, first, limit=1)
    assert step.status_code == 302 and step.headers["Location"].startswith("/login/otp")
    done = browser.submit("/login/otp", {"code": code_at(phone.secret)})
    final = _follow(browser, done)
    assert isinstance(final, str) and final.startswith(confidential_client.redirect_uri)
    assert SsoSession.query.one().acr == "urn:idp:acr:mfa"
