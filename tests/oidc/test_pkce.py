"""PKCE (RFC 7636) with S256 only; required from every client unless a confidential one is
registered otherwise (RFC 9700 §2.1.1)."""

from __future__ import annotations

import pytest

from tests.support.flow import pkce_pair
from tests.support.urls import query


def test_public_client_without_pkce_is_refused(public_flow, signed_in):
    got = query(public_flow.authorize(code_challenge=None).headers["Location"])
    assert got["error"] == "invalid_request"
    assert "PKCE" in got["error_description"]


@pytest.mark.parametrize("method", [None, "plain", "S512"])
def test_only_s256_is_accepted(flow, signed_in, method):
    _, challenge = pkce_pair()
    got = query(flow.authorize(code_challenge=challenge, code_challenge_method=method).headers["Location"])
    assert got["error"] == "invalid_request"
    assert "S256" in got["error_description"]


def test_malformed_challenge(flow, signed_in):
    got = query(flow.authorize(code_challenge="short", code_challenge_method="S256").headers["Location"])
    assert got["error"] == "invalid_request" and "malformed" in got["error_description"]


def test_method_without_challenge(flow, signed_in):
    got = query(flow.authorize(code_challenge_method="S256").headers["Location"])
    assert got["error"] == "invalid_request"


def test_public_client_flow_with_valid_pkce_succeeds(public_flow, signed_in):
    code, verifier = public_flow.code()
    response = public_flow.exchange(code, verifier)
    assert response.status_code == 200, response.get_json()
    assert "id_token" in response.get_json()


def test_wrong_verifier_is_invalid_grant(flow, signed_in):
    code, _ = flow.code()
    other, _ = pkce_pair()
    response = flow.exchange(code, other)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"


def test_missing_verifier_when_challenge_was_sent(flow, signed_in):
    code, _ = flow.code()
    response = flow.exchange(code, None)
    assert response.status_code == 400
    assert response.get_json() == {"error": "invalid_request",
                                   "error_description": "Missing 'code_verifier'"}


def test_public_client_must_send_verifier(public_flow, signed_in):
    code, _ = public_flow.code()
    response = public_flow.exchange(code, None)
    assert response.get_json()["error"] == "invalid_request"


def test_confidential_client_without_pkce_is_refused_by_default(flow, signed_in):
    got = query(flow.authorize(code_challenge=None).headers["Location"])
    assert got["error"] == "invalid_request"
    assert got["error_description"] == "This client must use PKCE (code_challenge with S256)."


@pytest.fixture
def nonce_flow(client):
    """A confidential client registered without PKCE (it relies on the nonce)."""
    from tests.support.clients import register
    from tests.support.flow import Flow

    return Flow(client, register("Báo cáo", client_type="web", client_id="reports",
                                  redirect_uris=["https://reports.example/cb"], trusted=True,
                                  pkce_required=False))


def test_confidential_client_registered_without_pkce_works(nonce_flow, signed_in):
    code = query(nonce_flow.authorize(nonce="n-1").headers["Location"])["code"]
    assert nonce_flow.exchange(code, None).status_code == 200


def test_verifier_without_challenge_is_refused(nonce_flow, signed_in):
    code = query(nonce_flow.authorize().headers["Location"])["code"]
    verifier, _ = pkce_pair()
    response = nonce_flow.exchange(code, verifier)
    assert response.get_json()["error"] == "invalid_request"


def test_code_without_challenge_is_refused_once_the_client_requires_pkce(nonce_flow, signed_in):
    from idp.extensions import db

    code = query(nonce_flow.authorize().headers["Location"])["code"]
    nonce_flow.rp.row.pkce_required = True
    db.session.commit()
    response = nonce_flow.exchange(code, None)
    assert response.get_json() == {"error": "invalid_grant", "error_description":
                                   "The authorization code was issued without PKCE."}
