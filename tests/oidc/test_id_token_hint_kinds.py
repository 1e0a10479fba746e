"""id_token_hint is an ID token and nothing else (OIDC Core 3.1.2.1, RP-Initiated Logout 1.0 §2).

Genuine tokens of the other kinds this provider signs (an access token, RFC 9068 §4
``at+jwt``; a back-channel logout token, Back-Channel Logout 1.0 §2.4 ``logout+jwt``) carry
our signature, our ``iss``, the client's ``aud`` and the user's ``sub``: only their ``typ``
tells them apart, and /authorize and /end_session refuse them alike (services.jose).
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest


def _location_query(response) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}


def _access_token(tokens) -> str:
    return tokens["access_token"]


def _logout_token(app, confidential_client, user) -> str:
    from idp.services import backchannel

    return backchannel.logout_token(confidential_client.row, sid="sid-1", sub=user.sub)


def _request_object(app, confidential_client, user) -> str:
    from idp.services import keys

    now = int(time.time())
    return keys.sign({"iss": app.config["ISSUER"], "sub": user.sub,
                      "aud": confidential_client.client_id, "iat": now, "exp": now + 600},
                     typ="oauth-authz-req+jwt")


@pytest.fixture
def hint_of(app, tokens, confidential_client, user):
    """The hint of each kind; ``tokens`` has run the code flow, so the browser is signed in."""
    return {
        "access token": lambda: _access_token(tokens),
        "logout token": lambda: _logout_token(app, confidential_client, user),
        "request object": lambda: _request_object(app, confidential_client, user),
    }


KINDS = ["access token", "logout token", "request object"]


def test_the_id_token_of_the_same_flow_is_a_valid_hint(flow, tokens):
    """The control: the refusals below are the typ's, not the rest of the token's."""
    response = flow.authorize(id_token_hint=tokens["id_token"], prompt="none")
    assert response.status_code == 302
    got = _location_query(response)
    assert "code" in got and "error" not in got


@pytest.mark.parametrize("kind", KINDS)
def test_authorize_refuses_another_kind_as_id_token_hint(app, flow, hint_of, kind):
    response = flow.authorize(id_token_hint=hint_of[kind](), prompt="none")
    # OIDC Core 3.1.2.6: the client and redirect_uri are verified, so the relying party
    # receives the error at its redirect_uri, with its state and our iss (RFC 9207).
    assert response.status_code == 302
    assert response.headers["Location"].startswith(flow.rp.redirect_uri)
    got = _location_query(response)
    assert got["error"] == "invalid_request"
    assert got["error_description"] == "The id_token_hint is not a valid ID token."
    assert got["state"] == "st-123"
    assert got["iss"] == app.config["ISSUER"]
    assert "code" not in got


@pytest.mark.parametrize("kind", KINDS)
def test_end_session_refuses_another_kind_as_id_token_hint(app, client, hint_of, kind):
    from idp.extensions import db
    from idp.models import SsoSession

    hint = hint_of[kind]()
    response = client.get("/end_session", query_string={
        "id_token_hint": hint, "post_logout_redirect_uri": "http://127.0.0.2:5001/",
        "lang": "en"})
    # RP-Initiated Logout 1.0 §4: an invalid request is an error page, never a redirect.
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "Location" not in response.headers
    assert "The id_token_hint is not a valid ID token from this service." in \
        response.get_data(as_text=True)
    db.session.expire_all()
    assert SsoSession.query.filter(SsoSession.ended_at.is_(None)).count() == 1
