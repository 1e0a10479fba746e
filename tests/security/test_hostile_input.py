"""Hostile input at every endpoint: random, oversized, repeated and malformed parameters,
invalid UTF-8, wrong content types and huge bodies. Never a 500, always the protocol's
error format: JSON with ``error`` for programs, an HTML page for people (RFC 6749 §5.2,
RFC 6750 §3, RFC 7591 §3.2.2; ASVS 5.1.1 / 13.1)."""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.pages import csrf_token

JSON, HTML, AUTHORIZE = "json", "html", "authorize"

# (method, path, what a caller gets back)
ENDPOINTS = [
    ("GET", "/authorize", AUTHORIZE), ("POST", "/authorize", AUTHORIZE),
    ("POST", "/token", JSON), ("GET", "/userinfo", JSON), ("POST", "/userinfo", JSON),
    ("POST", "/revoke", JSON), ("POST", "/introspect", JSON),
    ("GET", "/end_session", HTML), ("POST", "/end_session", HTML),
    ("POST", "/register", JSON), ("PUT", "/register/docs", JSON),
    ("POST", "/login", HTML), ("POST", "/login/otp", HTML),
    ("POST", "/password/forgot", HTML), ("GET", "/password/reset", HTML),
    ("POST", "/password/reset", HTML),
    ("GET", "/api/admin/users", JSON), ("POST", "/api/admin/users", JSON),
    ("PATCH", "/api/admin/users/an.nguyen", JSON), ("POST", "/api/admin/clients", JSON),
    ("PATCH", "/api/admin/clients/docs", JSON), ("POST", "/api/admin/departments", JSON),
    ("GET", "/api/admin/audit", JSON),
]

NAMES = ["client_id", "redirect_uri", "response_type", "scope", "state", "nonce",
         "code_challenge", "code_challenge_method", "prompt", "max_age", "claims",
         "id_token_hint", "response_mode", "request", "request_uri", "acr_values",
         "ui_locales", "login_hint", "grant_type", "code", "code_verifier", "refresh_token",
         "token", "token_type_hint", "client_secret", "client_assertion",
         "client_assertion_type", "post_logout_redirect_uri", "logout_hint", "username",
         "password", "otp", "email", "csrf_token", "access_token", "next", "decision",
         "redirect_uris", "client_name", "full_name", "department", "roles", "limit", "cursor"]
HOSTILE = ["' OR 1=1 --", "{{7*7}}", "<script>alert(1)</script>", "../../etc/passwd",
           "\x00", "\r\nSet-Cookie: x=1", "%00", "%E0%A4%A", "javascript:alert(1)",
           "http://evil.example/cb", "docs", "code", "openid offline_access", "S256",
           "http://127.0.0.2:5001/callback", "none", "authorization_code", "refresh_token",
           "-1", "99999999999999999999", "[]", "{}", '{"userinfo": 1}', "an.nguyen",
           "a" * 5000, "\ud7ff\ue000\uffff", "null"]

values = st.one_of(st.text(max_size=80), st.sampled_from(HOSTILE),
                   st.integers(0, 40_000).map(lambda n: "x" * n))
pairs = st.lists(st.tuples(st.one_of(st.sampled_from(NAMES), st.text(max_size=20)), values),
                 max_size=12)
CONTENT_TYPES = [None, "application/x-www-form-urlencoded", "application/json", "text/plain",
                 "multipart/form-data", "multipart/form-data; boundary=x",
                 "application/xml", "application/x-www-form-urlencoded; charset=latin-1",
                 "application/json; charset=utf-16", "*/*", "garbage"]


@st.composite
def hostile_requests(draw):
    """One hostile request: where the parameters go, how they are encoded, which credentials."""
    shape = draw(st.sampled_from(["query", "form", "json", "raw_body", "raw_query", "repeated"]))
    params = draw(pairs)
    kwargs: dict = {"headers": {}}
    if shape == "query":
        kwargs["query_string"] = urlencode(params)
    elif shape == "form":
        kwargs["data"] = urlencode(params)
        kwargs["content_type"] = draw(st.sampled_from(CONTENT_TYPES[:2] + CONTENT_TYPES[3:]))
    elif shape == "json":
        body = draw(st.one_of(st.just(dict(params)), st.lists(values, max_size=3),
                              st.dictionaries(st.sampled_from(NAMES),
                                              st.one_of(values, st.integers(), st.none(),
                                                        st.lists(values, max_size=3),
                                                        st.booleans()), max_size=8)))
        kwargs["data"] = json.dumps(body)
        kwargs["content_type"] = "application/json"
    elif shape == "raw_body":  # invalid UTF-8 and binary junk in the body
        kwargs["data"] = draw(st.binary(max_size=600)) + b"\xff\xfe\xc3\x28=%ff&"
        kwargs["content_type"] = draw(st.sampled_from(CONTENT_TYPES))
    elif shape == "raw_query":  # invalid UTF-8 in the query string, percent-encoded or raw
        raw = draw(st.binary(max_size=300)) + b"\xc3\x28\xff"
        name = draw(st.sampled_from(NAMES)).encode()
        query = name + b"=" + quote(raw, safe="").encode() + b"&" + raw.replace(b"#", b"")
        kwargs["query_string"] = query.decode("latin-1")  # the bytes as a server receives them
    else:  # every parameter twice (RFC 6749 §3.1: MUST NOT be repeated)
        twice = [(n, v) for n, v in params for _ in range(2)]
        kwargs["data"] = urlencode(twice or [("client_id", "docs"), ("client_id", "spa")])
        kwargs["content_type"] = "application/x-www-form-urlencoded"
    credentials = draw(st.sampled_from(["none", "good", "garbage"]))
    return shape, credentials, kwargs


@pytest.fixture
def armed(app, client, user, confidential_client, public_client, admin_api_token):
    """The test client with real credentials to use: a CSRF token, a client secret, an admin
    token. A random request then reaches deep into each endpoint, not only its first check."""
    page = client.get("/login")
    return {"csrf": csrf_token(page.get_data(as_text=True)), "admin": admin_api_token,
            "secret": confidential_client.client_secret}


def _with_credentials(path: str, credentials: str, armed: dict, kwargs: dict) -> dict:
    import base64

    headers = kwargs["headers"]
    if credentials == "garbage":
        headers["Authorization"] = "Bearer eyJhbGciOiJub25lIn0.e30."
    elif credentials == "good":
        if path.startswith(("/token", "/revoke", "/introspect")):
            basic = base64.b64encode(f"docs:{armed['secret']}".encode()).decode()
            headers["Authorization"] = f"Basic {basic}"
        elif path.startswith(("/api/admin", "/userinfo")):
            headers["Authorization"] = f"Bearer {armed['admin']}"
        elif isinstance(kwargs.get("data"), str) and "=" in kwargs["data"]:
            kwargs["data"] += "&csrf_token=" + armed["csrf"]
    return kwargs


def check_answer(kind: str, response, registered_uri: str = "http://127.0.0.2:5001/callback"):
    """What every caller must see: no server error, the protocol's own error format."""
    status = response.status_code
    body = response.get_data()
    assert status < 500, body[:800]
    if status < 400:
        if kind == AUTHORIZE and status in (301, 302, 303, 307):
            location = response.headers["Location"]
            # RFC 6749 §4.1.2.1: only ever to a registered redirect_uri (or our own pages).
            assert location.startswith((registered_uri + "?", "/", "http://localhost/")), location
        return
    if kind == JSON and status == 401 and "Bearer" in response.headers.get("WWW-Authenticate", ""):
        # RFC 6750 §3.1: a request without credentials may get no error code at all; the
        # challenge header is the answer (and an error code, when there is one, is in it).
        return
    if kind == JSON:
        assert response.mimetype == "application/json", (status, body[:300])
        assert isinstance(response.get_json().get("error"), str), body[:300]
    elif kind == HTML or (kind == AUTHORIZE and status not in (302, 303)):
        assert response.mimetype == "text/html", (status, body[:300])
        assert b"<html" in body.lower()
        assert b"Traceback" not in body


@pytest.mark.parametrize(("method", "path", "kind"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in ENDPOINTS])
def test_every_endpoint_exists(app, method, path, kind):
    """The fuzz below would pass vacuously on a 404; each endpoint it attacks must be routed."""
    adapter = app.url_map.bind("localhost")
    endpoint, _args = adapter.match(path.split("?")[0], method=method)
    assert endpoint


@pytest.mark.parametrize(("method", "path", "kind"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in ENDPOINTS])
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(request=hostile_requests())
def test_random_input_never_breaks_an_endpoint(client, armed, method, path, kind, request):
    shape, credentials, kwargs = request
    kwargs = _with_credentials(path, credentials, armed, kwargs)
    response = client.open(path, method=method, **kwargs)
    check_answer(kind, response)


@pytest.mark.parametrize(("method", "path", "kind"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in ENDPOINTS])
def test_huge_body_is_413_in_the_protocol_format(app, client, method, path, kind):
    size = app.config["MAX_CONTENT_LENGTH"] + 1
    content_type = "application/json" if path.startswith("/api/") else \
        "application/x-www-form-urlencoded"
    response = client.open(path, method=method, data=b"a=" + b"x" * size, content_type=content_type)
    assert response.status_code == 413
    if kind == JSON:
        assert response.get_json()["error"] == "request_too_large"
    else:
        assert response.mimetype == "text/html"


@pytest.mark.parametrize(("method", "path", "kind"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in ENDPOINTS])
def test_huge_query_string_is_refused_cleanly(client, armed, method, path, kind):
    response = client.open(path, method=method,
                           query_string={"client_id": "docs", "state": "s" * 200_000,
                                         "redirect_uri": "http://127.0.0.2:5001/callback"})
    check_answer(kind, response)
