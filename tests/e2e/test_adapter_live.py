"""The client adapter (``clients/idp_client``) against the real provider, not the fake OP.

A document app instance (``docs-live``, its own client_id) runs as a real process;
``requests`` plays the browser. What the adapter stored is read from the app's own
SQLite session table, and its ID token is checked again here against the provider's
JWKS, so that a passing sign-in cannot hide a token the adapter should have refused.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from idp.demo import DEMO_PASSWORD
from tests.support.net import free_port
from tests.support.pages import csrf_token

pytestmark = [pytest.mark.e2e, pytest.mark.live]

CLIENT_ID = "docs-live"


class LiveApp:
    def __init__(self, url: str, database: str) -> None:
        self.url, self.database = url, database

    def sessions(self) -> list[dict]:
        """The adapter's server-side sessions that belong to a signed-in user."""
        with sqlite3.connect(self.database) as db:
            rows = db.execute("SELECT data, sid, sub FROM sso_session WHERE sub IS NOT NULL").fetchall()
        return [{"data": json.loads(data), "sid": sid, "sub": sub} for data, sid, sub in rows]


@pytest.fixture(scope="module")
def live_app(stack) -> LiveApp:
    host = stack.address(7)
    url = f"http://{host}:{free_port(host)}"
    out = stack.idp("client", "create", "--name", "Văn bản (kiểm thử bộ điều hợp)", "--client-id",
                    CLIENT_ID, "--redirect-uri", f"{url}/auth/callback",
                    "--post-logout-redirect-uri", f"{url}/auth/logged-out",
                    "--backchannel-logout-uri", f"{url}/auth/backchannel-logout",
                    "--scope", "openid profile email roles department offline_access",
                    "--trusted", "--json")
    created = json.loads(next(line for line in out.splitlines() if line.startswith("{")))
    stack.start_app("clients.docs_app", "DOCS", url, CLIENT_ID, created["client_secret"],
                    name=CLIENT_ID)
    return LiveApp(url, str(stack.run_dir / "apps" / f"{CLIENT_ID}.sqlite3"))


def sign_in(http: requests.Session, app_url: str, provider: str, username: str) -> requests.Response:
    """The adapter's /auth/login, the provider's sign-in form, and back to the app."""
    page = http.get(f"{app_url}/auth/login?next=/", timeout=30)
    assert page.url.startswith(provider + "/login"), page.url
    return http.post(page.url, timeout=30, data={
        "csrf_token": csrf_token(page.text), "username": username, "password": DEMO_PASSWORD})


def test_sign_in_through_the_adapter(stack, live_app):
    http = requests.Session()
    page = sign_in(http, live_app.url, stack.provider, "an.nguyen")

    assert page.status_code == 200
    assert page.url == live_app.url + "/"
    assert 'class="who-name">Nguyễn Văn An<' in page.text
    assert 'class="who-roles"></span>' not in page.text  # roles of this client only: none given
    mine = [s for s in live_app.sessions() if s["data"]["_sso_user"]["preferred_username"] == "an.nguyen"]
    assert len(mine) == 1 and mine[0]["sid"], "the adapter keeps one session bound to the OP's sid"


def test_the_id_token_the_adapter_accepted_is_valid(stack, live_app):
    http = requests.Session()
    sign_in(http, live_app.url, stack.provider, "cuong.le")
    (stored,) = [s for s in live_app.sessions()
                 if s["data"]["_sso_user"]["preferred_username"] == "cuong.le"]
    tokens = stored["data"]["_sso_token"]

    metadata = requests.get(stack.provider + "/.well-known/openid-configuration", timeout=10).json()
    keyset = KeySet.import_key_set(requests.get(metadata["jwks_uri"], timeout=10).json())
    token = jwt.decode(tokens["id_token"], keyset)
    claims = token.claims
    # OIDC Core 3.1.3.7: iss, aud, exp, iat; and the sid that back-channel logout names.
    assert token.header["alg"] in metadata["id_token_signing_alg_values_supported"]
    assert claims["iss"] == stack.provider
    assert claims["aud"] in (CLIENT_ID, [CLIENT_ID])
    assert claims["iat"] <= time.time() + 60 < claims["exp"] + 60
    assert claims["sub"] == stored["sub"]
    assert claims["sid"] == stored["sid"]
    assert claims.get("nonce"), "the adapter sent a nonce; the ID token must echo it"
    # The access token the adapter keeps works at the provider; a refresh token was kept too.
    info = requests.get(metadata["userinfo_endpoint"], timeout=10,
                        headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 200 and info.json()["sub"] == claims["sub"]
    assert tokens.get("refresh_token")


def test_backchannel_logout_from_the_provider_ends_the_app_session(stack, live_app):
    before = {s["sid"] for s in live_app.sessions()}
    http = requests.Session()
    sign_in(http, live_app.url, stack.provider, "an.nguyen")
    (mine,) = [s for s in live_app.sessions() if s["sid"] not in before]
    # Same SSO session in webmail (no password), then sign out there.
    webmail = http.get(stack.apps["webmail"] + "/sent", timeout=30)
    assert webmail.url == stack.apps["webmail"] + "/sent"
    out = http.post(stack.apps["webmail"] + "/auth/logout", timeout=30,
                    data={"csrf_token": csrf_token(webmail.text)})
    if urlsplit(out.url).path == "/end_session" and 'value="yes"' in out.text:
        out = http.post(urljoin(out.url, "/end_session"), timeout=30, data={
            **dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', out.text)),
            "confirm": "yes"})
    assert out.url.startswith(stack.apps["webmail"]), out.url

    deadline = time.monotonic() + 15
    while any(s["sid"] == mine["sid"] for s in live_app.sessions()) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert not any(s["sid"] == mine["sid"] for s in live_app.sessions()), \
        "the back-channel logout did not end the app's session for that sid"
    page = http.get(live_app.url + "/", timeout=30)
    assert 'class="who-name"' not in page.text

