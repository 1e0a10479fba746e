"""Access tokens refreshed before they expire (RFC 6749 §6) and the bearer API helper (RFC 6750)."""
from __future__ import annotations

from tests.support.fake_op import FakeOP
from tests.support.relying_party import AppBrowser


def _token(browser: AppBrowser) -> dict:
    with browser.client.session_transaction() as session:
        return dict(session["_sso_token"])


def test_token_close_to_expiry_is_refreshed_on_the_next_page(browser: AppBrowser, op: FakeOP) -> None:
    op.access_token_ttl = 30  # inside the 60 s refresh leeway
    browser.login()
    before = _token(browser)
    assert browser.client.get("/private").status_code == 200
    after = _token(browser)
    assert op.refresh_count == 1
    assert after["access_token"] != before["access_token"]
    assert after["refresh_token"] != before["refresh_token"]  # the fake OP rotates it
    assert after["id_token"]


def test_token_far_from_expiry_is_not_refreshed(browser: AppBrowser, op: FakeOP) -> None:
    browser.login()
    browser.client.get("/private")
    assert op.refresh_count == 0


def test_refused_refresh_ends_the_local_session(browser: AppBrowser, op: FakeOP) -> None:
    op.access_token_ttl = 30
    op.refuse_refresh = True
    browser.login()
    response = browser.client.get("/private")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login")
    assert browser.client.get("/").text == "anonymous"


def test_api_helper_sends_the_fresh_bearer_token(browser: AppBrowser, op: FakeOP) -> None:
    op.access_token_ttl = 30
    browser.login()
    response = browser.client.get("/whoami")
    assert response.status_code == 200
    assert response.json["sub"] == "u-1" and response.json["name"] == "Nguyễn Văn An"
    assert op.refresh_count == 1
