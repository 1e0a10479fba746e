"""Signing-key rotation: new tokens use the active key; tokens signed before stay valid."""

from __future__ import annotations

from tests.support.flow import decode_jwt
from tests.support.urls import query


def test_tokens_are_signed_with_the_active_key(tokens):
    from idp.models import SigningKey

    active = SigningKey.query.filter_by(alg="RS256", state="active").one()
    header, _ = decode_jwt(tokens["id_token"])
    assert header["kid"] == active.kid
    assert decode_jwt(tokens["access_token"])[0]["kid"] == active.kid


def test_rotation_keeps_old_tokens_valid_and_signs_new_ones_with_new_key(client, flow, tokens, app):
    from idp.services import keys

    old_kid = decode_jwt(tokens["id_token"])[0]["kid"]
    keys.rotate("RS256", force=True)
    published = {k["kid"] for k in client.get("/jwks").get_json()["keys"]}
    assert old_kid in published  # retired but still published
    # The access token signed by the retired key still works at userinfo and introspection.
    assert client.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).status_code == 200
    # The old ID token still works as id_token_hint.
    got = query(flow.authorize(prompt="none", id_token_hint=tokens["id_token"]).headers["Location"])
    body = flow.exchange(got["code"], None).get_json()
    new_kid = decode_jwt(body["id_token"])[0]["kid"]
    assert new_kid != old_kid and new_kid in published
