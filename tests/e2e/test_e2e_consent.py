"""A client that is not first-party asks the staff member's consent (OIDC Core 3.1.2.4).

A fourth app, the webmail app again under another client_id registered without
``--trusted``, runs on its own loopback address.
"""

from __future__ import annotations

import json

import pytest

from tests.support.net import free_port

pytestmark = pytest.mark.e2e

APP_NAME = "Thư điện tử đơn vị ngoài"


@pytest.fixture(scope="module")
def outside_app(stack) -> str:
    """Register ``webmail-ext`` (not trusted) with ``idp client create --json`` and start it."""
    host = stack.address(5)
    url = f"http://{host}:{free_port(host)}"
    out = stack.idp("client", "create", "--name", APP_NAME, "--client-id", "webmail-ext",
                    "--redirect-uri", f"{url}/auth/callback",
                    "--post-logout-redirect-uri", f"{url}/auth/logged-out",
                    "--backchannel-logout-uri", f"{url}/auth/backchannel-logout",
                    "--scope", "openid profile email roles department offline_access", "--json")
    created = json.loads(next(line for line in out.splitlines() if line.startswith("{")))
    assert created["trusted"] is False
    stack.start_app("clients.webmail", "WEBMAIL", url, created["client_id"],
                    created["client_secret"], name="webmail-ext")
    return url


def open_consent_page(staff, url: str, username: str) -> None:
    staff.open(url)
    staff.click_sign_in()
    staff.sign_in(username)
    staff.page.wait_for_selector("button[value=deny]")
    assert staff.on_provider()
    assert APP_NAME in staff.page.locator("h1").inner_text()
    staff.snapshot("consent")


def test_denying_consent_returns_access_denied_to_the_app(staff, outside_app):
    open_consent_page(staff, outside_app, "cuong.le")

    staff.page.locator("button[value=deny]").click()
    staff.page.wait_for_url(outside_app + "/**")
    assert staff.page.locator(".error-code").inner_text() == "access_denied"
    assert staff.signed_in_name() is None


def test_allowing_consent_signs_in(staff, outside_app):
    open_consent_page(staff, outside_app, "an.nguyen")

    staff.page.locator("button[value=allow]").click()
    staff.page.wait_for_url(outside_app + "/**")
    assert staff.signed_in_name() == "Nguyễn Văn An", staff.text()
