"""The provider's sign-in page in Vietnamese (the default) and in English, by the language switch."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def html_lang(staff) -> str:
    return staff.page.locator("html").get_attribute("lang")


def test_language_switch_on_the_sign_in_page(staff):
    staff.open_app("docs")
    staff.click_sign_in()
    staff.page.wait_for_url(f"{staff.stack.provider}/login**")

    # Vietnamese by default, whatever the browser's own language (this one is en-US).
    assert html_lang(staff) == "vi"
    assert staff.page.locator("h1").inner_text() == "Đăng nhập"
    assert "Tên đăng nhập hoặc email" in staff.text()

    staff.page.locator("nav.lang a[hreflang=en]").click()
    staff.page.wait_for_load_state()
    assert html_lang(staff) == "en"
    assert staff.page.locator("h1").inner_text() == "Sign in"
    assert "Username or email" in staff.text()
    assert "Đăng nhập" not in staff.page.locator("main").inner_text()

    staff.page.locator("nav.lang a[hreflang=vi]").click()
    staff.page.wait_for_load_state()
    assert html_lang(staff) == "vi"
    assert "Tên đăng nhập hoặc email" in staff.text()

    # Switching language keeps the sign-in request: the password still leads back to the app.
    staff.sign_in("an.nguyen")
    staff.page.wait_for_url(staff.stack.apps["docs"] + "/**")
    assert staff.signed_in_name() == "Nguyễn Văn An"


def test_english_sign_in_page_on_a_phone(phone):
    """The English page on a phone-sized screen: the form fits, nothing scrolls sideways."""
    phone.open_app("docs")
    phone.click_sign_in()
    phone.page.wait_for_url(f"{phone.stack.provider}/login**")
    phone.page.locator("nav.lang a[hreflang=en]").click()
    phone.page.wait_for_load_state()
    assert html_lang(phone) == "en"
    width = phone.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a 390px screen"
    box = phone.page.locator("#password").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
