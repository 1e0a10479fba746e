"""Attacks on the token-side fixes of issue 11 (#5 session-bound tokens, #17 assertion
claims): each test performs the attack and asserts what the attacker now sees.

- a sign-out that commits while the token endpoint redeems a code (or rotates a
  refresh token) of the same session must not leave the new tokens alive;
- a signed client assertion whose ``exp``/``nbf``/``iat`` is NaN is ``invalid_client``,
  not a 500.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from joserfc import jwt

from idp.extensions import db
from idp.models import LogoutDelivery, SsoSession, Token
from idp.services import codes, sessions, tokens
from tests.support.flow import Flow

GENERIC = {"error": "invalid_client", "error_description": "Client authentication failed."}
PAUSE = 1.0  # how long the token request waits for the sign-out thread (it blocks on a lock)


def _session_of(flow: Flow) -> SsoSession:
    return db.session.query(SsoSession).filter(SsoSession.ended_at.is_(None)).one()


def _sign_out_during(app, monkeypatch, module, name: str, session_id: int) -> threading.Thread:
    """Patch ``module.name`` so that right after it ran, another connection ends the session.

    The sign-out runs on its own database connection, as the browser's logout request
    would; the token request waits ``PAUSE`` for it (on PostgreSQL it blocks on a row
    lock and finishes once the token request commits) and then carries on.
    """
    real = getattr(module, name)
    ended = threading.Event()

    def logout() -> None:
        with app.app_context():
            session = db.session.get(SsoSession, session_id)
            sessions.end_session(session, "logout")
            db.session.commit()  # the logout request's boundary
            db.session.remove()
        ended.set()

    thread = threading.Thread(target=logout)

    def racing(*args, **kwargs):
        result = real(*args, **kwargs)
        if not thread.is_alive() and not ended.is_set():
            thread.start()
            thread.join(PAUSE)
        return result

    monkeypatch.setattr(module, name, racing)
    return thread


def _dead(flow: Flow, body: dict) -> None:
    """What the relying party (or a thief of its tokens) sees: nothing works any more."""
    db.session.expire_all()
    rows = db.session.query(Token).all()
    assert [r.revoked_at is not None for r in rows] == [True] * len(rows)
    info = flow.client.get("/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert info.status_code == 401
    assert 'error="invalid_token"' in info.headers["WWW-Authenticate"]
    refreshed = flow.refresh(body["refresh_token"])
    assert refreshed.status_code == 400
    assert refreshed.get_json()["error"] == "invalid_grant"


def test_sign_out_while_the_code_is_redeemed_leaves_no_live_token(app, flow, monkeypatch):
    code, verifier = flow.code()
    session = _session_of(flow)
    sid = session.sid
    thread = _sign_out_during(app, monkeypatch, codes, "claim_code", session.id)
    response = flow.client.post("/token", data=flow.token_form(code, verifier), **flow.auth())
    thread.join(30)
    assert not thread.is_alive()
    if response.status_code == 200:  # the redemption won the race: its tokens died with it
        _dead(flow, response.get_json())
        # ... and the relying party is told (OIDC Back-Channel Logout 1.0 §2.5).
        deliveries = db.session.query(LogoutDelivery).all()
        assert [(d.client_id, d.sid) for d in deliveries] == [(flow.rp.row.id, sid)]
    else:
        assert response.get_json() == {
            "error": "invalid_grant",
            "error_description": "The sign-in session of this authorization code has ended."}
        assert db.session.query(Token).count() == 0


def test_sign_out_while_a_refresh_token_rotates_leaves_no_live_token(app, flow, monkeypatch):
    first = flow.tokens()
    thread = _sign_out_during(app, monkeypatch, tokens, "spend_refresh_token",
                              _session_of(flow).id)
    response = flow.refresh(first["refresh_token"])
    thread.join(30)
    assert not thread.is_alive()
    if response.status_code == 200:
        _dead(flow, response.get_json())
    else:
        assert response.get_json()["error"] == "invalid_grant"
        db.session.expire_all()
        assert all(r.revoked_at is not None for r in db.session.query(Token).all())


# --- 17. signed assertions with claims that are not numbers ----------------------------


def _assertion(key, **overrides) -> str:
    now = int(time.time())
    claims = {"iss": "one-stop", "sub": "one-stop", "aud": "http://127.0.0.1:5000/token",
              "iat": now, "exp": now + 60, "jti": str(uuid.uuid4()), **overrides}
    return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_assertion_with_a_non_finite_time_is_invalid_client(client, jwt_client, rsa_client_key,
                                                            claim, value):
    response = client.post("/token", data={
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": _assertion(rsa_client_key, **{claim: value})})
    assert (response.status_code, response.get_json()) == (400, GENERIC)


def test_password_change_while_a_refresh_token_rotates_leaves_no_live_token(app, flow, user,
                                                                           monkeypatch):
    """The account page keeps the browser's session but revokes all of the user's tokens:
    a thief rotating a stolen refresh token at that moment must not keep the new pair."""
    first = flow.tokens()
    real = tokens.spend_refresh_token
    done = threading.Event()

    def revoke() -> None:
        with app.app_context():
            from idp.models import User

            tokens.revoke_for_user(db.session.get(User, user.id))
            db.session.commit()
            db.session.remove()
        done.set()

    thread = threading.Thread(target=revoke)

    def racing(row):
        result = real(row)
        thread.start()
        thread.join(PAUSE)
        return result

    monkeypatch.setattr(tokens, "spend_refresh_token", racing)
    response = flow.refresh(first["refresh_token"])
    thread.join(30)
    assert done.is_set()
    monkeypatch.setattr(tokens, "spend_refresh_token", real)
    assert response.status_code == 200  # the rotation itself was legitimate
    _dead(flow, response.get_json())


def test_client_disabled_while_it_rotates_gets_no_pair_back_when_re_enabled(app, flow,
                                                                           monkeypatch):
    """#7: disabling revokes the client's tokens and re-enabling brings none back, also the
    pair of a rotation that committed at the instant of the disable."""
    from idp.models import Client
    from idp.services import admin_clients
    from idp.services.admin_audit import Actor

    first = flow.tokens()
    admin = Actor(name="admin", full_admin=True)
    client_pk = flow.rp.row.id
    real = tokens.spend_refresh_token
    done = threading.Event()

    def disable() -> None:
        with app.app_context():
            admin_clients.set_enabled(db.session.get(Client, client_pk), False, admin)
            db.session.commit()
            db.session.remove()
        done.set()

    thread = threading.Thread(target=disable)

    def racing(row):
        result = real(row)
        thread.start()
        thread.join(PAUSE)
        return result

    monkeypatch.setattr(tokens, "spend_refresh_token", racing)
    response = flow.refresh(first["refresh_token"])
    thread.join(30)
    assert done.is_set()
    monkeypatch.setattr(tokens, "spend_refresh_token", real)
    assert response.status_code == 200  # authenticated before the disable committed
    admin_clients.set_enabled(db.session.get(Client, client_pk), True, admin)
    db.session.commit()
    _dead(flow, response.get_json())


def test_enabling_an_enabled_client_keeps_its_tokens(flow):
    """Re-enabling revokes only on the way back from disabled, not on every 'enable'."""
    from idp.services import admin_clients
    from idp.services.admin_audit import Actor

    body = flow.tokens()
    admin_clients.set_enabled(flow.rp.row, True, Actor(name="admin", full_admin=True))
    db.session.commit()
    assert flow.refresh(body["refresh_token"]).status_code == 200
