"""Assertions on protocol errors as a relying party sees them: status, body and headers."""

from __future__ import annotations

CLIENT_AUTH_FAILED = "Client authentication failed."


def assert_invalid_client(response, *, used_authorization_header: bool) -> None:
    """RFC 6749 §5.2 invalid_client: 401 with a ``WWW-Authenticate`` challenge when the client
    authenticated with the Authorization header, 400 without one otherwise; never cached."""
    assert response.get_json() == {"error": "invalid_client",
                                   "error_description": CLIENT_AUTH_FAILED}, response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    if used_authorization_header:
        assert response.status_code == 401
        challenge = response.headers["WWW-Authenticate"]
        assert challenge.startswith("Basic ") and 'error="invalid_client"' in challenge, challenge
    else:
        assert response.status_code == 400
        assert "WWW-Authenticate" not in response.headers
