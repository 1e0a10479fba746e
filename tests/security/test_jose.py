"""JOSE attacks wherever the provider reads a JWT: client assertions at /token (RFC 7523 §3,
OIDC Core §9), id_token_hint at /authorize and /end_session (OIDC Core §3.1.2.1,
RP-Initiated Logout 1.0 §2), access tokens at /userinfo and /api/admin (RFC 9068 §4,
RFC 6750 §3.1). RFC 8725 §2.1/§3.1: alg=none and key confusion are refused."""

from __future__ import annotations

import secrets

import pytest

from tests.security import jose_kit as jk
from tests.support.errors import assert_invalid_client
from tests.support.flow import Flow
from tests.support.urls import query

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


# --- client assertions at /token --------------------------------------------------------


@pytest.fixture
def signer_key():
    return jk.new_rsa_key("signer-1")


@pytest.fixture
def signer(app, signer_key):
    from idp.services import clients

    row, _secret = clients.create_client(
        "Đồng bộ ký JWT", client_type="service", auth_method="private_key_jwt",
        client_id="signer", scope="staff.read", jwks={"keys": [jk.public_jwk(signer_key)]})
    return row


def _assertion_claims(app, **changes) -> dict:
    claims = {"iss": "signer", "sub": "signer", "aud": f"{app.config['ISSUER']}/token",
              "iat": jk.now(), "exp": jk.now() + 60, "jti": secrets.token_urlsafe(12)}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _token_with_assertion(client, assertion: str):
    return client.post("/token", data={
        "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion})


def test_valid_client_assertion_gets_a_token(app, client, signer, signer_key):
    """The control: a correct assertion is accepted, so each refusal below is the attack's."""
    response = _token_with_assertion(client, jk.signed(signer_key, _assertion_claims(app)))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["token_type"] == "Bearer"


def _assertion_attacks(app, key):
    other = jk.new_rsa_key("stranger")
    same_kid = jk.new_rsa_key(key.kid)
    return {
        "alg none": jk.unsigned(_assertion_claims(app), kid=key.kid),
        "HS256 keyed with the client's public key": jk.hs256_with(
            jk.public_pem(key), _assertion_claims(app), kid=key.kid),
        "HS256 keyed with the public JWK": jk.hs256_with(
            str(jk.public_jwk(key)["n"]).encode(), _assertion_claims(app), kid=key.kid),
        "unknown kid": jk.signed(other, _assertion_claims(app)),
        "registered kid, wrong key": jk.signed(same_kid, _assertion_claims(app)),
        "expired": jk.signed(key, _assertion_claims(app, iat=jk.now() - 900,
                                                     exp=jk.now() - 600)),
        "no exp": jk.signed(key, _assertion_claims(app, exp=None)),
        "wrong audience": jk.signed(key, _assertion_claims(app, aud="https://evil.example/token")),
        "other client as iss": jk.signed(key, _assertion_claims(app, sub="docs")),
        "no jti": jk.signed(key, _assertion_claims(app, jti=None)),
        "valid for a year": jk.signed(key, _assertion_claims(app, exp=jk.now() + 31_536_000)),
        "not a JWT": "not.a.jwt",
    }


ASSERTION_ATTACKS = ["alg none", "HS256 keyed with the client's public key",
                     "HS256 keyed with the public JWK", "unknown kid", "registered kid, wrong key",
                     "expired", "no exp", "wrong audience", "other client as iss", "no jti",
                     "valid for a year", "not a JWT"]


@pytest.mark.parametrize("attack", ASSERTION_ATTACKS)
def test_forged_client_assertion_is_invalid_client(app, client, signer, signer_key, attack):
    assertion = _assertion_attacks(app, signer_key)[attack]
    response = _token_with_assertion(client, assertion)
    # RFC 7523 §3.2 / RFC 6749 §5.2: a refused assertion is invalid_client; it travelled in
    # the body, not the Authorization header, so 400 without a challenge.
    assert_invalid_client(response, used_authorization_header=False)


def test_replayed_client_assertion_is_refused(app, client, signer, signer_key):
    """RFC 7523 §3 item 7: the same jti is accepted only once."""
    assertion = jk.signed(signer_key, _assertion_claims(app))
    assert _token_with_assertion(client, assertion).status_code == 200
    again = _token_with_assertion(client, assertion)
    assert again.status_code == 400  # no Basic header: RFC 6749 §5.2 allows 400
    # One generic description on the wire; the reason is in the audit trail (finding 16).
    assert again.get_json() == {"error": "invalid_client",
                                "error_description": "Client authentication failed."}
    from idp.models import AuditEvent

    event = AuditEvent.query.filter_by(event_type="client.auth_failed").one()
    assert "already" in event.details["reason"]


# --- id_token_hint at /authorize and /end_session ----------------------------------------


def _hint_claims(app, user, **changes) -> dict:
    claims = {"iss": app.config["ISSUER"], "sub": user.sub, "aud": "docs", "iat": jk.now(),
              "exp": jk.now() + 600, "auth_time": jk.now()}
    claims.update(changes)
    return claims


def _provider_public_pem() -> bytes:
    from idp.services import keys

    rsa = [k for k in keys.public_keyset().keys if k.key_type == "RSA"]
    return rsa[0].as_pem(private=False)


def _hint_attacks(app, user) -> dict[str, str]:
    from idp.services import keys

    kid = [k.kid for k in keys.public_keyset().keys if k.key_type == "RSA"][0]
    return {
        "alg none": jk.unsigned(_hint_claims(app, user), kid=kid),
        "HS256 keyed with the provider's public key": jk.hs256_with(
            _provider_public_pem(), _hint_claims(app, user), kid=kid),
        "unknown kid": jk.signed(jk.new_rsa_key(), _hint_claims(app, user)),
        "our kid, attacker's key": jk.signed(jk.new_rsa_key(kid), _hint_claims(app, user)),
        "wrong audience": keys.sign(_hint_claims(app, user, aud="some-other-app")),
        "wrong issuer": keys.sign(_hint_claims(app, user, iss="https://evil.example")),
        "an access token": keys.sign(_hint_claims(app, user), typ="at+jwt"),
    }


HINT_ATTACKS = ["alg none", "HS256 keyed with the provider's public key", "unknown kid",
                "our kid, attacker's key", "wrong audience", "wrong issuer", "an access token"]


def test_valid_id_token_hint_is_accepted_even_expired(app, client, confidential_client, user,
                                                     sso_login):
    """OIDC Core §3.1.2.1: an expired ID token is still a valid hint (the control)."""
    from idp.services import keys

    sso_login(user)
    hint = keys.sign(_hint_claims(app, user, iat=jk.now() - 7200, exp=jk.now() - 3600))
    response, _verifier = Flow.broad(client, confidential_client).start(id_token_hint=hint)
    assert response.status_code == 302
    assert "code" in query(response.headers["Location"])


@pytest.mark.parametrize("attack", HINT_ATTACKS)
def test_forged_id_token_hint_at_authorize_is_refused(app, client, confidential_client, user,
                                                     sso_login, attack):
    sso_login(user)
    hint = _hint_attacks(app, user)[attack]
    response, _verifier = Flow.broad(client, confidential_client).start(id_token_hint=hint)
    # The client and redirect_uri are verified, so the error goes back to it (RFC 6749 §4.1.2.1).
    assert response.status_code == 302
    values = query(response.headers["Location"])
    assert values["error"] == "invalid_request"
    assert "id_token_hint" in values["error_description"]
    assert "code" not in values


def _session_live(app, session_id: int) -> bool:
    from idp.extensions import db
    from idp.models import SsoSession

    db.session.expire_all()
    return db.session.get(SsoSession, session_id).ended_at is None


@pytest.mark.parametrize("attack", HINT_ATTACKS)
def test_forged_id_token_hint_at_end_session_is_refused(app, client, confidential_client, user,
                                                       sso_login, attack):
    session = sso_login(user)
    hint = _hint_attacks(app, user)[attack]
    response = client.get("/end_session", query_string={
        "id_token_hint": hint, "post_logout_redirect_uri": "http://127.0.0.2:5001/"})
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "Location" not in response.headers
    assert "id_token_hint" in response.get_data(as_text=True)
    assert _session_live(app, session.id)


# --- access tokens at /userinfo and /api/admin ------------------------------------------


@pytest.fixture
def user_token(app, confidential_client, user):
    from idp.extensions import db
    from idp.services import tokens
    from idp.services.tokens import AuthContext

    response, row = tokens.new_token_row(confidential_client.row, user, "openid profile",
                                         "authorization_code", AuthContext(), refresh=False)
    db.session.commit()
    return response["access_token"], row


def _access_claims(app, subject: str, client_id: str, jti: str, scope: str, **changes) -> dict:
    claims = {"iss": app.config["ISSUER"], "sub": subject, "aud": client_id,
              "client_id": client_id, "scope": scope, "iat": jk.now(),
              "exp": jk.now() + 600, "jti": jti}
    claims.update(changes)
    return claims


def _access_attacks(app, subject: str, client_id: str, jti: str, scope: str) -> dict[str, str]:
    from idp.services import keys

    kid = [k.kid for k in keys.public_keyset().keys if k.key_type == "RSA"][0]
    good = _access_claims(app, subject, client_id, jti, scope)
    return {
        "alg none": jk.unsigned(good, kid=kid, typ="at+jwt"),
        "HS256 keyed with the provider's public key": jk.hs256_with(
            _provider_public_pem(), good, kid=kid, typ="at+jwt"),
        "unknown kid": jk.signed(jk.new_rsa_key(), good, typ="at+jwt"),
        "our kid, attacker's key": jk.signed(jk.new_rsa_key(kid), good, typ="at+jwt"),
        "expired": keys.sign({**good, "iat": jk.now() - 1200, "exp": jk.now() - 600},
                             typ="at+jwt"),
        "wrong issuer": keys.sign({**good, "iss": "https://evil.example"}, typ="at+jwt"),
        "an ID token": keys.sign(good, typ="JWT"),
        "jti never issued": keys.sign({**good, "jti": secrets.token_urlsafe(16)}, typ="at+jwt"),
        "garbage": "Zm9v.YmFy.YmF6",
    }


ACCESS_ATTACKS = ["alg none", "HS256 keyed with the provider's public key", "unknown kid",
                  "our kid, attacker's key", "expired", "wrong issuer", "an ID token",
                  "jti never issued", "garbage"]


def _assert_invalid_token(response) -> None:
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer") and 'error="invalid_token"' in challenge


def test_valid_access_token_reads_userinfo(client, user_token, user):
    response = client.get("/userinfo", headers={"Authorization": f"Bearer {user_token[0]}"})
    assert response.status_code == 200
    assert response.get_json()["sub"] == user.sub


@pytest.mark.parametrize("attack", ACCESS_ATTACKS)
def test_forged_access_token_at_userinfo_is_invalid_token(app, client, user_token, user,
                                                          attack):
    token = _access_attacks(app, user.sub, "docs", user_token[1].access_jti,
                            "openid profile")[attack]
    _assert_invalid_token(client.get("/userinfo", headers={"Authorization": f"Bearer {token}"}))


def test_revoked_access_token_at_userinfo_is_invalid_token(client, confidential_client,
                                                           user_token):
    token = user_token[0]
    revoked = client.post("/revoke", data={"token": token, "token_type_hint": "access_token"},
                          auth=(confidential_client.client_id, confidential_client.client_secret))
    assert revoked.status_code == 200
    _assert_invalid_token(client.get("/userinfo", headers={"Authorization": f"Bearer {token}"}))


@pytest.mark.parametrize("attack", ACCESS_ATTACKS)
def test_forged_access_token_at_admin_api_is_invalid_token(app, client, admin_api_token, attack):
    from idp.services import tokens

    jti = tokens.verify_access_token(admin_api_token)[1].access_jti
    token = _access_attacks(app, "admin-tool", "admin-tool", jti,
                            "admin.clients admin.staff admin.audit")[attack]
    response = client.get("/api/admin/users", headers={"Authorization": f"Bearer {token}"})
    _assert_invalid_token(response)
    assert response.get_json()["error"] == "invalid_token"


def test_valid_admin_token_reads_the_admin_api(client, admin_api_token):
    response = client.get("/api/admin/users",
                          headers={"Authorization": f"Bearer {admin_api_token}"})
    assert response.status_code == 200
