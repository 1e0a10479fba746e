"""The client adapter against our own provider over real HTTP, the same flows as against
node-oidc-provider (test_adapter_node_oidc_provider.py): sign-in, refresh across an
access-token expiry, RP-initiated logout and back-channel logout, and what prompt=consent
does with a client our provider trusts.

Our provider strips a trailing "/" from its issuer and does not sign userinfo responses:
those two are exercised against node-oidc-provider only.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.interop.adapter_kit import APP_ORIGIN, AppGateway, claims_of, docs
from tests.support.relying_party import AppBrowser

TTL = 2  # seconds: the access-token lifetime of the test client


def fill(page: str) -> dict[str, str]:
    if 'name="decision"' in page:
        return {"decision": "allow"}   # our consent page
    if 'name="confirm"' in page:
        return {"confirm": "yes"}      # our "Sign out?" page
    raise AssertionError("unexpected page from the provider: " + page[:300])


@pytest.fixture
def gateway() -> Iterator[AppGateway]:
    server = AppGateway()
    yield server
    server.stop()


@pytest.fixture
def registered(app, user, gateway):
    """The document app registered at our provider (trusted, as `idp demo` registers it)."""
    from idp.extensions import db
    from idp.models import Role
    from idp.services import clients

    row, secret = clients.create_client(
        "Quản lý văn bản (bộ điều hợp)", client_type="web", client_id="docs-rp",
        redirect_uris=[f"{APP_ORIGIN}/auth/callback"],
        post_logout_redirect_uris=[f"{APP_ORIGIN}/auth/logged-out"],
        backchannel_logout_uri=gateway.backchannel_uri("docs-rp"),
        scope="openid profile email offline_access roles department", trusted=True, roles=["clerk", "leader"])
    row.access_token_ttl = TTL
    user.roles.append(Role.query.filter_by(client_id=row.id, name="clerk").one())
    db.session.commit()
    return secret


@pytest.fixture
def op_browser(app, user) -> requests.Session:
    """A browser with a live SSO session at the provider (the sign-in page is tested elsewhere)."""
    from idp.services import sessions

    from idp.extensions import db

    _session, cookie = sessions.create_session(user, amr=["pwd"], acr="urn:idp:acr:pwd")
    db.session.commit()  # the live server reads it on its own connection
    http = requests.Session()
    http.cookies.set(app.config["SSO_COOKIE_NAME"], cookie, domain="127.0.0.1")
    return http


def rp(tmp_path, live_server, secret, gateway=None, **config):
    app = docs(tmp_path, "docs-rp", live_server, "docs-rp", secret, SSO_REFRESH_LEEWAY=0, **config)
    if gateway is not None:
        gateway.apps["docs-rp"] = app
    return app


def test_sign_in_without_a_consent_page_and_with_a_refresh_token(live_server, registered, op_browser, tmp_path):
    browser = AppBrowser(rp(tmp_path, live_server, registered), op_browser, fill)
    start = browser.client.get("/auth/login?next=/")
    assert "prompt" not in parse_qs(urlsplit(start.headers["Location"]).query)  # demo apps: trusted
    response = browser.client.get(browser.at_op(start.headers["Location"]))

    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert browser.op_pages == []  # single sign-on: no page at all
    token = browser.session_data()["_sso_token"]
    assert token["refresh_token"] and "offline_access" in token["scope"].split()
    page = browser.client.get("/").text
    assert 'class="who-name">Nguyễn Văn An<' in page and 'class="who-roles">clerk<' in page
    assert "Đề nghị phối hợp triển khai hệ thống đăng nhập một lần" in page  # department VP's


def test_prompt_consent_with_a_trusted_client_shows_our_consent_page(live_server, registered, op_browser,
                                                                     tmp_path):
    """Why the demo apps set SSO_OFFLINE_ACCESS_CONSENT=False: our provider honours prompt=consent."""
    browser = AppBrowser(rp(tmp_path, live_server, registered, SSO_OFFLINE_ACCESS_CONSENT=True), op_browser, fill)
    response = browser.sign_in()
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert len(browser.op_pages) == 1 and 'name="decision"' in browser.op_pages[0]
    assert browser.session_data()["_sso_token"]["refresh_token"]


def test_refresh_across_an_access_token_expiry_keeps_a_form_post(live_server, registered, op_browser, tmp_path):
    browser = AppBrowser(rp(tmp_path, live_server, registered), op_browser, fill)
    assert browser.sign_in().status_code == 302
    before = browser.session_data()["_sso_token"]
    userinfo = f"{live_server}/userinfo"
    time.sleep(TTL + 1)
    expired = requests.get(userinfo, headers={"Authorization": f"Bearer {before['access_token']}"}, timeout=5)
    assert expired.status_code == 401

    created = browser.post("/documents/new", {"direction": "incoming", "number": "3/UBND",
                                              "title": "Văn bản đến sau khi làm mới", "counterpart": "UBND"})
    assert created.status_code == 302 and created.headers["Location"].startswith("/documents/")
    after = browser.session_data()["_sso_token"]
    assert after["access_token"] != before["access_token"] and after["refresh_token"] != before["refresh_token"]
    fresh = requests.get(userinfo, headers={"Authorization": f"Bearer {after['access_token']}"}, timeout=5)
    assert fresh.status_code == 200 and fresh.json()["sub"] == claims_of(after["id_token"])["sub"]


def test_rp_initiated_logout_then_back_channel_logout(app, live_server, registered, op_browser, gateway,
                                                     tmp_path):
    from idp.services import backchannel

    browser = AppBrowser(rp(tmp_path, live_server, registered, gateway), op_browser, fill)
    other = AppBrowser(browser.app, op_browser, fill)  # a second tab's local session, same SSO session
    assert browser.sign_in().status_code == 302 and other.sign_in().status_code == 302
    sid = browser.session_data()["_sso_sid"]
    assert browser.app.extensions["idp_client"].store.count(sid=sid) == 2

    back = browser.sign_out()
    assert back.status_code == 302 and back.headers["Location"] == "/"
    assert browser.app.extensions["idp_client"].store.count(sid=sid) == 1  # the other tab, until told

    backchannel.deliver_due()  # what `idp worker` does with the logout outbox
    (call,) = [c for c in gateway.calls if c["path"] == "/auth/backchannel-logout"]
    assert call["status"] == 200
    assert claims_of(parse_qs(call["form"])["logout_token"][0])["sid"] == sid
    assert browser.app.extensions["idp_client"].store.count(sid=sid) == 0
    assert "who-name" not in other.client.get("/").text
