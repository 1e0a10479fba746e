"""Discovery (OIDC Discovery 1.0 §3-4) and JWKS."""

from __future__ import annotations


def test_metadata(client, app):
    response = client.get("/.well-known/openid-configuration")
    assert response.status_code == 200
    assert response.headers["Cache-Control"].startswith("public, max-age=")
    meta = response.get_json()
    issuer = app.config["ISSUER"]
    assert meta["issuer"] == issuer
    for name, path in [("authorization_endpoint", "/authorize"), ("token_endpoint", "/token"),
                       ("userinfo_endpoint", "/userinfo"), ("jwks_uri", "/jwks"),
                       ("revocation_endpoint", "/revoke"), ("introspection_endpoint", "/introspect"),
                       ("end_session_endpoint", "/end_session")]:
        assert meta[name] == issuer + path
    assert meta["response_types_supported"] == ["code"]
    assert meta["response_modes_supported"] == ["query", "form_post"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["acr_values_supported"] == ["urn:idp:acr:pwd", "urn:idp:acr:mfa"]
    assert meta["ui_locales_supported"] == ["vi", "en"]
    assert meta["request_parameter_supported"] is False
    assert meta["request_uri_parameter_supported"] is False
    assert meta["claims_parameter_supported"] is True
    assert meta["authorization_response_iss_parameter_supported"] is True
    for flag in ("backchannel_logout_supported", "backchannel_logout_session_supported",
                 "frontchannel_logout_supported", "frontchannel_logout_session_supported"):
        assert meta[flag] is True
    assert set(meta["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic", "client_secret_post", "private_key_jwt", "none"}
    assert "none" not in meta["token_endpoint_auth_signing_alg_values_supported"]
    assert not any(a.startswith("HS") for a in meta["token_endpoint_auth_signing_alg_values_supported"])
    assert set(meta["grant_types_supported"]) == {"authorization_code", "refresh_token", "client_credentials"}
    assert {"openid", "profile", "email", "phone", "offline_access", "department", "roles"} <= \
        set(meta["scopes_supported"])
    assert {"sub", "name", "email", "department", "roles", "sid", "auth_time"} <= set(meta["claims_supported"])
    assert meta["subject_types_supported"] == ["public"]
    assert meta["id_token_signing_alg_values_supported"] == ["RS256", "ES256"]


def test_every_advertised_endpoint_exists(client):
    meta = client.get("/.well-known/openid-configuration").get_json()
    for name in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
                 "revocation_endpoint", "introspection_endpoint"):
        path = meta[name].split("5000", 1)[1]
        assert client.open(path, method="OPTIONS").status_code != 404


def test_jwks_publishes_public_keys_only(client):
    response = client.get("/jwks")
    assert response.headers["Cache-Control"].startswith("public, max-age=")
    keys = response.get_json()["keys"]
    assert {k["alg"] for k in keys} == {"RS256", "ES256"}
    assert len(keys) == 4  # active and next, for each algorithm
    for key in keys:
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)
        assert key["kid"] and key["use"] == "sig"
