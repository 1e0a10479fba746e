"""The password policy at every place a password is chosen, and the forced first change."""

from __future__ import annotations

import pytest

from idp.extensions import db
from idp.models import AuditEvent, SsoSession
from tests.support.pages import text

NEW = "Mùa thu Hà Nội 1954!"


@pytest.fixture
def temporary_user(app, department):
    from idp.services import users

    created, temporary = users.create_user(
        "chi.le", email="chi.le@example.gov.vn", full_name="Lê Thị Chi", department=department.code)
    assert created.must_change_password and temporary
    return created, temporary


def test_temporary_password_must_be_changed_before_the_session(browser, temporary_user):
    user, temporary = temporary_user
    response = browser.login("chi.le", temporary, "?next=/authorize%3Fz%3D3")
    assert response.headers["Location"] == "/login/change-password"
    assert browser.sso_cookie() is None
    page = text(browser.get("/login/change-password"))
    assert 'autocomplete="new-password"' in page and "Chọn mật khẩu mới" in page
    # Going elsewhere does not skip the change: there is still no session.
    assert browser.get("/account").headers["Location"].startswith("/login")
    done = browser.submit("/login/change-password",
                          {"new_password": NEW, "confirm_password": NEW})
    assert done.status_code == 302 and done.headers["Location"] == "/authorize?z=3"
    db.session.refresh(user)
    assert not user.must_change_password
    assert SsoSession.query.one().user_id == user.id
    assert AuditEvent.query.filter_by(event_type="password.change").one().details == {"forced": True}
    browser.client.delete_cookie(browser.app.config["SSO_COOKIE_NAME"], domain="localhost")
    assert browser.login("chi.le", NEW).status_code == 302


@pytest.mark.parametrize("new,message", [
    ("short one", "Mật khẩu phải có ít nhất 12 ký tự."),
    ("chi.le-is-my-name", "Mật khẩu không được chứa tên đăng nhập hoặc email của bạn."),
    ("password1234", "Mật khẩu này quá phổ biến. Hãy chọn mật khẩu khác."),
])
def test_forced_change_applies_the_policy(browser, temporary_user, new, message):
    _, temporary = temporary_user
    browser.login("chi.le", temporary)
    response = browser.submit("/login/change-password", {"new_password": new, "confirm_password": new})
    assert response.status_code == 400 and message in text(response)
    assert browser.sso_cookie() is None


def test_forced_change_needs_the_same_password_twice(browser, temporary_user):
    _, temporary = temporary_user
    browser.login("chi.le", temporary)
    response = browser.submit("/login/change-password",
                              {"new_password": NEW, "confirm_password": NEW + "x"})
    assert response.status_code == 400 and "Hai mật khẩu mới không giống nhau." in text(response)


def test_forced_change_refuses_the_temporary_password_itself(browser, temporary_user):
    _, temporary = temporary_user
    browser.login("chi.le", temporary)
    response = browser.submit("/login/change-password",
                              {"new_password": temporary, "confirm_password": temporary})
    assert response.status_code == 400
