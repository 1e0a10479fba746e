"""The second factor at sign-in (RFC 6238): codes, replay, drift, recovery codes, step-up."""

from __future__ import annotations

import re

import pytest

from idp.extensions import db
from idp.models import AuditEvent, RecoveryCode, SsoSession, TotpCredential
from idp.sso import ACR_MFA, ACR_PASSWORD
from tests.support.browser import code_at
from tests.support.constants import PASSWORD
from tests.support.pages import text

WRONG_CODE_VI = "Mã không đúng hoặc đã được sử dụng."


def _password_step(browser, query: str = "?next=/authorize%3Fx%3D1"):
    response = browser.login("an.nguyen", PASSWORD, query)
    assert response.status_code == 302
    return response


def test_enrolled_user_is_asked_for_a_code_before_any_session(browser, phone):
    response = _password_step(browser)
    assert response.headers["Location"] == "/login/otp"
    assert browser.sso_cookie() is None
    page = browser.get("/login/otp")
    body = text(page)
    assert 'autocomplete="one-time-code"' in body and "Xác thực hai lớp" in body
    done = browser.submit("/login/otp", {"code": phone.code()})
    assert done.status_code == 302 and done.headers["Location"] == "/authorize?x=1"
    row = SsoSession.query.one()
    assert row.amr == ["otp", "pwd"] and row.acr == ACR_MFA
    assert AuditEvent.query.filter_by(event_type="mfa.verify").count() == 1


def test_wrong_code_is_refused_and_counted(browser, phone, user):
    from idp.services import throttle

    _password_step(browser)
    response = browser.submit("/login/otp", {"code": "000000" if phone.code() != "000000" else "111111"})
    assert response.status_code == 401 and WRONG_CODE_VI in text(response)
    assert browser.sso_cookie() is None
    assert throttle.failures(f"user:{user.id}") == 1
    failure = AuditEvent.query.filter_by(event_type="login", outcome="failure").one()
    assert failure.details["reason"] == "bad_otp"


def test_a_code_cannot_be_replayed(browser, phone):
    code = phone.code()
    _password_step(browser)
    assert browser.submit("/login/otp", {"code": code}).status_code == 302
    browser.client.delete_cookie(browser.app.config["SSO_COOKIE_NAME"], domain="localhost")
    _password_step(browser)
    replay = browser.submit("/login/otp", {"code": code})
    assert replay.status_code == 401 and WRONG_CODE_VI in text(replay)


@pytest.mark.parametrize("offset,accepted", [(-1, True), (1, True), (-3, False), (3, False)])
def test_one_step_of_clock_drift_is_accepted(app, user, offset, accepted):
    from idp.services import mfa

    secret = mfa.new_secret()
    assert mfa.enrol(user, secret, code_at(secret, -1)) is not None
    # -1 was spent by the enrolment: drift backwards is checked from a later clock.
    import time

    now = time.time() + 60  # two steps later, so that -1 is a fresh step
    code = __import__("pyotp").TOTP(secret).at(now + 30 * offset)
    assert mfa.verify_totp(user, code, now=now) is accepted


def test_concurrent_use_of_one_code_wins_once(app, phone, user):
    import threading

    from idp.services import mfa

    code, results, user_id, model = phone.code(), [], user.id, type(user)
    barrier = threading.Barrier(6)

    def use():
        with app.app_context():
            barrier.wait(timeout=30)
            results.append(mfa.verify_totp(db.session.get(model, user_id), code))
            db.session.commit()  # each thread is a request: its boundary commits
            db.session.remove()

    threads = [threading.Thread(target=use) for _ in range(6)]
    [t.start() for t in threads]
    [t.join(timeout=60) for t in threads]
    assert sorted(results) == [False] * 5 + [True]


def test_recovery_code_replaces_the_code_once(browser, phone):
    recovery = phone.recovery_codes[0]
    _password_step(browser)
    done = browser.submit("/login/otp", {"recovery_code": recovery.upper()}, page="/login/otp")
    assert done.status_code == 302 and SsoSession.query.one().acr == ACR_MFA
    event = AuditEvent.query.filter_by(event_type="mfa.recovery_code").one()
    assert event.details == {"remaining": 9}
    browser.client.delete_cookie(browser.app.config["SSO_COOKIE_NAME"], domain="localhost")
    _password_step(browser)
    again = browser.submit("/login/otp", {"recovery_code": recovery})
    assert again.status_code == 401 and WRONG_CODE_VI in text(again)


def test_secrets_are_encrypted_and_recovery_codes_hashed(app, phone):
    from idp.services.crypto import hash_secret

    row = TotpCredential.query.one()
    assert phone.secret not in row.secret_encrypted
    stored = {r.code_hash for r in RecoveryCode.query}
    assert len(stored) == 10
    assert {hash_secret(c.replace("-", "")) for c in phone.recovery_codes} == stored


@pytest.fixture
def must_use_mfa(app, user):
    from idp.services import users

    user.department.mfa_required = True
    db.session.commit()
    return users


def test_user_who_must_use_mfa_enrols_right_after_the_password(browser, user, must_use_mfa):
    response = _password_step(browser)
    assert response.headers["Location"] == "/login/enrol"
    page = text(browser.get("/login/enrol"))
    assert 'src="data:image/svg+xml;base64,' in page
    secret = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', page).group(1).replace(" ", "")
    assert browser.sso_cookie() is None
    wrong = browser.submit("/login/enrol", {"code": "12345"})
    assert wrong.status_code == 400 and "Mã không đúng" in text(wrong)
    done = browser.submit("/login/enrol", {"code": code_at(secret)})
    codes = re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", text(done))
    assert len(codes) == 10
    assert browser.sso_cookie() is None  # not before the user saw the codes
    finished = browser.get("/login/continue")
    assert finished.headers["Location"] == "/authorize?x=1"
    assert SsoSession.query.one().acr == ACR_MFA


def test_step_up_asks_only_the_second_factor(browser, user, phone, sso_login):
    session = sso_login(user)
    cookie_before = browser.sso_cookie()
    response = browser.get("/login?mfa=1&next=/authorize%3Fy%3D2")
    assert response.status_code == 302 and response.headers["Location"] == "/login/otp"
    done = browser.submit("/login/otp", {"code": phone.code()})
    assert done.headers["Location"] == "/authorize?y=2"
    db.session.refresh(session)
    assert session.acr == ACR_MFA and session.amr == ["otp", "pwd"]
    assert browser.sso_cookie() == cookie_before  # the same session, upgraded
    assert AuditEvent.query.filter_by(event_type="login.step_up").count() == 1


def test_step_up_without_a_factor_enrols_first(browser, user, sso_login):
    session = sso_login(user)
    response = browser.get("/login?mfa=1&next=/authorize")
    assert response.headers["Location"] == "/login/enrol"
    page = text(browser.get("/login/enrol"))
    secret = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', page).group(1).replace(" ", "")
    browser.submit("/login/enrol", {"code": code_at(secret)})
    assert browser.get("/login/continue").headers["Location"] == "/authorize"
    db.session.refresh(session)
    assert session.acr == ACR_MFA


def test_mfa_param_without_a_session_asks_password_then_code(browser, user, phone):
    response = browser.login("an.nguyen", PASSWORD, "?mfa=1&next=/authorize")
    assert response.headers["Location"] == "/login/otp"


def test_password_only_user_gets_password_acr(browser, user):
    _password_step(browser)
    assert SsoSession.query.one().acr == ACR_PASSWORD


def test_code_page_without_a_pending_sign_in_goes_back_to_login(browser):
    response = browser.get("/login/otp")
    assert response.status_code == 302 and response.headers["Location"] == "/login"


@pytest.mark.config(LOCKOUT_DELAY_AFTER=100, LOCKOUT_THRESHOLD=2)
def test_guessing_codes_locks_the_account(browser, user, phone):
    _password_step(browser)
    bad = "000000" if phone.code() != "000000" else "111111"
    browser.submit("/login/otp", {"code": bad})
    locked = browser.submit("/login/otp", {"code": bad}, page="/login")
    assert locked.status_code == 403 and "tạm khóa" in text(locked)


def test_prompt_login_with_mfa_asks_the_password_again(browser, user, phone, sso_login):
    sso_login(user)
    page = browser.get("/login?mfa=1&prompt=login&next=/authorize")
    assert page.status_code == 200 and 'autocomplete="current-password"' in text(page)
