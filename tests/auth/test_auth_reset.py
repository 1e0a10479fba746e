"""Forgotten password: a single-use, short-lived link sent through a real SMTP server."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from idp.extensions import db
from idp.models import AuditEvent, PasswordResetToken, SsoSession, utcnow
from tests.support.constants import PASSWORD
from tests.support.pages import text

NEW = "Mùa thu Hà Nội 1954!"
SENT_VI = "một liên kết để chọn mật khẩu mới đang được gửi đến"


def _worker_pass() -> None:
    """The mail is queued by the request and sent by the worker (idp worker / inline)."""
    from idp.services import mail

    mail.send_due()


def _ask(browser, email: str):
    response = browser.submit("/password/forgot", {"email": email})
    assert response.status_code == 200 and SENT_VI in text(response)
    _worker_pass()
    return response


def _link(mailbox) -> str:
    message = mailbox.wait(1)[0]
    match = re.search(r"http://127\.0\.0\.1:5000(/password/reset\?token=[\w-]+)",
                      message.get_content())
    assert match, message.get_content()
    return match.group(1)


def test_reset_by_mail_ends_every_session(browser, mailbox, user, sso_login):
    other = sso_login(user)
    _ask(browser, "an.nguyen@example.gov.vn")
    message = mailbox.wait(1)[0]
    assert message["To"] == "an.nguyen@example.gov.vn"
    assert message["Subject"] == "Đặt lại mật khẩu"
    link = _link(mailbox)
    page = browser.get(link)
    assert page.status_code == 200 and 'autocomplete="new-password"' in text(page)
    done = browser.submit("/password/reset", {"token": link.split("token=")[1],
                                              "new_password": NEW, "confirm_password": NEW},
                          page=link)
    assert done.status_code == 200 and "Mật khẩu mới đã được lưu" in text(done)
    db.session.refresh(other)
    assert other.ended_at is not None and other.end_reason == "password_reset"
    assert browser.login("an.nguyen", PASSWORD).status_code == 401
    assert browser.login("an.nguyen", NEW).status_code == 302
    assert AuditEvent.query.filter_by(event_type="password.reset").count() == 1


def test_unknown_address_gets_the_same_page_and_no_mail(browser, mailbox, user):
    known = text(_ask(browser, "an.nguyen@example.gov.vn"))
    unknown = text(_ask(browser, "nobody@example.gov.vn"))
    strip = lambda body: re.sub(r"[\w.]+@example\.gov\.vn|value=\"[^\"]+\"", "", body)  # noqa: E731
    assert strip(known) == strip(unknown)
    assert len(mailbox.wait(2, timeout=1.0)) == 1


def test_the_link_works_once(browser, mailbox, user):
    _ask(browser, "an.nguyen@example.gov.vn")
    link = _link(mailbox)
    token = link.split("token=")[1]
    data = {"token": token, "new_password": NEW, "confirm_password": NEW}
    assert browser.submit("/password/reset", data, page=link).status_code == 200
    reused = browser.get(link)
    assert reused.status_code == 400 and "Liên kết này không còn hiệu lực" in text(reused)
    again = browser.submit("/password/reset", {**data, "new_password": NEW + "2",
                                               "confirm_password": NEW + "2"}, page="/password/forgot")
    assert again.status_code == 400


def test_an_expired_link_is_refused(browser, mailbox, user):
    _ask(browser, "an.nguyen@example.gov.vn")
    link = _link(mailbox)
    row = PasswordResetToken.query.one()
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    response = browser.get(link)
    assert response.status_code == 400 and "Liên kết này không còn hiệu lực" in text(response)


@pytest.mark.config(RESET_TTL=600)
def test_the_link_lives_reset_ttl_and_only_its_hash_is_stored(browser, mailbox, user):
    _ask(browser, "an.nguyen@example.gov.vn")
    token = _link(mailbox).split("token=")[1]
    row = PasswordResetToken.query.one()
    assert token not in row.token_hash
    lifetime = (row.expires_at - row.created_at).total_seconds()
    assert lifetime == 600
    assert "trong vòng 10 phút" in mailbox.messages[0].get_content()


def test_reset_applies_the_policy(browser, mailbox, user):
    _ask(browser, "an.nguyen@example.gov.vn")
    link = _link(mailbox)
    response = browser.submit("/password/reset", {"token": link.split("token=")[1],
                                                  "new_password": "short", "confirm_password": "short"},
                              page=link)
    assert response.status_code == 400 and "ít nhất 12 ký tự" in text(response)
    assert browser.get(link).status_code == 200  # a refused password does not spend the link


def test_link_is_built_from_the_issuer_not_the_host_header(browser, mailbox, user):
    from tests.support.pages import csrf_token

    evil = "http://evil.example"
    page = browser.get("/password/forgot", base_url=evil)
    sent = browser.post("/password/forgot", base_url=evil, data={
        "email": "an.nguyen@example.gov.vn", "csrf_token": csrf_token(text(page))})
    assert sent.status_code == 200
    _worker_pass()
    body = mailbox.wait(1)[0].get_content()
    assert "evil.example" not in body and "http://127.0.0.1:5000/password/reset?token=" in body


def test_english_page_and_mail_on_choice(browser, mailbox, user):
    page = browser.submit("/password/forgot?ui_locales=en", {"email": "an.nguyen@example.gov.vn"})
    assert "a link to choose a new password is on its way" in text(page)
    _worker_pass()
    message = mailbox.wait(1)[0]
    assert message["Subject"] == "Reset your password"
    assert "ui_locales=en" in message.get_content()


def test_reset_ends_sessions_of_the_browser_too(browser, mailbox, user, sso_login):
    sso_login(user)
    _ask(browser, "an.nguyen@example.gov.vn")
    link = _link(mailbox)
    browser.submit("/password/reset", {"token": link.split("token=")[1], "new_password": NEW,
                                       "confirm_password": NEW}, page=link)
    assert browser.sso_cookie() is None
    assert SsoSession.query.filter(SsoSession.ended_at.is_(None)).count() == 0


def test_a_reset_that_fails_half_way_leaves_nothing_behind(app, browser, mailbox, user, sso_login,
                                                          monkeypatch):
    """One unit of work: the password, the ended sessions and the audit event together."""
    from idp.services import sessions

    other = sso_login(user)
    _ask(browser, "an.nguyen@example.gov.vn")
    link = _link(mailbox)

    def broken(*_args, **_kwargs):
        raise RuntimeError("the database went away while sessions were ending")

    monkeypatch.setattr(sessions, "end_all_sessions", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer 500 as production does
    failed = browser.submit("/password/reset", {"token": link.split("token=")[1],
                                                "new_password": NEW, "confirm_password": NEW},
                            page=link)
    assert failed.status_code == 500
    db.session.expire_all()
    assert AuditEvent.query.filter_by(event_type="password.reset").count() == 0
    assert db.session.get(SsoSession, other.id).ended_at is None
    assert browser.get(link).status_code == 200  # the link was not spent either
    monkeypatch.undo()
    assert browser.login("an.nguyen", NEW).status_code == 401
    assert browser.login("an.nguyen", PASSWORD).status_code == 302
