"""Refresh tokens: rotation, reuse detection (RFC 9700 §4.14.2), grace window, scope narrowing."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from tests.support.flow import basic, decode_jwt


def test_refresh_rotates(flow, tokens):
    response = flow.refresh(tokens["refresh_token"])
    assert response.status_code == 200
    body = response.get_json()
    assert body["refresh_token"] != tokens["refresh_token"]
    assert body["access_token"] != tokens["access_token"]
    assert response.headers["Cache-Control"] == "no-store"
    _, claims = decode_jwt(body["id_token"])
    _, first = decode_jwt(tokens["id_token"])
    # OIDC Core §12.2: same iss, sub, aud and auth_time as the original ID token.
    assert {k: claims[k] for k in ("iss", "sub", "aud", "auth_time")} == \
        {k: first[k] for k in ("iss", "sub", "aud", "auth_time")}


def test_refresh_token_only_with_offline_access(flow, signed_in):
    code, verifier = flow.code(scope="openid profile")
    assert "refresh_token" not in flow.exchange(code, verifier).get_json()


def test_untrusted_client_gets_offline_access_only_with_prompt_consent(public_flow, signed_in):
    code, verifier = public_flow.code(scope="openid offline_access")
    body = public_flow.exchange(code, verifier).get_json()
    assert body["scope"] == "openid" and "refresh_token" not in body


def test_scope_may_be_narrowed_not_widened(flow, tokens):
    narrowed = flow.refresh(tokens["refresh_token"], scope="openid profile")
    assert narrowed.status_code == 200 and narrowed.get_json()["scope"] == "openid profile"
    widened = flow.refresh(narrowed.get_json()["refresh_token"], scope="openid phone")
    assert widened.status_code == 400 and widened.get_json()["error"] == "invalid_scope"


@pytest.mark.config(TOKEN_REFRESH_GRACE=0)
def test_reuse_after_grace_revokes_the_family(flow, tokens, client):
    new = flow.refresh(tokens["refresh_token"]).get_json()
    from idp.extensions import db
    from idp.models import Token

    spent = Token.query.filter(Token.rotated_at.isnot(None)).one()
    spent.rotated_at -= timedelta(seconds=1)
    db.session.commit()
    reuse = flow.refresh(tokens["refresh_token"])
    assert reuse.status_code == 400
    assert reuse.get_json() == {"error": "invalid_grant",
                                "error_description": "The refresh token was already used."}
    # The whole family is revoked: the newest refresh token and its access token too.
    assert flow.refresh(new["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert client.get("/userinfo", headers={"Authorization": f"Bearer {new['access_token']}"}).status_code == 401
    from idp.models import AuditEvent

    assert AuditEvent.query.filter_by(event_type="refresh.reuse_detected").count() == 1


@pytest.mark.config(TOKEN_REFRESH_GRACE=5)  # opt-in: the default is strict single use
def test_reuse_within_grace_returns_the_same_tokens(flow, tokens):
    first = flow.refresh(tokens["refresh_token"]).get_json()
    again = flow.refresh(tokens["refresh_token"])
    assert again.status_code == 200
    assert again.get_json() == first
    assert flow.refresh(first["refresh_token"]).status_code == 200  # family still alive


@pytest.mark.config(TOKEN_REFRESH_GRACE=5)
def test_replacement_is_stored_encrypted(flow, tokens):
    first = flow.refresh(tokens["refresh_token"]).get_json()
    from idp.models import Token

    spent = Token.query.filter(Token.rotated_at.isnot(None)).one()
    assert spent.replacement and first["refresh_token"] not in spent.replacement
    assert spent.refresh_token_hash != tokens["refresh_token"]


def test_refresh_token_of_another_client(flow, tokens, client, public_client):
    response = client.post("/token", data={"grant_type": "refresh_token", "client_id": "spa",
                                           "refresh_token": tokens["refresh_token"]})
    assert response.get_json()["error"] == "invalid_grant"


def test_unknown_refresh_token(flow, signed_in):
    assert flow.refresh("nope").get_json()["error"] == "invalid_grant"


def test_refresh_after_session_end_fails(flow, tokens, signed_in):
    from idp.services import sessions

    sessions.end_session(signed_in, "logout")
    response = flow.refresh(tokens["refresh_token"])
    assert response.get_json() == {"error": "invalid_grant",
                                   "error_description": "The refresh token was revoked."}


def test_expired_refresh_token(flow, tokens):
    from idp.extensions import db
    from idp.models import Token, utcnow

    row = Token.query.one()
    row.refresh_expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert flow.refresh(tokens["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_concurrent_refresh_rotates_exactly_once(app, flow, tokens):
    results, barrier = [], threading.Barrier(3)

    def use():
        with app.app_context():
            c = app.test_client()
            barrier.wait()
            r = c.post("/token", data={"grant_type": "refresh_token",
                                       "refresh_token": tokens["refresh_token"]},
                       headers=basic(flow.rp.client_id, flow.rp.client_secret))
            results.append((r.status_code, r.get_json().get("refresh_token")))

    threads = [threading.Thread(target=use) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    from idp.models import Token

    assert Token.query.filter(Token.rotated_at.isnot(None)).count() == 1
    assert Token.query.count() == 2
    issued = {rt for status, rt in results if status == 200}
    assert len(issued) == 1  # everyone who succeeded got the same replacement
