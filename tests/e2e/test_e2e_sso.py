"""Single sign-on and single logout across the three demo apps, in a real browser.

DESIGN "The main flow": sign in once at the document system, then webmail and the
one-stop shop open signed in without a page of the provider; signing out in webmail
signs the other two out too (OIDC Back-Channel Logout 1.0) and ends the SSO session.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

NAME = "Nguyễn Văn An"  # an.nguyen in idp.demo.STAFF


def sign_in_everywhere(staff) -> int:
    """Sign in at docs with the password, then open webmail and the one-stop shop.

    Returns how many pages the browser had landed on when the password was accepted.
    """
    staff.open_app("docs")
    staff.click_sign_in()
    staff.sign_in("an.nguyen")
    staff.page.wait_for_url(staff.stack.apps["docs"] + "/**")
    assert staff.signed_in_name() == NAME, staff.text()
    after_password = len(staff.landed)
    # A deep link to a page that needs sign-in: the adapter goes to /authorize by itself.
    staff.open_app("webmail", "/sent")
    staff.page.wait_for_url(staff.stack.apps["webmail"] + "/sent")
    assert staff.signed_in_name() == NAME, staff.text()
    # The one-stop shop's landing page: one click on "Đăng nhập", no password.
    staff.open_app("onestop")
    staff.click_sign_in()
    staff.page.wait_for_url(staff.stack.apps["onestop"] + "/")
    assert staff.signed_in_name() == NAME, staff.text()
    return after_password


def test_one_sign_in_opens_every_app(staff):
    after_password = sign_in_everywhere(staff)

    assert len(staff.provider_pages("/login")) == 1  # the one sign-in at the document system
    later = [url for url in staff.landed[after_password:] if url.startswith(staff.stack.provider)]
    assert later == [], f"after signing in once the browser still landed on the provider: {later}"
    # The roles each app shows are that app's own (DESIGN: never another client's).
    assert "officer" in staff.page.inner_text(".who-roles")
    assert "clerk" not in staff.page.inner_text(".who-roles")


def test_sign_out_in_webmail_signs_out_everywhere(staff):
    sign_in_everywhere(staff)

    staff.open_app("webmail")
    staff.sign_out()
    staff.page.wait_for_url(staff.stack.apps["webmail"] + "/**")
    assert staff.signed_in_name() is None, staff.text()
    assert "Đăng nhập" in staff.text()

    # Back-channel logout reaches the other two apps (delivered from the outbox, so wait).
    assert staff.wait_signed_out("docs"), "the document system still shows the user signed in"
    assert staff.wait_signed_out("onestop"), "the one-stop shop still shows the user signed in"

    # The SSO session is over: signing in again asks for the password.
    staff.click_sign_in()
    staff.page.wait_for_url(f"{staff.stack.provider}/login**")
    assert staff.page.locator("#password").is_visible()
