"""services.jose: each token kind verifies with its own typ and claims, and no other kind
passes for it (RFC 9068 §4, Back-Channel Logout 1.0 §2.4/§2.6, RFC 7523 §3, RFC 9101 §10.8)."""

from __future__ import annotations

import secrets

import pytest
from joserfc.jwk import KeySet

from tests.security import jose_kit as jk


def _logout(app, confidential_client, user) -> str:
    from idp.services import backchannel

    return backchannel.logout_token(confidential_client.row, sid="sid-1", sub=user.sub)


def test_our_logout_token_verifies_for_its_audience(app, confidential_client, user):
    from idp.services import jose

    claims = jose.verify_logout_token(_logout(app, confidential_client, user),
                                      confidential_client.client_id)
    assert claims["sub"] == user.sub and jose.BACKCHANNEL_EVENT in claims["events"]


def test_a_logout_token_for_another_audience_is_refused(app, confidential_client, user):
    from idp.services import jose

    with pytest.raises(jose.InvalidJWT) as caught:
        jose.verify_logout_token(_logout(app, confidential_client, user), "another-app")
    assert caught.value.reason == "aud"


def test_an_id_token_is_no_logout_token_and_a_logout_token_no_hint(app, confidential_client,
                                                                    user, tokens):
    from idp.services import jose

    with pytest.raises(jose.InvalidJWT) as caught:
        jose.verify_logout_token(tokens["id_token"], confidential_client.client_id)
    assert caught.value.reason == "typ"
    with pytest.raises(jose.InvalidJWT) as caught:
        jose.verify_id_token_hint(_logout(app, confidential_client, user))
    assert caught.value.reason == "typ"
    assert jose.verify_id_token_hint(tokens["id_token"])["sub"] == user.sub


def test_an_access_token_verifies_only_as_one(app, tokens):
    from idp.services import jose

    assert jose.verify_access_token(tokens["access_token"])["jti"]
    with pytest.raises(jose.InvalidJWT) as caught:
        jose.verify_access_token(tokens["id_token"])
    assert caught.value.reason == "typ"


def _client_keys():
    key = jk.new_rsa_key("rp-1")
    return key, KeySet.import_key_set({"keys": [jk.public_jwk(key)]})


def test_a_request_object_needs_its_typ_and_audience(app):
    from idp.services import jose

    key, keyset = _client_keys()
    claims = {"iss": "docs", "client_id": "docs", "aud": app.config["ISSUER"],
              "exp": jk.now() + 60, "response_type": "code"}
    good = jk.signed(key, claims, typ="oauth-authz-req+jwt")
    assert jose.verify_request_object(good, keyset, ["RS256"], client_id="docs")["iss"] == "docs"
    with pytest.raises(jose.InvalidJWT) as caught:
        jose.verify_request_object(jk.signed(key, claims), keyset, ["RS256"], client_id="docs")
    assert caught.value.reason == "typ"
    wrong_aud = jk.signed(key, {**claims, "aud": "https://evil.example"}, typ="oauth-authz-req+jwt")
    with pytest.raises(jose.InvalidJWT) as caught:
        jose.verify_request_object(wrong_aud, keyset, ["RS256"], client_id="docs")
    assert caught.value.reason == "aud"


@pytest.mark.parametrize("change,reason", [
    ({}, None),
    ({"sub": "other"}, "claims"),
    ({"exp": jk.now() - 10}, "expired"),
    ({"jti": None}, "claims"),
    ({"aud": "https://evil.example/token"}, "aud"),
])
def test_a_client_assertion(app, change, reason):
    from idp.services import jose

    key, keyset = _client_keys()
    claims = {"iss": "signer", "sub": "signer", "aud": f"{app.config['ISSUER']}/token",
              "exp": jk.now() + 60, "jti": secrets.token_urlsafe(8), **change}
    value = jk.signed(key, {k: v for k, v in claims.items() if v is not None})
    audiences = [f"{app.config['ISSUER']}/token", app.config["ISSUER"]]
    if reason is None:
        assert jose.verify_client_assertion(value, keyset, ["RS256"], client_id="signer",
                                            audiences=audiences)["iss"] == "signer"
        return
    with pytest.raises(jose.InvalidJWT) as caught:
        jose.verify_client_assertion(value, keyset, ["RS256"], client_id="signer",
                                     audiences=audiences)
    assert caught.value.reason == reason
