"""The client adapter, unchanged, as relying party of an OpenID-certified provider we did not
write: panva's node-oidc-provider 9.13.3 (issue 19).

The document app signs in, refreshes across an access-token expiry, reads a signed userinfo
response, works with an issuer ending in "/", and signs out (RP-initiated and back-channel
logout, with ``sid`` and with ``sub`` only). The provider is a real process on a free
loopback port (``tests/interop/node_op/op.mjs``; scripts/setup installs its npm packages).
"""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.interop.adapter_kit import APP_ORIGIN, AppGateway, claims_of, docs, need_node
from tests.support.relying_party import AppBrowser

NODE_OP = Path(__file__).resolve().parent / "node_op"
USER = {"sub": "node-u-1", "username": "an.nguyen", "password": "mật-khẩu-thử", "name": "Nguyễn Văn An",
        "email": "an.nguyen@example.gov.vn", "groups": ["clerk"], "department": "VP"}
SHORT_TTL = 2  # seconds; the access token of client "docs-short"
# What another provider needs from the adapter's configuration (documented in clients/README.md).
# The demo apps turn prompt=consent off because our provider trusts them; this one does not.
GENERIC = {"SSO_SCOPE": "openid profile email groups offline_access", "SSO_ROLES_CLAIM": "groups",
           "SSO_DEPARTMENT_CLAIM": "department", "SSO_OFFLINE_ACCESS_CONSENT": True}
CLIENTS = {  # client_id: extra registration metadata
    "docs": {"backchannel_logout_session_required": True},
    "docs-sub": {"backchannel_logout_session_required": False},
    "docs-jwt": {"backchannel_logout_session_required": True, "userinfo_signed_response_alg": "RS256"},
    "docs-short": {"access_token_ttl": SHORT_TTL},
}


def signed_in_sessions(browser: AppBrowser) -> int:
    with sqlite3.connect(browser.app.extensions["idp_client"].store.path) as db:
        return db.execute("SELECT COUNT(*) FROM sso_session WHERE sub IS NOT NULL").fetchone()[0]


def fill(page: str) -> dict[str, str]:
    """The provider's login form gets the password; its consent form is simply confirmed."""
    if 'name="username"' in page:
        return {"username": USER["username"], "password": USER["password"]}
    if "op.logoutForm" in page:
        return {"logout": "yes"}
    return {}


class NodeOP:
    def __init__(self, gateway: AppGateway, trailing_slash: bool) -> None:
        clients = [{
            "client_id": client_id, "client_secret": f"{client_id}-secret",
            "redirect_uris": [f"{APP_ORIGIN}/auth/callback"],
            "post_logout_redirect_uris": [f"{APP_ORIGIN}/auth/logged-out"],
            "backchannel_logout_uri": gateway.backchannel_uri(client_id), **extra,
        } for client_id, extra in CLIENTS.items()]
        env = dict(os.environ, NODE_OP_CONFIG=json.dumps(
            {"trailingSlash": trailing_slash, "user": USER, "clients": clients}))
        self.process = subprocess.Popen(["node", "op.mjs"], cwd=NODE_OP, env=env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def wait(self) -> str:
        line = self.process.stdout.readline() if self.process.stdout else ""
        if not line:
            raise AssertionError("node-oidc-provider did not start: " + (self.process.stderr.read() or ""))
        self.issuer: str = json.loads(line)["issuer"]
        return self.issuer

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture(scope="module")
def gateway() -> Iterator[AppGateway]:
    server = AppGateway()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def providers(gateway: AppGateway) -> Iterator[dict[str, str]]:
    """Two provider processes: issuer "http://127.0.0.1:<port>" and one ending in "/"."""
    need_node(NODE_OP, "oidc-provider")
    started = {"plain": NodeOP(gateway, False), "slash": NodeOP(gateway, True)}
    try:
        yield {name: op.wait() for name, op in started.items()}
    finally:
        for op in started.values():
            op.stop()


@pytest.fixture
def issuer(providers: dict[str, str]) -> str:
    return providers["plain"]


def app_for(tmp_path: Path, issuer: str, client_id: str, gateway: AppGateway | None = None, **config: Any):
    app = docs(tmp_path, client_id, issuer, client_id, f"{client_id}-secret", **GENERIC, **config)
    if gateway is not None:
        gateway.apps[client_id] = app
    return app


def test_sign_in_with_consent_gets_a_refresh_token_and_mapped_claims(issuer: str, tmp_path: Path) -> None:
    browser = AppBrowser(app_for(tmp_path, issuer, "docs"), fill=fill)
    start = browser.client.get("/auth/login?next=/")
    params = parse_qs(urlsplit(start.headers["Location"]).query)
    # OIDC Core 11: offline_access with prompt=consent, or no refresh token (item 1).
    assert params["prompt"] == ["consent"] and "offline_access" in params["scope"][0].split()
    response = browser.client.get(browser.at_op(start.headers["Location"]))

    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert any("consent" in page for page in browser.op_pages)  # the provider asked, as §11 wants
    token = browser.session_data()["_sso_token"]
    assert token["refresh_token"] and "offline_access" in token["scope"].split()
    page = browser.client.get("/").text
    # Roles from "groups", the department from a plain string (item 6): the clerk's documents.
    assert 'class="who-name">Nguyễn Văn An<' in page and 'class="who-roles">clerk<' in page
    assert "Đề nghị phối hợp triển khai hệ thống đăng nhập một lần" in page  # department VP's


def test_refresh_across_an_access_token_expiry_keeps_a_form_post(issuer: str, tmp_path: Path) -> None:
    browser = AppBrowser(app_for(tmp_path, issuer, "docs-short", SSO_REFRESH_LEEWAY=0), fill=fill)
    assert browser.sign_in().status_code == 302
    before = browser.session_data()["_sso_token"]
    time.sleep(SHORT_TTL + 1)
    userinfo = requests.get(f"{issuer}/me", headers={"Authorization": f"Bearer {before['access_token']}"},
                            timeout=5)
    assert userinfo.status_code == 401  # the provider's access token has really expired

    # A form POST in flight when the token expires: refreshed, not sent to sign in (item 2).
    created = browser.post("/documents/new", {"direction": "outgoing", "number": "7/BNV-VP",
                                              "title": "Công văn sau khi làm mới", "counterpart": "Sở"})
    assert created.status_code == 302 and created.headers["Location"].startswith("/documents/")
    assert "Công văn sau khi làm mới" in browser.client.get(created.headers["Location"]).text
    after = browser.session_data()["_sso_token"]
    assert after["access_token"] != before["access_token"]
    assert after["refresh_token"] != before["refresh_token"]  # the provider rotates it
    fresh = requests.get(f"{issuer}/me", headers={"Authorization": f"Bearer {after['access_token']}"},
                         timeout=5)
    assert fresh.status_code == 200 and fresh.json()["sub"] == USER["sub"]


def test_signed_userinfo_is_verified_and_used(issuer: str, tmp_path: Path) -> None:
    browser = AppBrowser(app_for(tmp_path, issuer, "docs-jwt"), fill=fill)
    response = browser.sign_in()
    assert response.status_code == 302, response.text  # was 502 "Expecting value" (item 4)
    claims = browser.session_data()["_sso_user"]
    # node-oidc-provider puts profile claims only in userinfo: these came from the signed JWT.
    assert claims["name"] == USER["name"] and claims["groups"] == ["clerk"]
    assert 'class="who-name">Nguyễn Văn An<' in browser.client.get("/").text


def test_issuer_with_a_trailing_slash(providers: dict[str, str], tmp_path: Path) -> None:
    issuer = providers["slash"]
    assert issuer.endswith("/")
    browser = AppBrowser(app_for(tmp_path, issuer, "docs"), fill=fill)
    response = browser.sign_in()
    assert response.status_code == 302 and response.headers["Location"] == "/"  # was 502 (item 3)
    id_token = browser.session_data()["_sso_token"]["id_token"]
    assert claims_of(id_token)["iss"] == issuer
    assert browser.sign_out().headers["Location"] == "/"


def test_an_issuer_written_without_its_slash_is_refused(providers: dict[str, str], tmp_path: Path) -> None:
    """Discovery §4.3: the configured issuer must be the provider's, character for character."""
    browser = AppBrowser(app_for(tmp_path, providers["slash"].rstrip("/"), "docs"), fill=fill)
    page = browser.client.get("/auth/login?next=/")
    assert page.status_code == 502
    assert "invalid_issuer" in page.text and "unreachable" not in page.text


def test_rp_initiated_logout_and_back_channel_logout_with_sid_and_with_sub(
        issuer: str, gateway: AppGateway, tmp_path: Path) -> None:
    """One person in three apps at the provider; signing out of one ends the other two."""
    op_browser = requests.Session()
    docs_sid = AppBrowser(app_for(tmp_path, issuer, "docs", gateway), op_browser, fill)
    docs_sub = AppBrowser(app_for(tmp_path, issuer, "docs-sub", gateway), op_browser, fill)
    leaving = AppBrowser(app_for(tmp_path, issuer, "docs-jwt", gateway), op_browser, fill)
    for browser in (docs_sid, docs_sub, leaving):
        assert browser.sign_in().status_code == 302
    assert [signed_in_sessions(b) for b in (docs_sid, docs_sub, leaving)] == [1, 1, 1]
    state = leaving.session_data()
    gateway.calls.clear()

    out = leaving.post("/auth/logout")
    end_session = urlsplit(out.headers["Location"])
    params = parse_qs(end_session.query)
    assert f"{end_session.scheme}://{end_session.netloc}{end_session.path}" == f"{issuer}/session/end"
    assert params["id_token_hint"] == [state["_sso_token"]["id_token"]]
    assert params["post_logout_redirect_uri"] == [f"{APP_ORIGIN}/auth/logged-out"]
    back = leaving.client.get(leaving.at_op(out.headers["Location"]))
    assert back.status_code == 302 and back.headers["Location"] == "/"

    delivered = {call["app"]: call for call in gateway.calls if call["path"] == "/auth/backchannel-logout"}
    assert {name: call["status"] for name, call in delivered.items()} == {
        "docs": 200, "docs-sub": 200, "docs-jwt": 200}
    tokens = {name: claims_of(parse_qs(call["form"])["logout_token"][0]) for name, call in delivered.items()}
    assert "sid" in tokens["docs"] and "sid" not in tokens["docs-sub"]  # sub only
    for browser in (docs_sid, docs_sub, leaving):
        assert signed_in_sessions(browser) == 0  # no local session of a signed-in user left
        page = browser.client.get("/").text
        assert "Đăng nhập" in page and "who-name" not in page


def test_a_tampered_callback_gets_a_clean_400(issuer: str, tmp_path: Path) -> None:
    browser = AppBrowser(app_for(tmp_path, issuer, "docs"), fill=fill)
    start = browser.client.get("/auth/login?next=/")
    callback = browser.at_op(start.headers["Location"])
    page = browser.client.get(callback.replace("code=", "code=x"))
    assert page.status_code == 400 and "invalid_grant" in page.text
    assert "who-name" not in browser.client.get("/").text
