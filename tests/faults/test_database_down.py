"""The database unreachable: every endpoint that needs it answers 503 with Retry-After in
its own error format, never a traceback or a 500 (RFC 6749 §5.2 temporarily_unavailable;
RFC 9110 §15.6.4). Fast: the provider points at a closed port, so connecting fails at once.
The full outage-and-recovery run with a real PostgreSQL is bench/faults/run."""

from __future__ import annotations

import socket

import pytest

from idp import create_app
from tests.support.constants import TEST_DATA_KEY


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends: nothing listens


@pytest.fixture
def offline(tmp_path):
    app = create_app({
        "TESTING": True, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "test", "DATA_KEY":
        TEST_DATA_KEY, "WTF_CSRF_ENABLED": False, "LOGOUT_INLINE_WORKER": False,
        "DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/gone",
        "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 2}}})
    return app.test_client()


AUTHORIZE = {"client_id": "docs", "redirect_uri": "http://127.0.0.2:5001/callback",
             "response_type": "code", "scope": "openid"}
BEARER = {"Authorization": "Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6IngifQ.e30.c2ln"}
CASES = [
    ("GET", "/authorize", {"query_string": AUTHORIZE}, "html"),
    ("POST", "/token", {"data": {"grant_type": "client_credentials"},
                        "auth": ("docs", "secret")}, "json"),
    ("POST", "/revoke", {"data": {"token": "x"}, "auth": ("docs", "secret")}, "json"),
    ("POST", "/introspect", {"data": {"token": "x"}, "auth": ("docs", "secret")}, "json"),
    ("GET", "/userinfo", {"headers": BEARER}, "json"),
    ("GET", "/api/admin/users", {"headers": BEARER}, "json"),
    ("POST", "/login", {"data": {"username": "an.nguyen", "password": "x"}}, "html"),
    ("POST", "/password/forgot", {"data": {"email": "an@example.gov.vn"}}, "html"),
    ("GET", "/account", {}, "html"),
    ("GET", "/end_session", {}, "html"),
    ("GET", "/jwks", {}, "json"),
    ("GET", "/readyz", {}, "json"),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "kind"), CASES,
                         ids=[f"{m} {p}" for m, p, _k, _f in CASES])
def test_database_down_is_503_with_retry_after(offline, method, path, kwargs, kind):
    offline.set_cookie("idp_session", "a-session-cookie-the-database-would-know")
    response = offline.open(path, method=method, **kwargs)
    assert response.status_code == 503, response.get_data(as_text=True)[:300]
    assert response.headers["Retry-After"].isdigit()
    if kind == "json":
        body = response.get_json()
        assert body.get("error") == "temporarily_unavailable" or body.get("status") == "unavailable"
    else:
        assert response.mimetype == "text/html"
        assert "Traceback" not in response.get_data(as_text=True)
