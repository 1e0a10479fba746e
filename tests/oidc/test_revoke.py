"""Revocation (RFC 7009)."""

from __future__ import annotations

from tests.support.flow import basic


def _revoke(client, rp, token, hint=None):
    data = {"token": token}
    if hint:
        data["token_type_hint"] = hint
    return client.post("/revoke", data=data, headers=basic(rp.client_id, rp.client_secret))


def test_unknown_token_is_200(client, confidential_client):
    response = _revoke(client, confidential_client, "never-issued")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"


def test_revoking_refresh_token_revokes_its_family(client, flow, tokens, confidential_client):
    newer = flow.refresh(tokens["refresh_token"]).get_json()
    assert _revoke(client, confidential_client, newer["refresh_token"], "refresh_token").status_code == 200
    assert flow.refresh(newer["refresh_token"]).get_json()["error"] == "invalid_grant"
    for access in (tokens["access_token"], newer["access_token"]):
        assert client.get("/userinfo", headers={"Authorization": f"Bearer {access}"}).status_code == 401


def test_revoking_access_token_by_jti(client, tokens, confidential_client):
    assert _revoke(client, confidential_client, tokens["access_token"]).status_code == 200
    response = client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert response.status_code == 401


def test_wrong_hint_still_finds_the_token(client, tokens, confidential_client):
    assert _revoke(client, confidential_client, tokens["access_token"], "refresh_token").status_code == 200
    assert client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).status_code == 401


def test_unsupported_hint(client, tokens, confidential_client):
    response = _revoke(client, confidential_client, tokens["access_token"], "id_token")
    assert response.get_json()["error"] == "unsupported_token_type"


def test_requires_client_authentication(client, tokens):
    response = client.post("/revoke", data={"token": tokens["access_token"]},
                           headers=basic("docs", "wrong"))
    assert response.status_code == 401 and response.get_json()["error"] == "invalid_client"


def test_missing_token_is_invalid_request(client, confidential_client):
    response = client.post("/revoke", data={}, headers=basic("docs", confidential_client.client_secret))
    assert response.get_json()["error"] == "invalid_request"


def test_another_clients_token_is_not_revoked(client, tokens, service_client):
    response = _revoke(client, service_client, tokens["access_token"])
    assert response.status_code == 400
    assert client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).status_code == 200


def test_revocation_is_audited(client, tokens, confidential_client):
    from idp.models import AuditEvent

    _revoke(client, confidential_client, tokens["refresh_token"])
    event = AuditEvent.query.filter_by(event_type="token.revoked").one()
    assert event.details["token_type"] == "refresh_token"
