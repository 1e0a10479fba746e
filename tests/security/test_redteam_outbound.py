"""Red-team findings about outbound requests and hostile input (issue 11: 8, 9, 12, 13, 14,
and the 100 kB state at end_session), each performed as the attacker did.

The JWKS and back-channel receivers are real HTTP servers on 127.0.0.1 (port 0): the
default test issuer is a plain-http loopback development issuer, the one configuration
in which the provider may call loopback. Tests marked ``STRICT`` run in production mode
with an https issuer: https only, public addresses only.
"""

from __future__ import annotations

import html
import http.client
import ipaddress
import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode, urljoin, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import RSAKey

from idp.extensions import db
from idp.models import AuditEvent, Client, LogoutDelivery
from idp.services import backchannel, clients, outbound, registration, transfer
from idp.services.admin_audit import Actor
from tests.support.clients import register
from tests.support.net import run_at_once

STRICT = pytest.mark.config(ENV="production", ALLOW_SQLITE=True, ISSUER="https://idp.example.gov.vn")
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


# --- a real HTTP server whose answers the test chooses ---------------------------------------


class Upstream:
    """A threaded HTTP server on 127.0.0.1:<free port>; ``routes[path]`` decides each answer."""

    def __init__(self) -> None:
        self.hits: dict[str, int] = {}
        self.requests: list[dict] = []
        self.routes: dict[str, object] = {}
        self.lock = threading.Lock()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with upstream.lock:
                    upstream.hits[self.path] = upstream.hits.get(self.path, 0) + 1
                    upstream.requests.append({"path": self.path, "host": self.headers["Host"],
                                              "body": body})
                route = upstream.routes.get(self.path)
                try:
                    if route is None:
                        self._answer(404, b"not found")
                    else:
                        route(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the provider hung up, as it should past its limits

            do_GET = do_POST = _serve

            def _answer(self, status: int, body: bytes, **headers) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name.replace("_", "-"), value)
                self.end_headers()
                self.wfile.write(body)

        self.Handler = Handler
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "Upstream":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def _auth_failures():
    return AuditEvent.query.filter_by(event_type="client.auth_failed").order_by(AuditEvent.id).all()


def _client_auth_refused(body: dict, reason: str) -> bool:
    """RFC 6749 §5.2 with one generic description (i11 #16); the reason is audited instead."""
    failures = _auth_failures()
    return body == {"error": "invalid_client", "error_description": "Client authentication failed."} \
        and bool(failures) and failures[-1].details["reason"] == reason


def _json(document: dict):
    def route(handler) -> None:
        handler._answer(200, json.dumps(document).encode(), Content_Type="application/json")
    return route


def _status(status: int, body: bytes = b""):
    def route(handler) -> None:
        handler._answer(status, body)
    return route


@pytest.fixture
def upstream():
    with Upstream() as server:
        yield server


# --- 8. forced jwks_uri fetches ---------------------------------------------------------------


@pytest.fixture
def client_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "rp-key-1", "alg": "RS256"}, private=True)


@pytest.fixture
def jwks_client(app, upstream, client_key):
    """A private_key_jwt client whose keys are at a jwks_uri on the local server."""
    upstream.routes["/jwks.json"] = _json({"keys": [client_key.as_dict(private=False)]})
    return register("Một cửa", client_type="web", client_id="one-stop",
                     redirect_uris=["http://127.0.0.4:5003/callback"],
                     auth_method="private_key_jwt", jwks_uri=f"{upstream.url}/jwks.json")


def _assertion(app, key: RSAKey) -> str:
    now = int(time.time())
    claims = {"iss": "one-stop", "sub": "one-stop", "aud": f"{app.config['ISSUER']}/token",
              "iat": now, "exp": now + 60, "jti": str(uuid.uuid4())}
    return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


def _token_form(assertion: str) -> dict:
    return {"grant_type": "client_credentials", "client_assertion_type": JWT_BEARER,
            "client_assertion": assertion}


def _stranger(index: int) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": f"made-up-{index}"}, private=True)


def test_ten_assertions_with_unknown_kids_fetch_the_jwks_uri_once(app, client, jwks_client,
                                                                 upstream, client_key):
    strangers = [_stranger(i) for i in range(10)]
    for key in strangers:
        response = client.post("/token", data=_token_form(_assertion(app, key)))
        # RFC 6749 §5.2: 400 (no Authorization header was used), as for every assertion failure.
        assert response.status_code == 400
        assert _client_auth_refused(response.get_json(), "The client assertion signature is invalid.")
    assert upstream.hits == {"/jwks.json": 1}
    # The client's own key still authenticates it (the grant is what fails then).
    response = client.post("/token", data=_token_form(_assertion(app, client_key)))
    assert response.get_json()["error"] == "unauthorized_client"
    assert upstream.hits == {"/jwks.json": 1}


def test_an_unknown_kid_refetches_only_after_the_window(app, client, jwks_client, upstream,
                                                        client_key):
    from idp.models import ThrottleCounter

    client.post("/token", data=_token_form(_assertion(app, _stranger(0))))
    # The window of the shared counter ends (as it would a minute later, on any node).
    row = db.session.get(ThrottleCounter, f"jwks:{jwks_client.row.id}")
    row.window_started_at = row.window_started_at.replace(year=2000)
    db.session.commit()
    rotated = RSAKey.generate_key(2048, parameters={"kid": "rp-key-2"}, private=True)
    upstream.routes["/jwks.json"] = _json({"keys": [rotated.as_dict(private=False)]})
    response = client.post("/token", data=_token_form(_assertion(app, rotated)))
    assert response.get_json()["error"] == "unauthorized_client"  # authenticated: key rotated
    assert upstream.hits == {"/jwks.json": 2}


def test_a_redirect_from_the_jwks_uri_is_not_followed(app, client, jwks_client, upstream,
                                                     client_key):
    upstream.routes["/jwks.json"] = lambda h: h._answer(302, b"", Location=f"{upstream.url}/real.json")
    upstream.routes["/real.json"] = _json({"keys": [client_key.as_dict(private=False)]})
    response = client.post("/token", data=_token_form(_assertion(app, client_key)))
    assert response.status_code == 400
    assert _client_auth_refused(response.get_json(), "The client's jwks_uri could not be read.")
    assert upstream.hits == {"/jwks.json": 1}  # /real.json was never asked for


def _slow(handler) -> None:
    time.sleep(4)
    handler._answer(200, b'{"keys": []}')


def _trickle(handler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", "1000")  # within the size limit: only time stops it
    handler.end_headers()
    for _ in range(40):
        handler.wfile.write(b" ")
        handler.wfile.flush()
        time.sleep(0.1)


@pytest.mark.config(OUTBOUND_JWKS_TIMEOUT=1)
@pytest.mark.parametrize("route", [_slow, _trickle], ids=["no-answer", "trickling-body"])
def test_a_slow_jwks_host_fails_the_request_within_the_deadline(app, client, jwks_client,
                                                                upstream, client_key, route):
    upstream.routes["/jwks.json"] = route
    started = time.monotonic()
    response = client.post("/token", data=_token_form(_assertion(app, client_key)))
    elapsed = time.monotonic() - started
    assert _client_auth_refused(response.get_json(), "The client's jwks_uri could not be read.")
    assert elapsed < 2.0, elapsed


def _endless(handler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.end_headers()  # no length: the body ends when the connection does
    handler.wfile.write(b'{"keys": [' + b" " * 1_000_000)
    while True:
        handler.wfile.write(b" " * 65536)


@pytest.mark.parametrize("route", [
    _endless,
    _status(200, b'{"keys": [], "padding": "' + b"x" * 70_000 + b'"}'),
], ids=["endless", "declared-length"])
def test_a_huge_jwks_body_is_cut_at_the_limit_and_refused(app, client, jwks_client, upstream,
                                                         client_key, route):
    upstream.routes["/jwks.json"] = route
    started = time.monotonic()
    response = client.post("/token", data=_token_form(_assertion(app, client_key)))
    assert _client_auth_refused(response.get_json(), "The client's jwks_uri could not be read.")
    assert time.monotonic() - started < 2.5  # an endless body was not read to its end


def test_a_failed_fetch_is_remembered(app, client, jwks_client, upstream, client_key):
    upstream.routes["/jwks.json"] = _status(500, b"down")
    for _ in range(3):
        response = client.post("/token", data=_token_form(_assertion(app, client_key)))
        assert _client_auth_refused(response.get_json(), "The client's jwks_uri could not be read.")
    assert upstream.hits == {"/jwks.json": 1}


@pytest.mark.config(OUTBOUND_JWKS_TIMEOUT=3)
def test_concurrent_requests_do_not_wait_on_another_fetch(app, jwks_client, upstream,
                                                          client_key, live_server):
    def slow_keys(handler) -> None:
        time.sleep(1.5)
        _json({"keys": [client_key.as_dict(private=False)]})(handler)

    upstream.routes["/jwks.json"] = slow_keys
    forms = [_token_form(_assertion(app, client_key)) for _ in range(4)]

    def call(index: int):
        started = time.monotonic()
        answer = requests.post(f"{live_server.url}/token", data=forms[index], timeout=10)
        return time.monotonic() - started, answer.json()

    results = run_at_once(4, call)
    assert upstream.hits == {"/jwks.json": 1}
    waited = sorted(results, key=lambda r: r[0])
    # One request fetched (and authenticated); the others were answered at once.
    assert [body["error"] for _t, body in waited] == ["invalid_client"] * 3 + ["unauthorized_client"]
    # One generic description on the wire (i11 #16); the reason is in the audit trail.
    assert all(body["error_description"] == "Client authentication failed."
               for _t, body in waited[:3])
    assert [e.details["reason"] for e in _auth_failures()] == [
        "The client's keys are being fetched; try again shortly."] * 3
    assert all(seconds < 1.0 for seconds, _b in waited[:3]), waited


# --- 9. SSRF through registered URIs ------------------------------------------------------------


@pytest.fixture
def initial_token(app) -> str:
    _, token = registration.issue_initial_token("CI", 3600, Actor("binh.tran"))
    db.session.commit()
    return token


META = {"client_name": "Lịch công tác", "redirect_uris": ["https://lich.example.gov.vn/cb"],
        "grant_types": ["authorization_code"], "token_endpoint_auth_method": "client_secret_basic"}

HOSTILE = [
    "https://169.254.169.254/latest/meta-data/iam/",
    "https://10.0.0.1/backchannel",
    "http://127.0.0.1:6379/",
    "https://127.0.0.1:6379/",
    "https://[::1]/backchannel",
    "https://localhost/backchannel",
    "https://2130706433/backchannel",
    "https://[::ffff:127.0.0.1]/backchannel",
    "https://[::ffff:a9fe:a9fe]/latest/meta-data/",
    "https://[2002:a9fe:a9fe::1]/latest/meta-data/",
    "https://192.168.1.10/backchannel",
    "https://[fd00::1]/backchannel",
    "https://0.0.0.0/backchannel",
]


@STRICT
@pytest.mark.parametrize("uri", HOSTILE)
def test_registration_refuses_internal_backchannel_uris(client, initial_token, uri):
    response = client.post("/register?lang=en", json={**META, "backchannel_logout_uri": uri},
                           headers={"Authorization": f"Bearer {initial_token}"})
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "invalid_client_metadata"
    assert body["error_description"].startswith("backchannel_logout_uri: ")
    assert body["error_description"].count("backchannel_logout_uri") == 1
    assert "must use https" in body["error_description"] or \
        "an address the provider may not call" in body["error_description"]
    assert db.session.query(Client).count() == 0


@STRICT
def test_registration_accepts_a_public_https_backchannel_uri(client, initial_token):
    # The name does not resolve from the test machine: the connect-time check decides.
    response = client.post("/register", json={**META, "backchannel_logout_uri": "https://lich.gov.vn/bcl"},
                           headers={"Authorization": f"Bearer {initial_token}"})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["backchannel_logout_uri"] == "https://lich.gov.vn/bcl"


def test_development_loopback_issuer_still_reaches_the_demo_apps(client, initial_token):
    response = client.post("/register", json={**META, "backchannel_logout_uri":
                                              "http://127.0.0.2:5001/auth/backchannel-logout"},
                           headers={"Authorization": f"Bearer {initial_token}"})
    assert response.status_code == 201
    # Loopback only: a private address needs the allow-list even in development. (A fresh
    # initial token: the first is spent, and a spent one is refused before the metadata.)
    _, second = registration.issue_initial_token("CI", 3600, Actor("binh.tran"))
    db.session.commit()
    refused = client.post("/register", json={**META, "backchannel_logout_uri": "https://10.0.0.1/b"},
                          headers={"Authorization": f"Bearer {second}"})
    assert refused.get_json()["error"] == "invalid_client_metadata"


@STRICT
def test_the_console_form_shows_the_field_error(client, csrf, sign_in_as, department):  # noqa: F811
    sign_in_as("admin")
    form = {"client_name": "Cổng dịch vụ công", "client_type": "web",
            "redirect_uris": "https://motcua.example.gov.vn/cb",
            "backchannel_logout_uri": "https://169.254.169.254/latest/meta-data/",
            "grant_types": ["authorization_code"], "scope": "openid", "client_id": "onestop",
            "csrf_token": csrf()}
    response = client.post("/admin/clients/new?lang=en", data=form)
    assert response.status_code == 422
    error = response.get_data(as_text=True).split('id="e-backchannel_logout_uri">')[1].split("</p>")[0]
    assert "169.254.169.254 is 169.254.169.254, an address the provider may not call" in error
    assert db.session.query(Client).filter_by(client_id="onestop").first() is None


@STRICT
def test_cli_and_import_refuse_an_internal_jwks_uri(app, runner):
    result = runner.invoke(["client", "create", "--name", "Một cửa", "--type", "service",
                            "--auth-method", "private_key_jwt", "--grant-type", "client_credentials",
                            "--jwks-uri", "https://169.254.169.254/keys"])
    assert result.exit_code == 1
    assert "jwks_uri: 169.254.169.254 is 169.254.169.254" in result.output
    document = {"format": "idp-export", "version": 1, "departments": [], "roles": [], "users": [],
                "clients": [{"client_id": "imported", "name": "Nhập", "client_type": "service",
                             "token_endpoint_auth_method": "private_key_jwt",
                             "grant_types": ["client_credentials"],
                             "jwks_uri": "http://127.0.0.1:6379/"}]}
    with pytest.raises(transfer.ImportRefused, match=r"clients\[0\] \(imported\): jwks_uri: "):
        transfer.import_document(document)
    assert db.session.query(Client).count() == 0


@STRICT
def test_connect_time_check_refuses_a_name_that_now_resolves_inside(app, monkeypatch, user):
    answers = iter([[ipaddress.ip_address("93.184.216.34")], [ipaddress.ip_address("10.0.0.7")]])
    monkeypatch.setattr(outbound, "resolve", lambda host, port: next(answers))
    row, _secret = clients.create_client("Văn bản", client_type="web", client_id="docs",
                                         redirect_uris=["https://docs.gov.vn/cb"],
                                         backchannel_logout_uri="https://docs.gov.vn/bcl")
    db.session.add(LogoutDelivery(client_id=row.id, uri=row.backchannel_logout_uri,
                                  sid="sid-1", sub=user.sub))
    db.session.commit()

    def no_connection(*args, **kwargs):
        raise AssertionError("the provider connected to a refused address")

    monkeypatch.setattr(outbound, "_connection", no_connection)
    (outcome,) = backchannel.deliver_due()
    assert outcome.status == "pending"
    assert outcome.error == "Refused: docs.gov.vn resolves to 10.0.0.7, which is not a public address"


def test_a_request_connects_to_the_address_it_checked(app, upstream, monkeypatch):
    """Resolved once; the connection goes to that address, the Host header keeps the name."""
    calls = []
    real = outbound.resolve

    def counting(host, port):
        calls.append(host)
        return real(host, port)

    monkeypatch.setattr(outbound, "resolve", counting)
    upstream.routes["/ping"] = _status(204)
    port = urlsplit(upstream.url).port
    reply = outbound.send("GET", f"http://localhost:{port}/ping", outbound.policy(app.config),
                          timeout=2, max_bytes=0)
    assert reply.status == 204 and calls == ["localhost"]
    assert upstream.requests[-1]["host"] == f"localhost:{port}"


@pytest.mark.config(ENV="production", ALLOW_SQLITE=True, ISSUER="https://idp.example.gov.vn",
                    OUTBOUND_ALLOW=["10.20.0.0/16", "docs.internal.gov.vn"])
def test_the_allow_list_admits_listed_internal_hosts_only(app, client, initial_token):
    listed = client.post("/register", json={**META, "backchannel_logout_uri": "https://10.20.0.5/bcl"},
                         headers={"Authorization": f"Bearer {initial_token}"})
    assert listed.status_code == 201
    rules = outbound.policy(app.config)
    assert outbound.address_allowed(ipaddress.ip_address("10.30.1.2"), "docs.internal.gov.vn", rules)
    # A listed name still may not reach link-local or loopback (the metadata service).
    assert not outbound.address_allowed(ipaddress.ip_address("169.254.169.254"),
                                        "docs.internal.gov.vn", rules)
    assert not outbound.address_allowed(ipaddress.ip_address("127.0.0.1"), "docs.internal.gov.vn", rules)
    assert not outbound.address_allowed(ipaddress.ip_address("10.21.0.5"), "other.gov.vn", rules)
    _, second = registration.issue_initial_token("CI", 3600, Actor("binh.tran"))
    db.session.commit()
    unlisted = client.post("/register", json={**META, "backchannel_logout_uri": "https://10.21.0.5/bcl"},
                           headers={"Authorization": f"Bearer {second}"})
    assert unlisted.get_json()["error"] == "invalid_client_metadata"


@pytest.mark.parametrize("status", [200, 400])
def test_the_audit_of_a_delivery_holds_no_response_body(app, upstream, user, status):
    secret = b"redis_version:7.2.4\r\nrole:master\r\nconnected_clients:3\r\n" * 10
    upstream.routes["/bcl"] = _status(status, secret)
    row, _ = clients.create_client("Văn bản", client_type="web", client_id="docs",
                                   redirect_uris=["http://127.0.0.2:5001/cb"],
                                   backchannel_logout_uri=f"{upstream.url}/bcl")
    db.session.add(LogoutDelivery(client_id=row.id, uri=row.backchannel_logout_uri,
                                  sid="sid-1", sub=user.sub))
    db.session.commit()
    (outcome,) = backchannel.deliver_due()
    assert upstream.hits == {"/bcl": 1}
    delivery = db.session.query(LogoutDelivery).one()
    event = db.session.query(AuditEvent).filter_by(event_type="logout.delivery").one()
    if status == 200:
        assert (outcome.status, delivery.last_error) == ("delivered", None)
        assert "error" not in event.details
    else:
        assert delivery.last_error == "HTTP 400" and event.details["error"] == "HTTP 400"
    assert "redis" not in json.dumps(event.details) and "redis" not in (delivery.last_error or "")


# --- 12. RFC 7592 on a disabled client -------------------------------------------------------------


def test_registration_management_is_refused_while_the_client_is_disabled(client, initial_token):
    created = client.post("/register", json=META,
                          headers={"Authorization": f"Bearer {initial_token}"}).get_json()
    auth = {"Authorization": f"Bearer {created['registration_access_token']}"}
    url = f"/register/{created['client_id']}"
    row = db.session.query(Client).filter_by(client_id=created["client_id"]).one()
    row.enabled = False
    db.session.commit()
    expected = {"error": "access_denied", "error_description":
                "This application is disabled; an administrator must enable it before its "
                "registration can be read or changed."}
    evil = {**META, "client_id": created["client_id"], "redirect_uris": ["https://evil.example/cb"]}
    en = f"{url}?lang=en"
    for response in (client.get(en, headers=auth), client.put(en, json=evil, headers=auth),
                     client.delete(en, headers=auth)):
        assert response.status_code == 403
        assert response.get_json() == expected
        assert response.headers["Cache-Control"] == "no-store"
    db.session.expire_all()
    row = db.session.query(Client).filter_by(client_id=created["client_id"]).one()
    assert row.redirect_uris == ["https://lich.example.gov.vn/cb"]
    row.enabled = True
    db.session.commit()
    assert client.get(url, headers=auth).status_code == 200  # enabled again: it works again


# --- 13. deeply nested JSON ----------------------------------------------------------------------------


@pytest.mark.parametrize("body", ['{"a":' * 1500, '{"a":' * 1500 + "1" + "}" * 1500,
                                  "[" * 20 + "]" * 20], ids=["unclosed", "well-formed", "depth-20"])
def test_register_with_deeply_nested_json_is_invalid_client_metadata(client, initial_token, body):
    response = client.post("/register", data=body, content_type="application/json",
                           headers={"Authorization": f"Bearer {initial_token}"})
    assert response.status_code == 400
    assert response.get_json() == {"error": "invalid_client_metadata",
                                   "error_description": "The body must be a JSON object."}


def test_authorize_with_deeply_nested_claims_is_invalid_request(flow):
    claims = "[" * 2000 + "]" * 2000
    response = flow.client.post("/authorize", data={
        "client_id": flow.rp.client_id, "redirect_uri": flow.rp.redirect_uri, "response_type": "code",
        "scope": "openid", "state": "s1", "code_challenge": "x" * 43,
        "code_challenge_method": "S256", "claims": claims})
    assert response.status_code == 302  # RFC 6749 §4.1.2.1: the error goes to the client
    location = response.headers["Location"]
    assert location.startswith(flow.rp.redirect_uri)
    from tests.support.urls import query

    assert query(location) == {"error": "invalid_request", "state": "s1",
                                  "error_description": "The claims parameter is not valid JSON.",
                                  "iss": "http://127.0.0.1:5000"}


def test_a_deeply_nested_client_assertion_is_invalid_client(client, jwks_client):
    import base64

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    payload = b64(b'{"iss":' + b"[" * 3000 + b"]" * 3000 + b"}")
    header = b64(b'{"alg":"RS256"}')
    response = client.post("/token", data=_token_form(f"{header}.{payload}.c2ln"))
    assert _client_auth_refused(response.get_json(), "The client assertion is malformed.")


# --- 14. the language link ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/%5Cevil.example/", "//evil.example/", "/%09/evil.example",
                                  "/\\evil.example/", "/login"])
def test_the_language_link_never_leaves_the_site(app, client, path):
    response = client.get("/", environ_overrides={"PATH_INFO": _decoded(path),
                                                  "RAW_URI": path, "REQUEST_URI": path})
    page = response.get_data(as_text=True)
    hrefs = re.findall(r'href="([^"]*lang=[^"]*)"', page)
    assert hrefs, page[:500]
    base = app.config["ISSUER"] + path  # the address the browser shows
    for href in hrefs:
        target = urlsplit(_browser_join(base, html.unescape(href)))
        assert (target.scheme, target.netloc) == ("http", "127.0.0.1:5000"), (path, href)


def _browser_join(base: str, href: str) -> str:
    """Resolve ``href`` as a browser does (WHATWG URL), which urljoin alone does not:
    tabs and newlines are dropped, and in an http(s) URL a backslash is a slash."""
    return urljoin(base, re.sub(r"[\t\n\r]", "", href).replace("\\", "/"))


def _decoded(path: str) -> str:
    from urllib.parse import unquote

    return unquote(path)


# --- hostile input: a 100 kB state at end_session ------------------------------------------------


def _big_logout(confidential_client) -> dict:
    return {"client_id": confidential_client.client_id, "state": "x" * 100_000,
            "post_logout_redirect_uri": "http://127.0.0.2:5001/"}


def test_end_session_with_a_huge_state_answers_a_page(client, confidential_client):
    response = client.post("/end_session", data=_big_logout(confidential_client))
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "Tham số state quá dài." in response.get_data(as_text=True)


def test_end_session_with_a_huge_state_over_a_real_socket(live_server, confidential_client):
    connection = http.client.HTTPConnection("127.0.0.1", urlsplit(live_server.url).port, timeout=10)
    connection.request("POST", "/end_session?lang=en", urlencode(_big_logout(confidential_client)),
                       {"Content-Type": "application/x-www-form-urlencoded"})
    response = connection.getresponse()  # was: LineTooLong, a 100 kB Location header
    assert response.status == 400
    assert "The state parameter is too long." in response.read().decode()


@pytest.mark.config(MAX_REDIRECT_LENGTH=1000)
def test_any_redirect_longer_than_the_limit_becomes_a_page(flow):
    """/authorize echoes state too; the web layer refuses any Location past the limit."""
    response, _verifier = flow.start(state="s" * 2000)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "Địa chỉ để tiếp tục quá dài." in response.get_data(as_text=True)


@pytest.mark.parametrize("entry", ["http://10.0.0.1/", "10.0.0.300/8", "2130706433", "*.gov.vn"])
def test_a_malformed_allow_list_entry_refuses_to_start(entry):
    from idp import config

    with pytest.raises(config.ConfigError, match="IDP_OUTBOUND_ALLOW is malformed"):
        config.load({"IDP_OUTBOUND_ALLOW": entry}, None)
