"""RFC 9700 MUSTs not covered by a feature's own tests: no ROPC or implicit grant, https
redirect URIs off loopback, no 307 after a credentials POST, no trust in forwarded headers
unless configured, and the SSO session timeouts (ASVS 3.3.1, 3.3.2)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from idp.errors import InvalidInput
from tests.support.constants import PASSWORD
from tests.support.flow import Flow
from tests.support.pages import csrf_token
from tests.support.urls import query


def test_password_grant_is_not_offered(client, confidential_client):
    """RFC 9700 §2.4: the resource owner password credentials grant MUST NOT be used."""
    response = client.post("/token", auth=("docs", confidential_client.client_secret), data={
        "grant_type": "password", "username": "an.nguyen", "password": PASSWORD})
    assert response.status_code == 400
    assert response.get_json()["error"] == "unsupported_grant_type"
    metadata = client.get("/.well-known/openid-configuration").get_json()
    assert "password" not in metadata.get("grant_types_supported", [])


@pytest.mark.parametrize("response_type", ["token", "id_token", "code token", "code id_token"])
def test_implicit_and_hybrid_are_refused(client, confidential_client, user, sso_login,
                                         response_type):
    """RFC 9700 §2.1.2: tokens are never put in the authorization response."""
    sso_login(user)
    response, _verifier = Flow.broad(client, confidential_client).start(response_type=response_type)
    location = response.headers["Location"]
    assert query(location)["error"] == "unsupported_response_type"
    assert "access_token" not in location and "id_token=" not in location
    assert "#" not in location


@pytest.mark.parametrize("uri", ["http://docs.example.gov.vn/cb", "http://10.0.0.5/cb",
                                 "http://127.0.0.1.evil.example/cb"])
def test_http_redirect_uris_only_on_loopback(app, uri):
    """RFC 9700 §2.6: no http redirect URI except loopback (RFC 8252 §7.3)."""
    from idp.services import clients

    with pytest.raises(InvalidInput):
        clients.create_client("Web", client_type="web", redirect_uris=[uri])


def test_sign_in_post_is_not_redirected_with_307(client, user):
    """RFC 9700 §4.12: a 307 would make the browser re-post the credentials to the client."""
    page = client.get("/login?next=/account")
    response = client.post("/login?next=/account", data={
        "username": "an.nguyen", "password": PASSWORD,
        "csrf_token": csrf_token(page.get_data(as_text=True))})
    assert response.status_code == 302 and response.headers["Location"] == "/account"


def test_forwarded_headers_are_ignored_without_trusted_proxies(client):
    """RFC 9700 §4.13: X-Forwarded-* from an untrusted peer cannot change our URLs."""
    metadata = client.get("/.well-known/openid-configuration", headers={
        "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https",
        "Host": "evil.example"}).get_json()
    assert metadata["issuer"] == "http://127.0.0.1:5000"
    assert all("evil" not in str(value) for value in metadata.values())


@pytest.mark.preset("short_sessions")
def test_idle_session_ends(app, client, user, sso_login):
    """ASVS 3.3.2: an SSO session idle past IDP_SESSION_IDLE_TIMEOUT no longer signs anyone in."""
    from idp.extensions import db

    session = sso_login(user)
    session.last_seen_at -= timedelta(seconds=app.config["SESSION_IDLE_TIMEOUT"] + 1)
    db.session.commit()
    response = client.get("/account")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.preset("short_sessions")
def test_session_ends_at_the_absolute_timeout_even_when_active(app, client, user, sso_login):
    from idp.extensions import db

    session = sso_login(user)
    past = timedelta(seconds=app.config["SESSION_ABSOLUTE_TIMEOUT"] + 1)
    # As if it had been signed in long ago and used a moment ago.
    session.created_at -= past
    session.auth_time -= past
    session.expires_at -= past
    db.session.commit()
    response = client.get("/account")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_production_refuses_a_plain_http_issuer():
    """RFC 9700 §2.6 / §4.1.1: production mode will not start without TLS on the issuer."""
    from idp.config import ConfigError, load

    env = {"IDP_ENV": "production", "IDP_ISSUER": "http://sso.example.gov.vn",
           "IDP_SECRET_KEY": "s" * 32, "IDP_DATA_KEY": "5cJ9gHk8bX6p4Q1vM2zR7tW0yA3sD5fG8hJ1kL4nP6o=",
           "IDP_DATABASE_URL": "postgresql+psycopg://idp@db/idp", "IDP_AUDIT_KEY": "a" * 32}
    with pytest.raises(ConfigError, match="IDP_ISSUER must be https"):
        load(env, None)
    load({**env, "IDP_ISSUER": "https://sso.example.gov.vn"}, None)  # the control
