"""Red team, second look at the fixes of issue 11 for outbound requests (8, 9, 12, 13, 14)
and request rate limits: each test performs a bypass an attacker tried against them and
asserts what the attacker now sees.

Outbound (``STRICT``: production mode, an https issuer):

- addresses Python 3.11's ``ipaddress`` calls global although they are not reachable on
  the Internet: ``fec0::/10`` (site-local) and ``192.0.0.0/24`` (``192.0.0.192`` is a cloud
  metadata service) were accepted at registration and connected to;
- a name in ``IDP_OUTBOUND_ALLOW`` that resolves to ``::ffff:127.0.0.1`` or
  ``::ffff:169.254.169.254`` (``is_private`` but not ``is_loopback`` in 3.11) was reached;
- ``POST /register`` with a *wrong* initial access token resolved the host names of the
  metadata and named the internal address in its answer (an internal DNS oracle);
- an unclosed IPv6 literal (``https://[::1/cb``) in any URI field, or in ``?next=`` of the
  sign-in page, was a 500;
- a host sending its status line and headers one byte per read timeout held a JWKS fetch
  (a /token request) or a back-channel delivery far past the "total" deadline.

Rate limits (``ratelimits`` preset):

- a proxy that forwards ``ip:port`` gave every new connection of one client a new budget;
- Flask-Limiter's own log (the fallback to memory when Redis fails) went to a logger with
  only a NullHandler: a Redis outage was silent.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import time

import pytest

from idp.extensions import db
from idp.models import Client, InitialAccessToken, LogoutDelivery
from idp.services import backchannel, clients, outbound, registration
from idp.services.admin_audit import Actor
from tests.support.flow import basic
from tests.security.test_redteam_outbound import (  # noqa: F401  (fixtures)
    _assertion, _client_auth_refused, _token_form, client_key, jwks_client, upstream)

STRICT = pytest.mark.config(ENV="production", ALLOW_SQLITE=True, ISSUER="https://idp.example.gov.vn")
LIMITS = pytest.mark.preset("ratelimits")
META = {"client_name": "Lịch công tác", "redirect_uris": ["https://lich.example.gov.vn/cb"],
        "grant_types": ["authorization_code"], "token_endpoint_auth_method": "client_secret_basic"}


@pytest.fixture
def initial_token(app) -> str:
    _, token = registration.issue_initial_token("CI", 3600, Actor("binh.tran"))
    db.session.commit()
    return token


def _register(client, token: str, **metadata):
    return client.post("/register?lang=en", json={**META, **metadata},
                       headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def resolved(monkeypatch):
    """Make every name resolve to the addresses the test sets; records the names asked."""
    answer: dict = {"addresses": [], "asked": []}

    def resolve(host, port):
        answer["asked"].append(host)
        return [ipaddress.ip_address(a) for a in answer["addresses"]]

    monkeypatch.setattr(outbound, "resolve", resolve)
    return answer


@pytest.fixture
def no_connection(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the provider connected to a refused address")

    monkeypatch.setattr(outbound, "_connection", refuse)


def _delivery(user, uri: str) -> None:
    row, _secret = clients.create_client("Văn bản", client_type="web", client_id="docs",
                                         redirect_uris=["https://docs.gov.vn/cb"],
                                         backchannel_logout_uri=uri)
    db.session.add(LogoutDelivery(client_id=row.id, uri=uri, sid="sid-1", sub=user.sub))
    db.session.commit()


# --- addresses that are "global" only to Python 3.11 -------------------------------------


NOT_REACHABLE = ["fec0::1", "192.0.0.192", "192.0.0.8"]


@STRICT
@pytest.mark.parametrize("address", NOT_REACHABLE)
def test_registration_refuses_site_local_and_protocol_assignment_addresses(client, initial_token,
                                                                         address):
    host = f"[{address}]" if ":" in address else address
    response = _register(client, initial_token, backchannel_logout_uri=f"https://{host}/latest/")
    assert response.status_code == 400
    assert response.get_json() == {
        "error": "invalid_client_metadata",
        "error_description": f"backchannel_logout_uri: {address} is {address}, an address the "
                             "provider may not call (loopback, private, link-local or reserved). "
                             "Use a public host, or ask the operator to list it in "
                             "IDP_OUTBOUND_ALLOW."}
    assert db.session.query(Client).count() == 0


@STRICT
@pytest.mark.parametrize("address", NOT_REACHABLE)
def test_a_name_that_resolves_there_at_delivery_reaches_nothing(app, user, resolved,
                                                                no_connection, address):
    resolved["addresses"] = ["93.184.216.34"]  # public when registered
    _delivery(user, "https://docs.gov.vn/bcl")
    resolved["addresses"] = [address]  # re-bound before the logout
    (outcome,) = backchannel.deliver_due()
    assert outcome.status == "pending"
    assert outcome.error == (f"Refused: docs.gov.vn resolves to {address}, "
                             "which is not a public address")


# --- a listed internal name may reach its private network, nothing else --------------------


ALLOWED = pytest.mark.config(ENV="production", ALLOW_SQLITE=True, ISSUER="https://idp.example.gov.vn",
                             OUTBOUND_ALLOW=["docs.internal.gov.vn"])


@ALLOWED
@pytest.mark.parametrize("address", ["::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:0.0.0.0",
                                     "0.0.0.1", "240.0.0.1", "198.18.0.1", "192.0.2.1"])
def test_a_listed_name_resolving_to_loopback_in_disguise_reaches_nothing(app, user, resolved,
                                                                        no_connection, address):
    resolved["addresses"] = ["10.20.0.5"]
    _delivery(user, "https://docs.internal.gov.vn/bcl")  # accepted: the operator listed it
    resolved["addresses"] = [address]
    (outcome,) = backchannel.deliver_due()
    assert outcome.status == "pending"
    assert outcome.error == (f"Refused: docs.internal.gov.vn resolves to "
                             f"{ipaddress.ip_address(address)}, which is not a public address")


@ALLOWED
def test_a_listed_name_still_reaches_its_private_network(app):
    rules = outbound.policy(app.config)
    for address in ("10.20.0.5", "172.16.4.4", "192.168.1.10", "fd00::7", "::ffff:10.20.0.5"):
        assert outbound.address_allowed(ipaddress.ip_address(address), "docs.internal.gov.vn", rules)
    assert not outbound.address_allowed(ipaddress.ip_address("10.20.0.5"), "docs.gov.vn", rules)


# --- no DNS answers for callers without an initial access token -----------------------------


@STRICT
@pytest.mark.parametrize("token", ["guessed-token", "spent", "expired"])
def test_a_wrong_initial_token_resolves_no_name_and_names_no_address(client, initial_token,
                                                                     resolved, token):
    resolved["addresses"] = ["10.1.2.3"]
    if token == "spent":
        assert _register(client, initial_token).status_code == 201
        token = initial_token
    elif token == "expired":
        row = db.session.query(InitialAccessToken).one()
        row.expires_at = row.created_at
        db.session.commit()
        token = initial_token
    resolved["asked"].clear()
    before = db.session.query(Client).count()
    response = _register(client, token, backchannel_logout_uri="https://db.internal.gov.vn/x")
    assert response.status_code == 401
    assert response.get_json() == {"error": "invalid_token",
                                   "error_description": "The initial access token is not valid."}
    assert resolved["asked"] == []  # was: db.internal.gov.vn resolved, "is 10.1.2.3" answered
    assert db.session.query(Client).count() == before


@STRICT
def test_a_refused_registration_does_not_spend_the_initial_token(client, initial_token, resolved):
    resolved["addresses"] = ["10.1.2.3"]
    refused = _register(client, initial_token, backchannel_logout_uri="https://db.internal.gov.vn/x")
    assert refused.get_json()["error"] == "invalid_client_metadata"
    resolved["addresses"] = ["93.184.216.34"]
    assert _register(client, initial_token, backchannel_logout_uri="https://lich.gov.vn/bcl"
                     ).status_code == 201


# --- an unclosed IPv6 literal: the field's error, not a 500 ---------------------------------


@pytest.mark.parametrize("field, value, code", [
    ("redirect_uris", ["https://[::1/cb"], "invalid_redirect_uri"),
    ("post_logout_redirect_uris", ["https://[::1/"], "invalid_redirect_uri"),
    ("backchannel_logout_uri", "https://[::1/bcl", "invalid_client_metadata"),
    ("frontchannel_logout_uri", "https://[::1/fcl", "invalid_client_metadata"),
    ("logo_uri", "https://[::1/logo.png", "invalid_client_metadata"),
])
def test_an_unclosed_ipv6_literal_is_the_fields_error(client, initial_token, field, value, code):
    response = _register(client, initial_token, **{field: value})
    uri = value[0] if isinstance(value, list) else value
    assert response.status_code == 400
    assert response.get_json() == {"error": code,
                                   "error_description": f"{field}: {uri} is not an absolute URI."}
    assert db.session.query(Client).count() == 0


def test_an_unclosed_ipv6_literal_is_refused_by_the_outbound_rules_too(app):
    with pytest.raises(outbound.Refused, match="the URI is not valid"):
        outbound.check_uri("https://[::1/bcl", outbound.policy(app.config))


@pytest.mark.parametrize("next_url", ["http://[x", "https://[::1/"])
def test_the_sign_in_page_with_a_malformed_next_is_the_form(client, next_url):
    response = client.get("/login", query_string={"next": next_url})
    assert response.status_code == 200
    assert 'name="password"' in response.get_data(as_text=True)


# --- RFC 7592: a replacement is checked like a registration (gap test) ---------------------


@STRICT
def test_rfc7592_replace_cannot_point_the_backchannel_inside(client, initial_token):
    created = _register(client, initial_token).get_json()
    auth = {"Authorization": f"Bearer {created['registration_access_token']}"}
    response = client.put(f"/register/{created['client_id']}?lang=en", headers=auth, json={
        **META, "client_id": created["client_id"],
        "backchannel_logout_uri": "https://[::ffff:a9fe:a9fe]/latest/meta-data/"})
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_client_metadata"
    assert response.get_json()["error_description"].startswith(
        "backchannel_logout_uri: ::ffff:a9fe:a9fe is ::ffff:a9fe:a9fe, an address")
    db.session.expire_all()
    assert db.session.query(Client).filter_by(client_id=created["client_id"]).one(
    ).backchannel_logout_uri is None


# --- one total deadline, also while the answer's headers trickle in ------------------------


def _trickling_headers(handler) -> None:
    """A status line, then a header one byte per 0.1 s: each read is well within a 1 s
    read timeout, so only a total deadline stops it (6 s of header in all)."""
    handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
    for _ in range(60):
        handler.wfile.write(b"X")
        handler.wfile.flush()
        time.sleep(0.1)
    handler.wfile.write(b": y\r\nContent-Length: 12\r\n\r\n{\"keys\": []}")


@pytest.mark.config(OUTBOUND_JWKS_TIMEOUT=1)
def test_a_jwks_host_trickling_its_headers_fails_the_request_within_the_deadline(
        app, client, jwks_client, upstream, client_key):
    upstream.routes["/jwks.json"] = _trickling_headers
    started = time.monotonic()
    response = client.post("/token", data=_token_form(_assertion(app, client_key)))
    elapsed = time.monotonic() - started
    assert response.status_code == 400
    assert _client_auth_refused(response.get_json(), "The client's jwks_uri could not be read.")
    assert elapsed < 2.0, elapsed  # was 6 s: the read timeout restarted with every byte


@pytest.mark.config(LOGOUT_HTTP_TIMEOUT=1)
def test_a_backchannel_host_trickling_its_headers_holds_no_delivery_thread(app, user, upstream):
    upstream.routes["/bcl"] = _trickling_headers
    _delivery(user, f"{upstream.url}/bcl")
    started = time.monotonic()
    (outcome,) = backchannel.deliver_due()
    assert time.monotonic() - started < 2.0
    assert (outcome.status, outcome.error) == ("pending", "Timeout: no complete answer within 1 s")


# --- rate limits: the key of a forwarded address ------------------------------------------


def _through_proxy(client, rp, forwarded: str):
    return client.post("/token", data={"grant_type": "client_credentials"},
                       headers={**basic(rp.client_id, rp.client_secret), "X-Forwarded-For": forwarded})


@LIMITS
@pytest.mark.config(TRUSTED_PROXIES=1)
@pytest.mark.parametrize("spelling", ["198.51.100.7:{port}", "[2001:db8:1:2::{port:x}]:443"])
def test_a_source_port_in_the_forwarded_address_buys_no_new_budget(client, service_client, spelling):
    statuses = [_through_proxy(client, service_client, spelling.format(port=40000 + n)).status_code
                for n in range(4)]
    assert statuses == [200, 200, 200, 429]


@LIMITS
@pytest.mark.config(TRUSTED_PROXIES=1)
def test_a_forwarded_chain_the_client_started_is_counted_by_the_proxys_entry(client, service_client):
    """The client sends its own X-Forwarded-For; nginx appends the real address (gap test)."""
    statuses = [_through_proxy(client, service_client, f"198.51.100.{n}, 10.9.9.{n}, 203.0.113.5"
                               ).status_code for n in range(4)]
    assert statuses == [200, 200, 200, 429]


@LIMITS
def test_other_spellings_of_the_token_path_reach_no_unlimited_view(client, service_client):
    """After the budget is spent, no other spelling or method issues a token (gap test)."""
    for _ in range(3):
        assert _through_proxy(client, service_client, "x").status_code == 200
    form, auth = {"grant_type": "client_credentials"}, basic(service_client.client_id,
                                                              service_client.client_secret)
    for path in ("/TOKEN", "/token/", "/token;x", "/token%2f"):
        response = client.post(path, data=form, headers=auth)
        assert response.status_code == 404, path
        assert "access_token" not in response.get_data(as_text=True)
    # Spellings the router maps to the same view meet the same budget.
    merged = client.post("/", data=form, headers=auth, environ_overrides={"PATH_INFO": "//token"})
    assert merged.status_code == 429 and "access_token" not in merged.get_data(as_text=True)
    assert client.post("/%74oken", data=form, headers=auth).status_code == 429
    for method in ("HEAD", "OPTIONS", "GET", "PUT"):
        response = client.open("/token", method=method, data=form, headers=auth)
        assert response.status_code in {"OPTIONS": (200,)}.get(method, (405,)), method
        assert "access_token" not in response.get_data(as_text=True)


# --- rate limits: a Redis outage is not silent ----------------------------------------------


@LIMITS
def test_a_redis_outage_is_written_to_the_providers_log(config, service_client, caplog):
    from idp import create_app

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    node = create_app({**config, "REDIS_URL": f"redis://127.0.0.1:{closed}/0"}).test_client()
    with caplog.at_level(logging.INFO, logger="idp.ratelimits"):
        statuses = [_through_proxy(node, service_client, "x").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]  # counted in memory meanwhile (decided: fail open)
    records = [(r.name, r.levelno, r.getMessage()) for r in caplog.records
               if r.name == "idp.ratelimits"]
    assert ("idp.ratelimits", logging.WARNING,
            "Rate limit storage unreachable - falling back to in-memory storage") in records
    assert any(level == logging.INFO and "exceeded at endpoint: oidc_token.token" in message
               for _name, level, message in records)
