"""The ID token (OIDC Core §2, §3.1.3.6-7) as a relying party validates it."""

from __future__ import annotations

import time

from tests.support.flow import decode_jwt
from idp.services.tokens import half_hash


def test_id_token_claims(tokens, signed_in, user, app):
    header, claims = decode_jwt(tokens["id_token"])
    assert header["alg"] == "RS256" and header["typ"] == "JWT" and header["kid"]
    assert claims["iss"] == app.config["ISSUER"]
    assert claims["sub"] == user.sub
    assert claims["aud"] == "docs" and claims["azp"] == "docs"
    assert claims["nonce"] == "n-0S6_WzA2Mj"
    assert claims["sid"] == signed_in.sid
    assert claims["auth_time"] == int(signed_in.auth_time.timestamp())
    assert claims["acr"] == "urn:idp:acr:pwd" and claims["amr"] == ["pwd"]
    assert claims["at_hash"] == half_hash(tokens["access_token"])
    assert claims["exp"] - claims["iat"] == app.config["TOKEN_ID_TTL"]
    assert abs(claims["iat"] - time.time()) < 30


def test_no_nonce_when_none_was_sent(flow, signed_in):
    code, verifier = flow.code()
    _, claims = decode_jwt(flow.exchange(code, verifier).get_json()["id_token"])
    assert "nonce" not in claims


def test_es256_per_client(flow, signed_in, confidential_client):
    from idp.extensions import db

    confidential_client.row.id_token_signed_response_alg = "ES256"
    db.session.commit()
    code, verifier = flow.code()
    body = flow.exchange(code, verifier).get_json()
    header, claims = decode_jwt(body["id_token"])
    assert header["alg"] == "ES256"
    assert claims["at_hash"] == half_hash(body["access_token"])


def test_mfa_session_is_reflected(flow, user, sso_login):
    sso_login(user, amr=("pwd", "otp"), acr="urn:idp:acr:mfa")
    code, verifier = flow.code()
    _, claims = decode_jwt(flow.exchange(code, verifier).get_json()["id_token"])
    assert claims["acr"] == "urn:idp:acr:mfa" and claims["amr"] == ["pwd", "otp"]


def test_access_token_is_rfc9068(tokens, user, signed_in, app):
    header, claims = decode_jwt(tokens["access_token"])
    assert header["typ"] == "at+jwt"
    for name in ("iss", "exp", "aud", "sub", "client_id", "iat", "jti", "scope"):
        assert name in claims
    assert claims["sub"] == user.sub and claims["client_id"] == "docs"
    assert claims["auth_time"] == int(signed_in.auth_time.timestamp())
    assert claims["exp"] - claims["iat"] == app.config["TOKEN_ACCESS_TTL"]


def test_client_access_token_lifetime(flow, signed_in, confidential_client):
    from idp.extensions import db

    confidential_client.row.access_token_ttl = 120
    db.session.commit()
    code, verifier = flow.code()
    body = flow.exchange(code, verifier).get_json()
    _, claims = decode_jwt(body["access_token"])
    assert body["expires_in"] == 120 and claims["exp"] - claims["iat"] == 120
