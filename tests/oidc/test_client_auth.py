"""Client authentication at /token: secrets (basic, post, rotation grace), private_key_jwt
(RFC 7523 §3) and its attacks, public clients, disabled clients."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import pytest
from joserfc import jwt

from idp.extensions import db
from tests.support.flow import basic

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_URL = "http://127.0.0.1:5000/token"


GENERIC = {"error": "invalid_client", "error_description": "Client authentication failed."}


def _reason() -> str:
    """The detail of the last failed client authentication: in the audit trail, not the wire."""
    from sqlalchemy import select

    from idp.extensions import db
    from idp.models import AuditEvent

    event = db.session.execute(select(AuditEvent).where(AuditEvent.event_type == "client.auth_failed")
                               .order_by(AuditEvent.id.desc())).scalars().first()
    return event.details["reason"]


def _cc(client, **kwargs):
    """A request that only needs client authentication to succeed or fail."""
    data = {"grant_type": "refresh_token", "refresh_token": "unknown", **kwargs.pop("data", {})}
    return client.post("/token", data=data, **kwargs)


def test_basic_with_right_secret_reaches_the_grant(client, confidential_client):
    response = _cc(client, headers=basic("docs", confidential_client.client_secret))
    assert response.get_json()["error"] == "invalid_grant"  # authenticated, then the grant failed


def test_basic_with_wrong_secret_is_401_with_challenge(client, confidential_client):
    response = _cc(client, headers=basic("docs", "wrong"))
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith('Basic realm="idp"')
    assert response.headers["Cache-Control"] == "no-store"


def test_unknown_client_basic(client, app):
    response = _cc(client, headers=basic("nobody", "x"))
    assert response.status_code == 401 and response.get_json()["error"] == "invalid_client"


def test_post_secret_for_a_basic_client_is_refused(client, confidential_client):
    response = _cc(client, data={"client_id": "docs", "client_secret": confidential_client.client_secret})
    assert response.status_code == 400
    assert response.get_json() == GENERIC  # RFC 6749 §5.2: no hint of the registered method
    assert "client_secret_basic" in _reason()
    assert "WWW-Authenticate" not in response.headers


def test_client_secret_post(client, app):
    from tests.support.clients import register

    rp = register("Thư điện tử", client_type="web", client_id="mail",
                   redirect_uris=["http://127.0.0.3:5002/cb"], auth_method="client_secret_post")
    ok = _cc(client, data={"client_id": "mail", "client_secret": rp.client_secret})
    assert ok.get_json()["error"] == "invalid_grant"
    bad = _cc(client, data={"client_id": "mail", "client_secret": "nope"})
    assert bad.status_code == 400 and bad.get_json()["error"] == "invalid_client"


def test_two_methods_at_once_is_invalid_request(client, confidential_client):
    response = _cc(client, headers=basic("docs", confidential_client.client_secret),
                   data={"client_id": "docs", "client_secret": confidential_client.client_secret})
    assert response.get_json()["error"] == "invalid_request"


def test_rotated_secret_works_during_grace(client, confidential_client):
    from idp.services import clients

    old = confidential_client.client_secret
    new = clients.rotate_secret(confidential_client.row, grace_seconds=60)
    db.session.commit()  # the test is the boundary for what it does by hand
    assert _cc(client, headers=basic("docs", old)).get_json()["error"] == "invalid_grant"
    assert _cc(client, headers=basic("docs", new)).get_json()["error"] == "invalid_grant"


def test_disabled_client_is_invalid_client(client, confidential_client):
    from idp.extensions import db

    confidential_client.row.enabled = False
    db.session.commit()
    response = _cc(client, headers=basic("docs", confidential_client.client_secret))
    assert response.status_code == 401 and response.get_json()["error"] == "invalid_client"


def test_confidential_client_cannot_skip_authentication(client, confidential_client):
    response = _cc(client, data={"client_id": "docs"})
    assert response.get_json()["error"] == "invalid_client"


# --- private_key_jwt ---------------------------------------------------------------------


def _assertion(key, **overrides):
    now = int(time.time())
    claims = {"iss": "one-stop", "sub": "one-stop", "aud": TOKEN_URL, "iat": now,
              "exp": now + 60, "jti": str(uuid.uuid4())}
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


def _jwt_auth(client, assertion):
    return _cc(client, data={"client_assertion_type": JWT_BEARER, "client_assertion": assertion})


def test_private_key_jwt_accepted(client, jwt_client, rsa_client_key):
    response = _jwt_auth(client, _assertion(rsa_client_key))
    assert response.get_json()["error"] == "invalid_grant"


def test_private_key_jwt_with_issuer_as_audience(client, jwt_client, rsa_client_key, app):
    response = _jwt_auth(client, _assertion(rsa_client_key, aud=app.config["ISSUER"]))
    assert response.get_json()["error"] == "invalid_grant"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict, claims: dict, signature: bytes = b"") -> str:
    head = _b64(json.dumps(header).encode())
    body = _b64(json.dumps(claims).encode())
    return f"{head}.{body}.{_b64(signature)}"


def _claims():
    now = int(time.time())
    return {"iss": "one-stop", "sub": "one-stop", "aud": TOKEN_URL, "exp": now + 60,
            "jti": str(uuid.uuid4())}


def test_alg_none_is_refused(client, jwt_client):
    response = _jwt_auth(client, _unsigned({"alg": "none"}, _claims()))
    assert response.status_code == 400
    assert response.get_json() == GENERIC
    assert _reason() == "The client assertion must be signed with an asymmetric algorithm."


def test_hs256_signed_with_the_public_key_is_refused(client, jwt_client, rsa_client_key):
    public_pem = rsa_client_key.as_pem(private=False)
    header, claims = {"alg": "HS256", "kid": "rp-key-1"}, _claims()
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    response = _jwt_auth(client, f"{signing_input}.{_b64(signature)}")
    assert response.get_json() == GENERIC
    assert "asymmetric" in _reason()


def test_unknown_kid_is_refused(client, jwt_client):
    from joserfc.jwk import RSAKey

    stranger = RSAKey.generate_key(2048, parameters={"kid": "not-registered"}, private=True)
    response = _jwt_auth(client, _assertion(stranger))
    assert response.get_json() == GENERIC
    assert _reason() == "The client assertion signature is invalid."


def test_key_of_another_party_with_registered_kid_is_refused(client, jwt_client):
    from joserfc.jwk import RSAKey

    forger = RSAKey.generate_key(2048, parameters={"kid": "rp-key-1"}, private=True)
    response = _jwt_auth(client, _assertion(forger))
    assert response.get_json() == GENERIC
    assert _reason() == "The client assertion signature is invalid."


@pytest.mark.parametrize("overrides, description", [
    ({"exp": int(time.time()) - 3600}, "expired"),
    ({"exp": None}, "no exp"),
    ({"aud": "https://elsewhere.example/token"}, "aud"),
    ({"sub": "docs"}, "iss and sub"),
    ({"jti": None}, "no jti"),
    ({"exp": int(time.time()) + 86400}, "too long"),
])
def test_bad_assertion_claims(client, jwt_client, rsa_client_key, overrides, description):
    response = _jwt_auth(client, _assertion(rsa_client_key, **overrides))
    assert response.status_code == 400
    assert response.get_json() == GENERIC
    assert description in _reason()


def test_replayed_jti_is_refused(client, jwt_client, rsa_client_key):
    assertion = _assertion(rsa_client_key)
    assert _jwt_auth(client, assertion).get_json()["error"] == "invalid_grant"
    replay = _jwt_auth(client, assertion)
    assert replay.get_json() == GENERIC
    assert _reason() == "The client assertion was already used."


def test_wrong_assertion_type(client, jwt_client, rsa_client_key):
    response = _cc(client, data={"client_assertion_type": "urn:other", "client_assertion":
                                 _assertion(rsa_client_key)})
    assert response.get_json()["error"] == "invalid_client"


def test_malformed_assertion(client, jwt_client):
    assert _jwt_auth(client, "garbage").get_json()["error"] == "invalid_client"


def test_secret_client_cannot_use_an_assertion(client, confidential_client, rsa_client_key):
    response = _jwt_auth(client, _assertion(rsa_client_key, iss="docs", sub="docs"))
    assert response.get_json()["error"] == "invalid_client"


def test_keys_from_jwks_uri(client, app, rsa_client_key, monkeypatch):
    from idp.oidc import assertions
    from idp.services import outbound
    from tests.support.clients import register

    register("Một cửa", client_type="web", client_id="one-stop",
              redirect_uris=["http://127.0.0.4:5003/callback"], auth_method="private_key_jwt",
              jwks_uri="https://one-stop.example/jwks.json")
    calls = []

    def fake_send(method, uri, rules, *, timeout, max_bytes, headers=None, form=None):
        calls.append((method, uri, timeout, max_bytes))
        body = json.dumps({"keys": [rsa_client_key.as_dict(private=False)]}).encode()
        return outbound.Reply(200, body, "application/json")

    monkeypatch.setattr(assertions.outbound, "send", fake_send)
    assertions._jwks_cache.clear()
    assert _jwt_auth(client, _assertion(rsa_client_key)).get_json()["error"] == "invalid_grant"
    assert _jwt_auth(client, _assertion(rsa_client_key)).get_json()["error"] == "invalid_grant"
    # Fetched once (through the outbound rules, 2 s deadline, 64 kB limit), then cached.
    assert calls == [("GET", "https://one-stop.example/jwks.json", 2, 65536)]
