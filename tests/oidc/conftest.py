"""Fixtures of the OpenID Connect area: the code flow, and bad tokens (the relying party's
helpers are in tests/support/flow.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.flow import Flow


@pytest.fixture
def flow(client, confidential_client) -> Flow:
    return Flow(client, confidential_client)


@pytest.fixture
def public_flow(client, public_client, user) -> Flow:
    """The public (untrusted) client, which ``user`` already allowed the openid scope."""
    from idp.services import consent

    consent.grant_consent(user, public_client.row, ["openid"])
    return Flow(client, public_client)


@pytest.fixture
def signed_in(user, sso_login):
    """The test browser holds an SSO session for ``user`` (password only)."""
    return sso_login(user)


@pytest.fixture
def tokens(flow, signed_in) -> dict:
    """The whole code flow with PKCE for the trusted client: the token response."""
    code, verifier = flow.code(scope="openid profile email offline_access roles department",
                               nonce="n-0S6_WzA2Mj")
    response = flow.exchange(code, verifier)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.fixture
def expired_code(flow, signed_in, app) -> tuple[str, str]:
    """A code whose lifetime (IDP_TOKEN_CODE_TTL) has passed."""
    from idp.extensions import db
    from idp.services import codes

    code, verifier = flow.code()
    row = codes.find_code(code)
    row.expires_at = row.created_at - timedelta(seconds=1)
    db.session.commit()
    return code, verifier


@pytest.fixture
def id_token_wrong_aud(app, user) -> str:
    """A genuine ID token of this provider, issued to another client."""
    import time

    from idp.services import keys

    now = int(time.time())
    return keys.sign({"iss": app.config["ISSUER"], "sub": user.sub, "aud": "another-app",
                      "iat": now, "exp": now + 600})
