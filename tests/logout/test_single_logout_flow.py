"""The main flow of DESIGN.md end to end: two apps signed in through /authorize and /token,
sign out in one, the other is told by back-channel with the sid of its own ID token."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt

from idp.services import keys
from idp.ops.worker import Worker


def _basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


@pytest.fixture
def apps(app, receiver):
    from idp.services import clients

    made = {}
    for name, extra in (("docs", {"backchannel_logout_uri": receiver.uri}),
                        ("mail", {"post_logout_redirect_uris": ["http://127.0.0.1:9000/mail/"]})):
        row, secret = clients.create_client(
            f"App {name}", client_type="web", client_id=name, trusted=True,
            redirect_uris=[f"http://127.0.0.1:9000/{name}/callback"],
            scope="openid profile offline_access", **extra)
        made[name] = (row, secret)
    return made


def _sign_in(client, client_id: str, secret: str) -> dict:
    """The code flow with PKCE, as the app's adapter runs it; returns the token response."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    redirect_uri = f"http://127.0.0.1:9000/{client_id}/callback"
    response = client.get("/authorize", query_string={
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
        "scope": "openid profile offline_access", "state": "st", "nonce": "nn",
        "code_challenge": challenge, "code_challenge_method": "S256"})
    assert response.status_code == 302, response.get_data(as_text=True)
    code = parse_qs(urlsplit(response.headers["Location"]).query)["code"][0]
    response = client.post("/token", headers=_basic(client_id, secret), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
        "code_verifier": verifier})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_sign_out_in_one_app_signs_out_the_other(app, client, user, sso_login, apps, receiver):
    session = sso_login(user)
    docs = _sign_in(client, "docs", apps["docs"][1])
    mail = _sign_in(client, "mail", apps["mail"][1])
    docs_sid = jwt.decode(docs["id_token"], keys.public_keyset()).claims["sid"]
    assert docs_sid == session.sid

    response = client.get("/end_session", query_string={
        "id_token_hint": mail["id_token"], "post_logout_redirect_uri": "http://127.0.0.1:9000/mail/",
        "state": "bye"})
    assert response.status_code == 302
    assert response.headers["Location"] == "http://127.0.0.1:9000/mail/?state=bye"

    receiver.start()
    Worker(app).run_once()
    (token,) = receiver.tokens()
    claims = jwt.decode(token, keys.public_keyset()).claims
    assert (claims["aud"], claims["sid"], claims["sub"]) == ("docs", docs_sid, user.sub)

    # The tokens issued in the session no longer work (RFC 6749 §5.2: invalid_grant).
    refreshed = client.post("/token", headers=_basic("docs", apps["docs"][1]), data={
        "grant_type": "refresh_token", "refresh_token": docs["refresh_token"]})
    assert refreshed.status_code == 400
    assert refreshed.get_json()["error"] == "invalid_grant"
    # And the browser must sign in again.
    again = client.get("/authorize", query_string={
        "response_type": "code", "client_id": "docs", "scope": "openid", "state": "s",
        "redirect_uri": "http://127.0.0.1:9000/docs/callback", "code_challenge": "x" * 43,
        "code_challenge_method": "S256"})
    assert "code=" not in again.headers.get("Location", "")
