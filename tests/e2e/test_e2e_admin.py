"""An administrator registers an application in the console; a fresh app signs in with it."""

from __future__ import annotations

import pytest

from tests.support.net import free_port

pytestmark = pytest.mark.e2e


def test_admin_registers_a_client_and_a_fresh_app_signs_in_with_it(staff, stack):
    # The console asks for the password and the second factor (admin is an MFA role).
    staff.open(stack.provider + "/admin/clients/new")
    staff.sign_in("admin")
    staff.enter_code(staff.totp("admin"))
    staff.page.wait_for_url(stack.provider + "/admin/clients/new**")

    host = stack.address(6)
    url = f"http://{host}:{free_port(host)}"
    page = staff.page
    page.fill("#f-client_name", "Văn bản chi nhánh")
    page.fill("#f-client_id", "docs-branch")
    page.select_option("#f-client_type", "web")
    page.fill("#f-redirect_uris", f"{url}/auth/callback")
    page.fill("#f-post_logout_redirect_uris", f"{url}/auth/logged-out")
    page.fill("#f-backchannel_logout_uri", f"{url}/auth/backchannel-logout")
    page.fill("#f-scope", "openid profile email roles department offline_access")
    page.check("#f-trusted")
    page.fill("#f-roles", "clerk\nleader")
    staff.snapshot("form")
    page.locator("form.admin-form button[type=submit]").click()
    page.wait_for_selector("code.secret")

    # The secret is shown once, with a warning saying so.
    secret = page.locator("code.secret").inner_text().strip()
    assert len(secret) >= 32
    assert page.locator("[role=alert]").is_visible()
    assert "docs-branch" in page.locator("dl.facts").inner_text()
    staff.snapshot("secret")

    # A fresh instance of the document app, configured with what the console showed.
    stack.start_app("clients.docs_app", "DOCS", url, "docs-branch", secret, name="docs-branch")
    staff.open(url)
    staff.click_sign_in()
    page.wait_for_url(url + "/**")
    assert staff.signed_in_name() == "Quản trị hệ thống", staff.text()  # SSO: no password again
