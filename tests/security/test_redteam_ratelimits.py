"""Red team, issue 11 "Defaults: request rate limits": there was no request-rate limiter.

An attacker at one address sprays passwords over many accounts (the account lockout never
sees the same name twice), guesses second-factor codes, floods /password/forgot, /token,
/introspect and /register. Each attack below spends the budget of the ``ratelimits``
preset (3 per minute per address; 3 per address and client_id, 5 per address, at /token
and /introspect) and asserts what the attacker then sees: 429, ``Retry-After`` in whole
seconds, and the endpoint's own error format (RFC 6749 §5.2 JSON with ``slow_down``, or
the Vietnamese page with the form), and that nothing was done for the refused request.

Every test runs twice: counters in memory and in Redis (127.0.0.1:6379, a prefix of the
test's own). The scale-out test shows two app instances sharing one budget through Redis,
and that the memory store is per process, as the README says.
"""

from __future__ import annotations

import re
import secrets
import time

import pyotp
import pytest
import redis

from idp import create_app
from idp.config import ConfigError, load
from idp.extensions import db
from idp.models import Client, PasswordResetToken
from tests.support.constants import PASSWORD
from tests.support.flow import basic

pytestmark = pytest.mark.preset("ratelimits")

REDIS_URL = "redis://127.0.0.1:6379/11"
PAGE_TEXT = re.compile(r"Có quá nhiều yêu cầu từ mạng của bạn\. Hãy chờ (\d+) giây rồi thử lại\.")
META = {"client_name": "Lịch công tác", "redirect_uris": ["https://lich.example.gov.vn/cb"]}


# --- stores -------------------------------------------------------------------------------


def _drop_keys(prefix: str) -> None:
    store = redis.Redis.from_url(REDIS_URL)
    keys = list(store.scan_iter(match=f"{prefix}*"))
    if keys:
        store.delete(*keys)


@pytest.fixture(params=["memory", "redis"])
def store(request) -> str:
    return request.param


@pytest.fixture
def config(config, store, request) -> dict:
    """The preset's config, with the counters in Redis for the ``redis`` runs."""
    if store == "memory":
        return config
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.ConnectionError:
        pytest.fail(f"the Redis rate-limit tests need a Redis server at {REDIS_URL}")
    prefix = f"test-limits-{secrets.token_hex(6)}:"
    request.addfinalizer(lambda: _drop_keys(prefix))
    return {**config, "REDIS_URL": REDIS_URL, "REDIS_PREFIX": prefix}


# --- what the attacker sees ---------------------------------------------------------------


def _retry_after(response) -> int:
    value = response.headers.get("Retry-After", "")
    assert value.isdigit(), f"Retry-After must be whole seconds, got {value!r}"
    return int(value)


def assert_json_429(response) -> None:
    """RFC 6749 §5.2 shape, code slow_down, 429 and Retry-After (RFC 6585 §4)."""
    assert response.status_code == 429, response.get_data(as_text=True)[:300]
    seconds = _retry_after(response)
    assert 1 <= seconds <= 60
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.get_json() == {
        "error": "slow_down",
        "error_description": f"Too many requests. Retry after {seconds} seconds."}


def assert_page_429(response, field: str) -> None:
    """The endpoint's own form again, status 429, the Vietnamese message with the wait."""
    assert response.status_code == 429
    seconds = _retry_after(response)
    assert 1 <= seconds <= 60
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    match = PAGE_TEXT.search(html)
    assert match, html[:2000]
    assert int(match.group(1)) == seconds
    assert f'name="{field}"' in html  # the form is there to try again later
    assert "Location" not in response.headers


def _cc(client, rp, address: str = "127.0.0.1"):
    return client.post("/token", data={"grant_type": "client_credentials"},
                       headers=basic(rp.client_id, rp.client_secret),
                       environ_overrides={"REMOTE_ADDR": address})


# --- the six endpoints --------------------------------------------------------------------


def test_password_spray_from_one_address_is_stopped_at_login(app, browser, user):
    for n in range(3):  # three accounts, one guess each: the account lockout sees nothing
        response = browser.submit("/login", {"username": f"ghost.{n}", "password": "Mùa thu 2026!"})
        assert response.status_code == 401
        assert "Sai tên đăng nhập hoặc mật khẩu." in response.get_data(as_text=True)
    response = browser.submit("/login", {"username": user.username, "password": PASSWORD})
    assert_page_429(response, "password")
    # Refused before the password was checked: even the right one opened no session.
    assert browser.client.get_cookie(app.config["SSO_COOKIE_NAME"]) is None
    assert browser.client.get("/login").status_code == 200  # showing the form is not limited


@pytest.mark.config(LOCKOUT_DELAY_AFTER=50, LOCKOUT_THRESHOLD=50)  # only the rate limit here
def test_second_factor_guessing_is_stopped_at_login_otp(app, browser, user):
    from idp.services import mfa

    secret = mfa.new_secret()
    assert mfa.enrol(user, secret, pyotp.TOTP(secret).at(time.time() - 30)) is not None
    response = browser.submit("/login", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login/otp")
    valid = {pyotp.TOTP(secret).at(time.time() + 30 * step) for step in (-2, -1, 0, 1, 2)}
    wrong = next(c for c in (f"{n:06d}" for n in range(100000, 999999, 7919)) if c not in valid)
    for _ in range(3):
        response = browser.submit("/login/otp", {"code": wrong})
        assert response.status_code == 401
        assert "Mã không đúng" in response.get_data(as_text=True)
    response = browser.submit("/login/otp", {"code": pyotp.TOTP(secret).now()})
    assert_page_429(response, "code")
    assert browser.client.get_cookie(app.config["SSO_COOKIE_NAME"]) is None


def test_reset_mail_flood_is_stopped_at_password_forgot(app, browser, user):
    for n in range(3):
        response = browser.submit("/password/forgot", {"email": f"ghost.{n}@example.gov.vn"})
        assert response.status_code == 200
    response = browser.submit("/password/forgot", {"email": user.email})
    assert_page_429(response, "email")
    # Nothing was done for the refused request: no reset link exists for the real address.
    assert db.session.query(PasswordResetToken).filter_by(user_id=user.id).count() == 0


def test_token_flood_is_answered_429_in_rfc6749_json(client, service_client):
    for _ in range(3):
        response = _cc(client, service_client)
        assert response.status_code == 200 and response.get_json()["access_token"]
    response = _cc(client, service_client)
    assert_json_429(response)  # the exact body: no access_token in it


def test_introspection_flood_is_answered_429_in_rfc6749_json(client, service_client):
    token = _cc(client, service_client).get_json()["access_token"]
    for _ in range(3):
        response = client.post("/introspect", data={"token": token},
                               headers=basic(service_client.client_id, service_client.client_secret))
        assert response.status_code == 200 and response.get_json()["active"] is True
    response = client.post("/introspect", data={"token": token},
                           headers=basic(service_client.client_id, service_client.client_secret))
    assert_json_429(response)


@pytest.mark.config(RATELIMIT_REVOKE="5/minute", RATELIMIT_REVOKE_CLIENT="3/minute")
def test_revocation_guessing_is_answered_429_in_rfc6749_json(client, service_client):
    """Guessing a client's secret at /revoke (RFC 7009 §2.1 authenticates the client there)."""
    token = _cc(client, service_client).get_json()["access_token"]
    for _ in range(3):
        response = client.post("/revoke", data={"token": token},
                               headers=basic(service_client.client_id, secrets.token_urlsafe(8)))
        assert response.status_code == 401 and response.get_json()["error"] == "invalid_client"
    response = client.post("/revoke", data={"token": token},
                           headers=basic(service_client.client_id, service_client.client_secret))
    assert_json_429(response)
    # The refused request revoked nothing: the token is still active.
    status = client.post("/introspect", data={"token": token},
                         headers=basic(service_client.client_id, service_client.client_secret))
    assert status.status_code == 200 and status.get_json()["active"] is True


def test_registration_guessing_is_answered_429_and_registers_nothing(client, app):
    from idp.services import registration
    from idp.services.admin_audit import Actor

    _, first = registration.issue_initial_token("CI", 3600, Actor("binh.tran"))
    _, second = registration.issue_initial_token("CI", 3600, Actor("binh.tran"))
    db.session.commit()
    created = client.post("/register", json=META, headers={"Authorization": f"Bearer {first}"})
    assert created.status_code == 201  # under the limit, registration works
    for _ in range(2):  # guessing initial access tokens
        guess = client.post("/register", json=META,
                            headers={"Authorization": f"Bearer {secrets.token_urlsafe(32)}"})
        assert guess.status_code == 401 and guess.get_json()["error"] == "invalid_token"
    before = db.session.query(Client).count()
    response = client.post("/register", json=META, headers={"Authorization": f"Bearer {second}"})
    assert_json_429(response)
    assert db.session.query(Client).count() == before
    # RFC 7592 management spends the same budget.
    body = created.get_json()
    read = client.get(f"/register/{body['client_id']}",
                      headers={"Authorization": f"Bearer {body['registration_access_token']}"})
    assert_json_429(read)


# --- keys: per address, per client_id, behind proxies -------------------------------------


def test_each_client_behind_one_address_has_its_own_budget_under_the_address_ceiling(
        client, service_client):
    from tests.support.clients import register

    other = register("Báo cáo", client_type="service", client_id="reports", scope="staff.read")
    assert [_cc(client, service_client).status_code for _ in range(4)] == [200, 200, 200, 429]
    # The noisy client spent its own budget, not the other one's ...
    assert _cc(client, other).status_code == 200
    # ... and together they stay under the address's ceiling (5), before `other` has used its 3.
    second = _cc(client, other)
    third = _cc(client, other)
    assert 429 in (second.status_code, third.status_code)
    assert_json_429(third)


def test_a_client_id_named_from_another_address_spends_nothing_of_the_real_clients(
        client, service_client):
    # The attacker names the client (with a wrong secret) from their own address.
    for _ in range(6):
        client.post("/token", data={"grant_type": "client_credentials"},
                    headers=basic(service_client.client_id, "not-the-secret"),
                    environ_overrides={"REMOTE_ADDR": "203.0.113.9"})
    assert_json_429(_cc(client, service_client, "203.0.113.9"))
    assert _cc(client, service_client).status_code == 200  # the real client, its own address


def test_rotating_x_forwarded_for_does_not_escape_without_trusted_proxies(client, service_client):
    responses = [client.post("/token", data={"grant_type": "client_credentials"},
                             headers={**basic(service_client.client_id, service_client.client_secret),
                                      "X-Forwarded-For": f"198.51.100.{n}"})
                 for n in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]


@pytest.mark.config(TRUSTED_PROXIES=1)
def test_clients_behind_a_trusted_proxy_are_counted_by_their_forwarded_address(
        client, service_client):
    def through_proxy(address: str):
        return client.post("/token", data={"grant_type": "client_credentials"},
                           headers={**basic(service_client.client_id, service_client.client_secret),
                                    "X-Forwarded-For": address})

    assert [through_proxy("198.51.100.7").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert through_proxy("198.51.100.8").status_code == 200


def test_an_ipv6_host_cannot_take_a_new_budget_per_address_in_its_64(client, service_client):
    statuses = [_cc(client, service_client, f"2001:db8:1:2::{n:x}").status_code for n in range(1, 5)]
    assert statuses == [200, 200, 200, 429]
    assert _cc(client, service_client, "2001:db8:1:3::1").status_code == 200  # another /64


def test_an_unreadable_basic_header_is_counted_under_the_address(app):
    from idp.ratelimits import claimed_client_id

    cases = {"Basic /w==": "-",  # b"\xff": not UTF-8
             "Basic %%%": "-",  # not base64
             "Basic 4pyTOng=": "✓",  # "✓:x", UTF-8
             "Basic ZG9jcyUzQSUyMHg6eQ==": "docs: x"}  # form-encoded (RFC 6749 §2.3.1)
    for header, expected in cases.items():
        with app.test_request_context("/token", method="POST", headers={"Authorization": header}):
            assert claimed_client_id() == expected, header
    with app.test_request_context("/token", method="POST", data={
            "client_assertion": "e30." + "W1tb" * 1500 + ".sig"}):
        assert claimed_client_id() == "-"  # deeply nested JSON: no RecursionError


# --- what is not limited, what resets, what is shared -------------------------------------


def test_health_and_metrics_are_never_limited(client, service_client):
    for _ in range(4):
        _cc(client, service_client)
    assert_json_429(_cc(client, service_client))
    for _ in range(10):
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200
        assert client.get("/metrics").status_code == 200


# The window (which starts at its first request) is long enough for three token requests on
# a loaded CI machine; 2 seconds was not always.
@pytest.mark.config(RATELIMIT_TOKEN_CLIENT="2 per 4 seconds")
def test_the_budget_comes_back_when_the_window_ends(client, service_client):
    assert [_cc(client, service_client).status_code for _ in range(2)] == [200, 200]
    refused = _cc(client, service_client)
    assert_json_429(refused)
    assert _retry_after(refused) <= 4
    time.sleep(_retry_after(refused) + 0.2)
    assert _cc(client, service_client).status_code == 200


def test_two_nodes_share_one_budget_through_redis_and_not_in_memory(app, config, store,
                                                                      service_client):
    node_b = create_app(config)  # a second instance on the same database and store
    a, b = app.test_client(), node_b.test_client()
    assert [_cc(a, service_client).status_code for _ in range(2)] == [200, 200]
    third = _cc(b, service_client)
    if store == "redis":
        assert third.status_code == 200
        assert_json_429(_cc(b, service_client))  # 4th in total, on the other node: refused
        assert_json_429(_cc(a, service_client))
        keys = redis.Redis.from_url(REDIS_URL).keys(f"{config['REDIS_PREFIX']}ratelimit:*")
        assert keys, "the counters are in Redis under IDP_REDIS_PREFIX + ratelimit:"
    else:  # documented: memory counters are per process, each node allows the budget
        assert [third.status_code, _cc(b, service_client).status_code] == [200, 200]


# --- settings -----------------------------------------------------------------------------


@pytest.mark.config(RATELIMIT_ENABLED=False)
def test_the_switch_turns_every_limit_off(client, service_client):
    assert {_cc(client, service_client).status_code for _ in range(8)} == {200}


def test_a_malformed_limit_is_refused_at_start_up_naming_the_variable(tmp_path):
    with pytest.raises(ConfigError, match=r"^IDP_RATELIMIT_TOKEN is malformed: 'lots'"):
        create_app({"INSTANCE_PATH": str(tmp_path), "RATELIMIT_TOKEN": "lots"})
    with pytest.raises(ConfigError, match=r"^IDP_RATELIMIT_LOGIN is malformed"):
        load({"IDP_RATELIMIT_LOGIN": "5 per fortnight"}, {})
    assert load({"IDP_RATELIMIT_LOGIN": " 5/minute;50/hour "}, {})["RATELIMIT_LOGIN"] == "5/minute;50/hour"


def test_an_unreachable_redis_never_refuses_service_and_still_limits_per_process(
        app, config, service_client):
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    node = create_app({**config, "REDIS_URL": f"redis://127.0.0.1:{closed}/0",
                       "REDIS_PREFIX": f"test-limits-{secrets.token_hex(6)}:"}).test_client()
    assert [_cc(node, service_client).status_code for _ in range(3)] == [200, 200, 200]
    assert_json_429(_cc(node, service_client))  # counted in the process's memory meanwhile


def test_the_memory_store_starts_no_thread_per_request(app, store, service_client, monkeypatch):
    """limits' MemoryStorage starts a cleanup thread 10 ms after a hit; ours sweeps inline."""
    import limits.storage.memory

    started = []
    real = limits.storage.memory.threading.Timer

    def counting(*args, **kwargs):
        started.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(limits.storage.memory.threading, "Timer", counting)
    client = app.test_client()
    for _ in range(3):
        assert _cc(client, service_client).status_code == 200
        time.sleep(0.02)  # past the original's 10 ms timer
    assert started == []


def test_the_inline_sweep_frees_the_windows_of_clients_that_stopped_coming():
    from idp.ratelimits import SweptMemoryStorage

    swept = SweptMemoryStorage()
    swept.incr("gone", expiry=0.05)
    swept.incr("staying", expiry=60)
    time.sleep(0.1)
    swept.next_sweep = 0  # the minute has passed
    swept.incr("new", expiry=60)
    assert set(swept.expirations) == {"staying", "new"} and "gone" not in swept.storage
