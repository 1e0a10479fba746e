"""Sign-in with a password: the page, the session it creates, and where it goes next."""

from __future__ import annotations

import pytest

from idp.models import AuditEvent, SsoSession
from idp.sso import ACR_PASSWORD

from tests.support.constants import PASSWORD
from tests.support.pages import text


def test_login_page_is_vietnamese_accessible_and_not_framable(browser):
    response = browser.get("/login?login_hint=an.nguyen")
    body = text(response)
    assert response.status_code == 200
    assert '<html lang="vi">' in body and "Đăng nhập" in body
    assert 'autocomplete="username"' in body and 'autocomplete="current-password"' in body
    assert 'value="an.nguyen"' in body  # login_hint pre-fills the username
    assert '<label for="username">' in body and '<label for="password">' in body
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


def test_ui_locales_gives_english_page_and_keeps_it_through_the_form(browser, user):
    body = text(browser.get("/login?ui_locales=en-GB%20vi&next=/account"))
    assert '<html lang="en">' in body and "Username or email" in body
    assert "Tên đăng nhập" not in body
    response = browser.login("an.nguyen", "wrong password here", "?ui_locales=en&next=/account")
    assert response.status_code == 401
    assert "Wrong username or password." in text(response)


def test_right_password_creates_session_and_redirects_to_next(app, browser, user):
    response = browser.login("an.nguyen", PASSWORD, "?next=/authorize%3Fclient_id%3Ddocs")
    assert response.status_code == 302
    assert response.headers["Location"] == "/authorize?client_id=docs"
    cookie = browser.sso_cookie()
    assert cookie
    row = SsoSession.query.one()
    assert row.user_id == user.id and row.amr == ["pwd"] and row.acr == ACR_PASSWORD
    assert row.auth_time is not None
    events = [(e.event_type, e.outcome) for e in AuditEvent.query.order_by(AuditEvent.id)]
    assert ("login", "success") in events


def test_email_works_as_username(browser, user):
    response = browser.login("An.Nguyen@example.gov.vn", PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/account"


@pytest.mark.parametrize("next_url", [
    "https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)",
    "/\r\nLocation: https://evil.example",
])
def test_next_outside_this_host_goes_to_account(browser, user, next_url):
    from urllib.parse import quote

    response = browser.login("an.nguyen", PASSWORD, f"?next={quote(next_url, safe='')}")
    assert response.status_code == 302
    assert response.headers["Location"] == "/account"


def test_wrong_password_and_unknown_user_get_the_same_answer(browser, user):
    wrong = browser.login("an.nguyen", "not the password at all")
    unknown = browser.login("nobody.here", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert "Sai tên đăng nhập hoặc mật khẩu." in text(wrong)
    assert "Sai tên đăng nhập hoặc mật khẩu." in text(unknown)
    assert browser.sso_cookie() is None
    reasons = [e.details.get("reason") for e in AuditEvent.query.filter_by(event_type="login")]
    assert reasons == ["bad_password", "unknown_user"]


def test_empty_form_is_a_400_with_a_message(browser):
    response = browser.submit("/login", {"username": "", "password": ""})
    assert response.status_code == 400
    assert "Hãy nhập tên đăng nhập và mật khẩu." in text(response)


def test_post_without_csrf_token_is_refused(client, user):
    response = client.post("/login", data={"username": "an.nguyen", "password": PASSWORD},
                           headers={"Accept": "text/html"})
    assert response.status_code == 400
    assert client.get_cookie("idp_session") is None


def test_disabled_account_is_told_only_with_the_right_password(browser, user):
    user.status = "disabled"  # however it happened (idp user disable, console, API)
    assert browser.login("an.nguyen", "not the password at all").status_code == 401
    response = browser.login("an.nguyen", PASSWORD)
    assert response.status_code == 403
    assert "Tài khoản này đã bị vô hiệu hóa." in text(response)


def test_session_id_changes_at_every_sign_in(app, browser, user, sso_login):
    """No fixation (ASVS 3.2.1): a cookie planted before sign-in is not the one after it."""
    browser.client.set_cookie(app.config["SSO_COOKIE_NAME"], "planted-by-attacker",
                              domain="localhost")
    browser.login("an.nguyen", PASSWORD)
    first = browser.sso_cookie()
    assert first and first != "planted-by-attacker"
    browser.login("an.nguyen", PASSWORD)
    second = browser.sso_cookie()
    assert second and second != first


def test_signing_in_as_another_user_ends_the_previous_users_session(browser, user, admin_user,
                                                                    sso_login):
    previous = sso_login(admin_user)
    response = browser.login("an.nguyen", PASSWORD)
    assert response.status_code == 302
    from idp.extensions import db

    db.session.refresh(previous)
    assert previous.ended_at is not None and previous.end_reason == "user_switch"


def test_hash_made_with_old_parameters_is_upgraded_at_sign_in(app, browser, user):
    old_hash = user.password_hash
    assert "t=1" in old_hash
    app.config["ARGON2_TIME_COST"] = 2  # the operator raised the cost since
    assert browser.login("an.nguyen", PASSWORD).status_code == 302
    from idp.extensions import db

    db.session.refresh(user)
    assert user.password_hash != old_hash and "t=2" in user.password_hash
    assert browser.login("an.nguyen", PASSWORD).status_code == 302  # the new hash works
