"""/token with grant_type=authorization_code (RFC 6749 §4.1.3, OIDC Core §3.1.3)."""

from __future__ import annotations

import threading

from tests.support.flow import basic, decode_jwt


def test_token_response_shape_and_headers(flow, signed_in):
    code, verifier = flow.code()
    response = flow.exchange(code, verifier)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 600
    assert body["scope"] == "openid"
    assert "refresh_token" not in body  # offline_access not asked for
    header, claims = decode_jwt(body["access_token"])
    assert header["typ"] == "at+jwt"


def test_code_is_single_use_and_reuse_revokes_tokens(flow, signed_in, client, confidential_client):
    code, verifier = flow.code(scope="openid offline_access")
    first = flow.exchange(code, verifier).get_json()
    again = flow.exchange(code, verifier)
    assert again.status_code == 400
    assert again.get_json() == {"error": "invalid_grant",
                                "error_description": "The authorization code was already used."}
    # RFC 6749 §4.1.2: the tokens issued from it are revoked.
    userinfo = client.get("/userinfo", headers={"Authorization": f"Bearer {first['access_token']}"})
    assert userinfo.status_code == 401
    assert flow.refresh(first["refresh_token"]).get_json()["error"] == "invalid_grant"
    from idp.models import AuditEvent

    assert AuditEvent.query.filter_by(event_type="code.reuse_detected").count() == 1


def test_expired_code_is_invalid_grant(flow, expired_code):
    code, verifier = expired_code
    response = flow.exchange(code, verifier)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"
    assert "expired" in response.get_json()["error_description"]


def test_code_lifetime_comes_from_config(flow, signed_in, app):
    from idp.services import codes

    code, _ = flow.code()
    row = codes.find_code(code)
    assert (row.expires_at - row.created_at).total_seconds() == app.config["TOKEN_CODE_TTL"]


def test_code_is_stored_only_as_a_hash(flow, signed_in):
    from idp.models import AuthorizationCode

    code, _ = flow.code()
    stored = AuthorizationCode.query.one()
    assert stored.code_hash != code and code not in stored.code_hash


def test_wrong_redirect_uri_is_invalid_grant(flow, signed_in):
    code, verifier = flow.code()
    response = flow.token({"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
                           "redirect_uri": "http://127.0.0.2:5001/other"})
    assert response.get_json()["error"] == "invalid_grant"


def test_unknown_code_is_invalid_grant(flow, signed_in):
    response = flow.exchange("no-such-code", None)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"


def test_code_of_another_client_is_invalid_grant(flow, signed_in, public_client, client):
    code, verifier = flow.code()
    response = client.post("/token", data={"grant_type": "authorization_code", "code": code,
                                           "redirect_uri": flow.rp.redirect_uri,
                                           "code_verifier": verifier, "client_id": "spa"})
    assert response.get_json()["error"] == "invalid_grant"


def test_missing_code_is_invalid_request(flow, signed_in):
    response = flow.token({"grant_type": "authorization_code", "redirect_uri": flow.rp.redirect_uri})
    assert response.get_json()["error"] == "invalid_request"


def test_unsupported_grant_type(flow):
    response = flow.token({"grant_type": "password", "username": "x", "password": "y"})
    assert response.status_code == 400
    assert response.get_json()["error"] == "unsupported_grant_type"


def test_client_not_allowed_the_grant(client, service_client):
    response = client.post("/token", data={"grant_type": "authorization_code", "code": "x",
                                           "redirect_uri": "http://x"},
                           headers=basic("hr-sync", service_client.client_secret))
    assert response.get_json()["error"] == "unauthorized_client"


def test_tokens_join_the_sso_session(flow, signed_in):
    from idp.models import SessionClient

    code, verifier = flow.code()
    flow.exchange(code, verifier)
    joined = SessionClient.query.filter_by(session_id=signed_in.id).all()
    assert [j.client.client_id for j in joined] == ["docs"]


def test_token_issued_is_audited(flow, signed_in):
    from idp.models import AuditEvent

    code, verifier = flow.code()
    flow.exchange(code, verifier)
    event = AuditEvent.query.filter_by(event_type="token.issued").one()
    assert event.details["grant_type"] == "authorization_code"


def test_concurrent_redemption_gives_exactly_one_token_response(app, flow, signed_in):
    code, verifier = flow.code()
    results, barrier = [], threading.Barrier(4)

    def redeem():
        with app.app_context():
            c = app.test_client()
            barrier.wait()
            r = c.post("/token", data={"grant_type": "authorization_code", "code": code,
                                       "redirect_uri": flow.rp.redirect_uri,
                                       "code_verifier": verifier},
                       headers=basic(flow.rp.client_id, flow.rp.client_secret))
            results.append(r.status_code)

    threads = [threading.Thread(target=redeem) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200, 400, 400, 400]
