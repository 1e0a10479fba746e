"""My account: profile, password change, second factor, sessions, authorised applications."""

from __future__ import annotations

import re

import pytest

from idp.extensions import db
from idp.models import AuditEvent, Consent, LogoutDelivery, SsoSession
from tests.support.browser import code_at
from tests.support.constants import PASSWORD
from tests.support.pages import text

NEW = "Mùa thu Hà Nội 1954!"


def test_account_needs_a_session(browser):
    response = browser.get("/account/sessions")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/account/sessions"


def test_profile_in_vietnamese_and_english(browser, user, sso_login):
    sso_login(user)
    body = text(browser.get("/account"))
    assert '<html lang="vi">' in body and "Tài khoản của tôi" in body
    assert "Nguyễn Văn An" in body and "an.nguyen@example.gov.vn" in body and "Văn phòng Bộ" in body
    english = text(browser.get("/account?lang=en"))
    assert '<html lang="en">' in english and "My account" in english and "Tài khoản" not in english


def test_password_change_keeps_this_session_and_ends_the_others(browser, user, sso_login):
    other = sso_login(user)
    mine = sso_login(user)  # the browser now holds this one
    response = browser.submit("/account/password", {
        "current_password": PASSWORD, "new_password": NEW, "confirm_password": NEW})
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    db.session.refresh(other), db.session.refresh(mine)
    assert other.ended_at is not None and other.end_reason == "password_change"
    assert mine.ended_at is None
    assert "1 phiên khác đã bị đăng xuất" in text(browser.get("/account"))
    assert AuditEvent.query.filter_by(event_type="password.change").count() == 1


def test_password_change_needs_the_current_password(browser, user, sso_login):
    sso_login(user)
    response = browser.submit("/account/password", {
        "current_password": "not my password", "new_password": NEW, "confirm_password": NEW})
    assert response.status_code == 401 and "Mật khẩu hiện tại không đúng." in text(response)


def test_password_change_applies_the_policy(browser, user, sso_login):
    sso_login(user)
    response = browser.submit("/account/password", {
        "current_password": PASSWORD, "new_password": "abc", "confirm_password": "abc"})
    assert response.status_code == 400 and "ít nhất 12 ký tự" in text(response)


def _secret(page: str) -> str:
    return re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', page).group(1).replace(" ", "")


def test_enrol_an_authenticator_from_the_account(browser, user, sso_login):
    sso_login(user)
    wrong = browser.submit("/account/mfa/setup", {"password": "wrong"}, page="/account/mfa")
    assert wrong.status_code == 401
    setup = browser.submit("/account/mfa/setup", {"password": PASSWORD}, page="/account/mfa")
    assert setup.status_code == 200 and "data:image/svg+xml;base64," in text(setup)
    secret = _secret(text(setup))
    bad = browser.submit("/account/mfa/confirm", {"code": "12"}, page="/account/mfa")
    assert bad.status_code == 400
    done = browser.submit("/account/mfa/confirm", {"code": code_at(secret)}, page="/account/mfa")
    assert len(re.findall(r"<li><code>[a-z2-9-]{11}</code></li>", text(done))) == 10
    assert "Số mã khôi phục chưa dùng: 10." in text(browser.get("/account/mfa"))


def test_reset_gives_a_new_secret_and_new_codes(browser, user, phone, sso_login):
    from idp.services import mfa

    sso_login(user, amr=("pwd", "otp"), acr="urn:idp:acr:mfa")
    setup = browser.submit("/account/mfa/setup", {"password": PASSWORD}, page="/account/mfa")
    secret = _secret(text(setup))
    assert secret != phone.secret
    browser.submit("/account/mfa/confirm", {"code": code_at(secret)}, page="/account/mfa")
    assert not mfa.use_recovery_code(user, phone.recovery_codes[0])  # the old codes died
    assert not mfa.verify_totp(user, phone.code(1))  # the old phone no longer works
    assert mfa.verify_totp(user, code_at(secret, 1))


def test_sessions_list_and_sign_out_one(browser, user, sso_login):
    from idp.services import sessions

    other, _ = sessions.create_session(
        user, amr=["pwd"], acr=None, ip="203.0.113.9",
        user_agent="Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36")
    sso_login(user)
    page = text(browser.get("/account/sessions"))
    assert "Chrome trên Android" in page and "203.0.113.9" in page and "Thiết bị này" in page
    response = browser.submit(f"/account/sessions/{other.sid}/end", page="/account/sessions")
    assert response.headers["Location"] == "/account/sessions"
    db.session.refresh(other)
    assert other.end_reason == "user_logout"
    assert browser.get("/account").status_code == 200  # this one lives on


def test_signing_out_this_session_clears_the_cookie(browser, user, sso_login):
    mine = sso_login(user)
    response = browser.submit(f"/account/sessions/{mine.sid}/end", page="/account/sessions")
    assert response.headers["Location"] == "/login"
    assert browser.sso_cookie() is None
    assert "idp_session=;" in response.headers["Set-Cookie"]


def test_cannot_end_someone_elses_session(browser, user, admin_user, sso_login):
    theirs = sso_login(admin_user)
    sso_login(user)
    response = browser.submit(f"/account/sessions/{theirs.sid}/end", page="/account/sessions")
    assert response.status_code == 404
    db.session.refresh(theirs)
    assert theirs.ended_at is None


def test_sign_out_everywhere_queues_back_channel_logouts(browser, user, sso_login,
                                                         confidential_client):
    from idp.services import sessions

    first = sso_login(user)
    sessions.join(first, confidential_client.row.id)
    sso_login(user)
    response = browser.submit("/account/sessions/end-all", page="/account/sessions")
    assert response.headers["Location"] == "/login" and browser.sso_cookie() is None
    assert SsoSession.query.filter(SsoSession.ended_at.is_(None)).count() == 0
    assert {s.end_reason for s in SsoSession.query} == {"user_logout_all"}
    delivery = LogoutDelivery.query.one()
    assert delivery.uri == "http://127.0.0.2:5001/backchannel-logout" and delivery.sid == first.sid


def test_authorised_apps_and_withdrawal(browser, user, sso_login, public_client,
                                        confidential_client):
    from idp.services import sessions

    db.session.add(Consent(user_id=user.id, client_id=public_client.row.id, scope="openid email"))
    db.session.commit()
    current = sso_login(user)
    sessions.join(current, confidential_client.row.id)
    page = text(browser.get("/account/apps"))
    assert "Ứng dụng di động" in page and "openid, email" in page
    assert "Quản lý văn bản" in page and "Ứng dụng nội bộ của Bộ" in page
    response = browser.submit("/account/apps/spa/withdraw", page="/account/apps")
    assert response.status_code == 302
    assert Consent.query.count() == 0
    after = text(browser.get("/account/apps"))
    assert "Đã thu hồi quyền truy cập của Ứng dụng di động." in after
    assert "<strong>Ứng dụng di động</strong>" not in after
    assert browser.submit("/account/apps/nope/withdraw", page="/account/apps").status_code == 404


@pytest.mark.parametrize("path", ["/account/password", "/account/sessions/end-all",
                                  "/account/mfa/setup"])
def test_forms_without_csrf_token_are_refused(browser, user, sso_login, path):
    sso_login(user)
    response = browser.post(path, data={"current_password": PASSWORD, "password": PASSWORD})
    assert response.status_code == 400
    assert SsoSession.query.filter(SsoSession.ended_at.is_(None)).count() == 1
