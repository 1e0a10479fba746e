"""Fixtures for single logout: a real HTTP receiver, clients with logout URIs, ID tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest

from idp.extensions import db
from tests.support.net import Receiver


@pytest.fixture
def receiver():
    rec = Receiver()
    yield rec
    rec.stop()


@pytest.fixture
def make_rp(app):
    """Register a relying party with logout URIs: make_rp("mail", backchannel=uri, ...)."""
    from idp.services import clients

    def make(client_id: str, *, backchannel: str | None = None, frontchannel: str | None = None,
             post_logout: list[str] | None = None, **extra):
        row, _secret = clients.create_client(
            f"App {client_id}", client_type="web", client_id=client_id,
            redirect_uris=[f"http://127.0.0.1:9000/{client_id}/callback"],
            post_logout_redirect_uris=post_logout or [],
            backchannel_logout_uri=backchannel, frontchannel_logout_uri=frontchannel,
            trusted=True, **extra,
        )
        db.session.commit()  # the test is the boundary for what it sets up by hand
        return row

    return make


@pytest.fixture
def id_token(app):
    """Sign an ID token as /token would: id_token(user, client_id, sid=..., **overrides)."""
    from idp.models import utcnow
    from idp.services import keys

    def make(user, client_id: str, *, sid: str | None = None, expired: bool = False,
             alg: str = "RS256", **overrides) -> str:
        now = utcnow() - (timedelta(hours=2) if expired else timedelta())
        claims = {
            "iss": app.config["ISSUER"], "sub": user.sub, "aud": client_id,
            "iat": int(now.timestamp()), "exp": int((now + timedelta(minutes=10)).timestamp()),
            "auth_time": int(now.timestamp()), "nonce": "n-0S6_WzA2Mj",
        }
        if sid:
            claims["sid"] = sid
        claims.update(overrides)
        return keys.sign({k: v for k, v in claims.items() if v is not None}, alg=alg)

    return make


@pytest.fixture
def other_user(app, department):
    from idp.services import users

    created, _ = users.create_user(
        "cuong.le", email="cuong.le@example.gov.vn", full_name="Lê Văn Cường",
        password="Hồ Gươm xanh biếc 2026", department=department.code,
    )
    return created
