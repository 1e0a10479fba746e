"""Races over real HTTP: a live threaded server on a file database (or PostgreSQL), ten
requests released at once. Single-use and rotation rules must hold under concurrency
(RFC 6749 §4.1.2, RFC 9700 §4.14.2), and counters must lose no update (ASVS 2.2.1).

In-process variants with fewer threads are in tests/oidc/test_token_code.py,
tests/oidc/test_refresh.py and tests/auth/test_auth_throttle.py."""

from __future__ import annotations

import time

import pytest
import requests

from tests.support.constants import PASSWORD
from tests.support.net import run_at_once
from tests.support.pages import csrf_token

THREADS = 10


def _post_token(server, flow, form: dict) -> tuple[int, dict]:
    response = requests.post(f"{server.url}/token", data=form, timeout=60,
                             auth=(flow.rp.client_id, flow.rp.client_secret))
    return response.status_code, response.json()


def test_one_code_redeemed_by_ten_threads_gives_one_token_response(live_server, flow):
    code, verifier = flow.code()
    form = flow.token_form(code, verifier)
    results = run_at_once(THREADS, lambda i: _post_token(live_server, flow, form))
    statuses = sorted(status for status, _body in results)
    assert statuses == [200] + [400] * (THREADS - 1), results
    losers = [body for status, body in results if status != 200]
    assert all(body["error"] == "invalid_grant" for body in losers)


@pytest.mark.config(TOKEN_REFRESH_GRACE=0)
def test_one_refresh_token_by_ten_threads_without_grace_rotates_once_then_revokes(
        live_server, flow):
    """Exactly one rotation wins; every other presentation is a reuse of a spent token,
    which revokes the family, so even the winner's new refresh token is dead."""
    tokens = flow.tokens()
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    results = run_at_once(THREADS, lambda i: _post_token(live_server, flow, form))
    winners = [body for status, body in results if status == 200]
    assert len(winners) == 1, results
    assert all(body["error"] == "invalid_grant" for status, body in results if status != 200)
    status, body = _post_token(live_server, flow, {
        "grant_type": "refresh_token", "refresh_token": winners[0]["refresh_token"]})
    assert (status, body["error"]) == (400, "invalid_grant")
    info = requests.get(f"{live_server.url}/userinfo", timeout=30,
                        headers={"Authorization": f"Bearer {winners[0]['access_token']}"})
    assert info.status_code == 401


@pytest.mark.config(TOKEN_REFRESH_GRACE=5)  # opt-in: the default is strict single use
def test_one_refresh_token_by_ten_threads_within_grace_all_get_the_same_answer(live_server,
                                                                               flow):
    """Inside IDP_TOKEN_REFRESH_GRACE, a retry is a lost response, not an attack: one
    rotation, and every caller gets that same new token pair."""
    tokens = flow.tokens()
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    results = run_at_once(THREADS, lambda i: _post_token(live_server, flow, form))
    assert {status for status, _body in results} == {200}, results
    assert len({body["refresh_token"] for _status, body in results}) == 1
    status, _body = _post_token(live_server, flow, {
        "grant_type": "refresh_token", "refresh_token": results[0][1]["refresh_token"]})
    assert status == 200  # the family is alive


@pytest.mark.config(TOKEN_REFRESH_GRACE=1)
def test_grace_window_by_the_clock(live_server, flow):
    """A retry inside the window gets the same tokens; after it, reuse revokes the family."""
    tokens = flow.tokens()
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    first = _post_token(live_server, flow, form)
    assert first[0] == 200
    assert _post_token(live_server, flow, form) == first
    time.sleep(1.6)
    status, body = _post_token(live_server, flow, form)
    assert (status, body["error"]) == (400, "invalid_grant")
    status, _body = _post_token(live_server, flow, {
        "grant_type": "refresh_token", "refresh_token": first[1]["refresh_token"]})
    assert status == 400


@pytest.mark.config(LOCKOUT_DELAY_AFTER=100, LOCKOUT_THRESHOLD=100, IP_THRESHOLD=1000)
def test_failed_sign_ins_over_http_are_counted_exactly(live_server, user):
    from idp.services import throttle

    browsers = [requests.Session() for _ in range(THREADS)]
    tokens = [csrf_token(b.get(f"{live_server.url}/login", timeout=30).text) for b in browsers]

    def attempt(i: int) -> int:
        return browsers[i].post(f"{live_server.url}/login", timeout=60, data={
            "username": "an.nguyen", "password": PASSWORD + "-wrong",
            "csrf_token": tokens[i]}).status_code

    statuses = run_at_once(THREADS, attempt)
    assert statuses == [401] * THREADS, statuses
    assert throttle.failures(f"user:{user.id}") == THREADS
    assert throttle.failures("ip:127.0.0.1") == THREADS


@pytest.mark.config(LOCKOUT_DELAY_AFTER=100, LOCKOUT_THRESHOLD=5, IP_THRESHOLD=1000)
def test_concurrent_guesses_cannot_outrun_the_lock(live_server, user):
    """Ten guesses at once against a threshold of five: the account ends up locked, and the
    right password is refused afterwards (no check-then-act gap lets a guess through)."""
    browsers = [requests.Session() for _ in range(THREADS + 1)]
    tokens = [csrf_token(b.get(f"{live_server.url}/login", timeout=30).text) for b in browsers]

    def attempt(i: int) -> int:
        return browsers[i].post(f"{live_server.url}/login", timeout=60, data={
            "username": "an.nguyen", "password": f"guess-{i}", "csrf_token": tokens[i]},
            allow_redirects=False).status_code

    statuses = run_at_once(THREADS, attempt)
    assert all(s in (401, 403, 429) for s in statuses), statuses
    right = browsers[-1].post(f"{live_server.url}/login", timeout=60, allow_redirects=False,
                              data={"username": "an.nguyen", "password": PASSWORD,
                                    "csrf_token": tokens[-1]})
    assert right.status_code == 403
    assert "locked" in right.text or "khóa" in right.text
