"""Red-team finding 6: open redirect through ``next`` in the client adapter's sign-in route.

The attacker sends a staff member ``/auth/login?next=/%09/evil.example/phish``. A browser
drops the tab and reads ``//evil.example/phish`` as another host. Every demo app must
answer with a path on its own origin, whether the visitor is signed in already or comes
back through the provider's callback.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from flask import Flask

from clients import docs_app, onestop, webmail
from clients.idp_client import is_local_path, local_path
from tests.support.fake_op import FakeOP
from tests.support.relying_party import STAFF, AppBrowser

ORIGIN = "http://localhost"  # the Flask test client's origin
EXACT = "/%09/evil.example/phish"  # the finding's request, as sent on the wire
# (query-string value as sent, the attacker's host it aims at)
VARIANTS = [
    (EXACT, "evil.example"),
    ("//evil.example/phish", "evil.example"),
    ("/%5Cevil.example/phish", "evil.example"),        # "/\evil.example": backslash read as "/"
    ("/%5C%5Cevil.example/phish", "evil.example"),
    ("%5C%5Cevil.example/phish", "evil.example"),
    ("https://evil.example/phish", "evil.example"),
    ("https:evil.example/phish", "evil.example"),
    ("/%0d%0aLocation:%20https://evil.example/", "evil.example"),  # header splitting
    ("%09//evil.example/phish", "evil.example"),
    ("/%09%09/evil.example/phish", "evil.example"),
    ("/%0a/evil.example/phish", "evil.example"),
    ("/%00/evil.example/phish", "evil.example"),
    ("/%252F/evil.example/phish", "evil.example"),     # "/%2F/..." decoded once more: "///"
    ("/%255C/evil.example/phish", "evil.example"),     # "/%5C/..." decoded once more: "/\"
    ("javascript:alert(1)", "evil.example"),
]
APPS = {"docs": docs_app, "webmail": webmail, "onestop": onestop}
URLS = {"DOCS_URL": "http://docs.test", "WEBMAIL_URL": "http://webmail.test",
        "ONESTOP_URL": "http://onestop.test"}


@pytest.fixture(scope="module")
def op_server() -> Iterator[FakeOP]:
    op = FakeOP().start()
    op.clients = {key: f"{key}-secret" for key in APPS}
    yield op
    op.stop()


@pytest.fixture
def op(op_server: FakeOP) -> FakeOP:
    op_server.reset()
    op_server.user = {**STAFF, "roles": ["clerk", "officer"]}
    return op_server


def demo_app(key: str, op: FakeOP, tmp_path: Path) -> Flask:
    return APPS[key].create_app({
        **URLS, f"{key.upper()}_URL": ORIGIN, "SSO_ISSUER": op.issuer, "SSO_CLIENT_ID": key,
        "SSO_CLIENT_SECRET": f"{key}-secret", "DATABASE": str(tmp_path / f"{key}.sqlite3"),
    })


def assert_local(location: str) -> None:
    """What a browser does with the Location: it must stay on the app's own origin."""
    parts = urlsplit(location)
    assert not parts.scheme and not parts.netloc, location
    assert location.startswith("/") and not location.startswith("//"), location
    assert "\\" not in location and not any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in location)
    # WHATWG URL parsing strips tab/newline and reads "\" as "/"; emulate it, then resolve.
    browser_view = location.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/")
    assert urlsplit(urljoin(ORIGIN + "/", browser_view)).netloc == "localhost", location


def login_via_callback(browser: AppBrowser, raw_next: str) -> Any:
    """Anonymous: /auth/login?next=<raw> → the provider → the callback; its response."""
    start = browser.client.get(f"/auth/login?next={raw_next}")
    assert start.status_code == 302
    assert start.headers["Location"].startswith(browser.op.issuer + "/authorize?")
    return browser.client.get(browser.authorize(start.headers["Location"]))


@pytest.mark.parametrize("key", list(APPS))
def test_exact_request_after_the_callback_lands_on_the_home_page(key: str, op: FakeOP, tmp_path: Path) -> None:
    browser = AppBrowser(demo_app(key, op, tmp_path).test_client(), op=op)
    response = login_via_callback(browser, EXACT)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert "Nguyễn Văn An" in browser.client.get("/").text  # signed in, on the app itself


@pytest.mark.parametrize("key", list(APPS))
def test_exact_request_when_signed_in_lands_on_the_home_page(key: str, op: FakeOP, tmp_path: Path) -> None:
    browser = AppBrowser(demo_app(key, op, tmp_path).test_client(), op=op)
    assert login_via_callback(browser, "/").status_code == 302
    response = browser.client.get(f"/auth/login?next={EXACT}")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize(("raw_next", "host"), VARIANTS)
@pytest.mark.parametrize("key", list(APPS))
def test_variants_never_leave_the_origin(key: str, raw_next: str, host: str, op: FakeOP,
                                         tmp_path: Path) -> None:
    browser = AppBrowser(demo_app(key, op, tmp_path).test_client(), op=op)
    after_callback = login_via_callback(browser, raw_next).headers["Location"]
    signed_in = browser.client.get(f"/auth/login?next={raw_next}").headers["Location"]
    for location in (after_callback, signed_in):
        assert_local(location)
        assert host not in location
        assert location == "/"


@pytest.mark.parametrize("key", list(APPS))
def test_a_stored_target_is_checked_again_before_the_redirect(key: str, op: FakeOP, tmp_path: Path) -> None:
    """Whatever put a foreign target in the session, the callback does not follow it."""
    browser = AppBrowser(demo_app(key, op, tmp_path).test_client(), op=op)
    start = browser.client.get("/auth/login?next=/")
    with browser.client.session_transaction() as session:
        for sent in session["_sso_pending"].values():
            sent["next"] = "/\t/evil.example/phish"
    response = browser.client.get(browser.authorize(start.headers["Location"]))
    assert response.status_code == 302 and response.headers["Location"] == "/"


@pytest.mark.parametrize("key", list(APPS))
def test_the_language_switch_is_no_open_redirect_either(key: str, op: FakeOP, tmp_path: Path) -> None:
    client = demo_app(key, op, tmp_path).test_client()
    for raw_next, _host in VARIANTS:
        location = client.get(f"/lang/en?next={raw_next}").headers["Location"]
        assert_local(location)
        assert location == "/"


@pytest.mark.parametrize("key", list(APPS))
def test_local_targets_still_work(key: str, op: FakeOP, tmp_path: Path) -> None:
    browser = AppBrowser(demo_app(key, op, tmp_path).test_client(), op=op)
    response = login_via_callback(browser, "/%3Fdir%3Doutgoing")  # "/?dir=outgoing", encoded once
    assert response.headers["Location"] == "/?dir=outgoing"
    assert browser.client.get("/auth/login?next=/a/b%20c").headers["Location"] == "/a/b%20c"


@pytest.mark.parametrize("value", ["/", "/docs?x=1", "/a/b#frag", "/đơn-vị", "/a%20b"])
def test_is_local_path_accepts_same_origin_paths(value: str) -> None:
    assert is_local_path(value) and local_path(value) == value


@pytest.mark.parametrize("value", [
    None, "", "docs", "//evil", "/\\evil", "\\\\evil", "/\t/evil", "/\n/evil", "/\r\nLocation: x", "/\x00",
    "/\x7f", "https://evil", "/%5Cevil", "/%2F/evil", "/%09/evil", " /evil", 42,
])
def test_is_local_path_refuses_everything_else(value: Any) -> None:
    assert not is_local_path(value) and local_path(value) == "/"
