"""Introspection (RFC 7662): authenticated clients, own tokens only, revocation shows."""

from __future__ import annotations

from tests.support.errors import assert_invalid_client
from tests.support.flow import basic


def _introspect(client, rp, token, **extra):
    return client.post("/introspect", data={"token": token, **extra},
                       headers=basic(rp.client_id, rp.client_secret))


def test_active_access_token(client, tokens, confidential_client, user, app):
    response = _introspect(client, confidential_client, tokens["access_token"])
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["active"] is True and body["client_id"] == "docs" and body["sub"] == user.sub
    assert body["token_type"] == "Bearer" and body["iss"] == app.config["ISSUER"]
    assert set(body["scope"].split()) >= {"openid", "profile"}


def test_active_refresh_token(client, tokens, confidential_client):
    body = _introspect(client, confidential_client, tokens["refresh_token"]).get_json()
    assert body["active"] is True and body["token_type"] == "refresh_token"


def test_revoked_token_is_inactive(client, tokens, confidential_client):
    client.post("/revoke", data={"token": tokens["access_token"]},
                headers=basic("docs", confidential_client.client_secret))
    assert _introspect(client, confidential_client, tokens["access_token"]).get_json() == {"active": False}


def test_session_end_makes_tokens_inactive(client, tokens, confidential_client, signed_in):
    from idp.services import sessions

    sessions.end_session(signed_in, "logout")
    for token in (tokens["access_token"], tokens["refresh_token"]):
        assert _introspect(client, confidential_client, token).get_json() == {"active": False}


def test_rotated_refresh_token_is_inactive(client, flow, tokens, confidential_client):
    flow.refresh(tokens["refresh_token"])
    assert _introspect(client, confidential_client, tokens["refresh_token"]).get_json() == {"active": False}


def test_another_clients_token_is_inactive(client, tokens, service_client):
    assert _introspect(client, service_client, tokens["access_token"]).get_json() == {"active": False}


def test_unknown_token_is_inactive(client, confidential_client):
    assert _introspect(client, confidential_client, "nonsense").get_json() == {"active": False}


def test_public_client_cannot_introspect(client, tokens, public_client):
    response = client.post("/introspect", data={"token": tokens["access_token"], "client_id": "spa"})
    assert response.get_json()["error"] == "invalid_client"


def test_unauthenticated_is_refused(client, tokens):
    response = client.post("/introspect", data={"token": tokens["access_token"]})
    # RFC 7662 §2.1 / RFC 6749 §5.2: no credentials at all, no Authorization header: 400.
    assert_invalid_client(response, used_authorization_header=False)


def test_wrong_secret_in_the_header_is_401_with_a_challenge(client, tokens):
    response = client.post("/introspect", data={"token": tokens["access_token"]},
                           headers=basic("docs", "not-the-secret"))
    assert_invalid_client(response, used_authorization_header=True)


def test_disabled_users_tokens_are_inactive(client, tokens, confidential_client, user):
    user.status = "disabled"  # however it happened (idp user disable, console, API)
    assert _introspect(client, confidential_client, tokens["access_token"]).get_json() == {"active": False}
