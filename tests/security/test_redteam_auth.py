"""Red-team findings on sign-in (issue 11: #3, #4, #10, #11, #15, #19, #20 in part),
each performed as the attacker did, asserting what the attacker (and the victim) now see."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from idp.extensions import db
from idp.models import (AuditEvent, LogoutDelivery, OutgoingMail, SsoSession, ThrottleCounter,
                        utcnow)
from idp.services import mfa, throttle
from idp.sso import ACR_MFA
from tests.support.browser import code_at
from tests.support.constants import PASSWORD
from tests.support.pages import csrf_token, text
from tests.support.urls import query

WRONG = "definitely not the password"
NEW = "Mùa thu Hà Nội 1954!"
LOCKED_VI = "Tài khoản đang bị tạm khóa. Hãy thử lại sau hoặc liên hệ bộ phận hỗ trợ."
HELD_HINT_VI = "Nếu bạn dùng ứng dụng xác thực, hãy nhập mật khẩu và mã của ứng dụng"
WRONG_CODE_VI = "Mã không đúng hoặc đã được sử dụng."
SENT_VI = "một liên kết để chọn mật khẩu mới đang được gửi đến"
NO_DELAYS = {"LOCKOUT_DELAY_AFTER": 100, "IP_THRESHOLD": 1000}


@pytest.fixture
def clock(monkeypatch):
    """Move the throttle's clock forward without sleeping."""

    class Clock:
        offset = timedelta(0)

        def now(self):
            return utcnow() + self.offset

        def advance(self, seconds: float):
            self.offset += timedelta(seconds=seconds)

    fake = Clock()
    monkeypatch.setattr(throttle, "utcnow", fake.now)
    return fake


def _bad(phone) -> str:
    """A six-digit code that is none of the accepted steps."""
    accepted = {phone.code(step) for step in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in accepted)


def _page_text(response) -> str:
    """The page without what differs between any two renderings (the CSRF token)."""
    return re.sub(r'name="csrf_token" value="[^"]+"', "", text(response))


def _cycle(browser, phone, codes: int = 2) -> list:
    """[right password -> ``codes`` wrong codes], the attacker who knows the password."""
    first = browser.login("an.nguyen", PASSWORD)
    assert first.status_code == 302 and first.headers["Location"] == "/login/otp"
    return [browser.submit("/login/otp", {"code": _bad(phone)}) for _ in range(codes)]


# --- #3 TOTP lockout bypass -------------------------------------------------------------


@pytest.fixture(params=["database", "redis"])
def counters(request) -> str:
    """Run the test with the lockout counters in the database, then in Redis."""
    if request.param == "redis":
        request.getfixturevalue("redis_url")
    return request.param


@pytest.mark.config(**NO_DELAYS, LOCKOUT_THRESHOLD=5, MFA_DAILY_FAILURE_CAP=100)
def test_right_password_then_two_wrong_codes_repeated_holds_the_account(browser, user, phone,
                                                                        counters):
    answers = _cycle(browser, phone) + _cycle(browser, phone)
    assert [a.status_code for a in answers] == [401, 401, 401, 401]  # the count went on
    assert throttle.failures(f"user:{user.id}") == 4  # a right password did not reset it
    fifth = _cycle(browser, phone, codes=1)[0]
    assert fifth.status_code == 403 and LOCKED_VI in text(fifth)
    # Now the account is held: the right password gets what a wrong one gets.
    right, wrong = browser.login("an.nguyen", PASSWORD), browser.login("an.nguyen", WRONG)
    assert right.status_code == wrong.status_code == 403
    assert LOCKED_VI in text(right) and _page_text(right) == _page_text(wrong)
    assert browser.sso_cookie() is None and SsoSession.query.count() == 0
    assert AuditEvent.query.filter_by(event_type="account.lock").count() == 1


@pytest.mark.config(**NO_DELAYS, LOCKOUT_THRESHOLD=1000, MFA_DAILY_FAILURE_CAP=6)
def test_daily_cap_of_failed_second_factors_refuses_even_the_right_code(browser, user, phone,
                                                                       clock):
    for _ in range(3):
        _cycle(browser, phone)
    assert throttle.failures(f"mfa-day:{user.id}") == 6
    assert browser.login("an.nguyen", PASSWORD).headers["Location"] == "/login/otp"
    refused = browser.submit("/login/otp", {"code": phone.code()})
    assert refused.status_code == 403 and LOCKED_VI in text(refused)
    clock.advance(3600)  # an hour later: still capped (a daily cap, not the 15-minute hold)
    browser.login("an.nguyen", PASSWORD)
    assert browser.submit("/login/otp", {"code": phone.code(1)}).status_code == 403
    assert browser.sso_cookie() is None
    cap = AuditEvent.query.filter_by(event_type="account.lock").one()
    assert cap.details["reason"] == "second_factor_daily_cap"
    clock.advance(86400)  # the next day
    browser.login("an.nguyen", PASSWORD)
    done = browser.submit("/login/otp", {"code": phone.code(1)})
    assert done.status_code == 302 and browser.sso_cookie() is not None


@pytest.mark.config(**NO_DELAYS, LOCKOUT_THRESHOLD=2, MFA_DAILY_FAILURE_CAP=2)
def test_the_daily_cap_is_not_lifted_by_a_reset_link_only_by_the_helpdesk(app, user, phone):
    from idp.errors import AccountLocked, AuthenticationFailed
    from idp.services import password_reset
    from idp.services.crypto import decrypt

    with pytest.raises(AuthenticationFailed):
        mfa.second_factor(user, code=_bad(phone), ip="198.51.100.1")
    with pytest.raises(AccountLocked):
        mfa.second_factor(user, code=_bad(phone), ip="198.51.100.1")
    assert throttle.second_factor_capped(user)
    assert mfa.pass_hold(user, phone.code(), ip="198.51.100.1") is False
    password_reset.request_reset(user.email, lambda token: f"<{token}>", ip="198.51.100.1")
    token = re.search(r"<([\w-]+)>", decrypt(OutgoingMail.query.one().body_encrypted)).group(1)
    password_reset.reset_password(token, NEW, ip="198.51.100.1")
    assert throttle.is_locked(f"user:{user.id}") is None  # the mailbox lifts the hold...
    assert throttle.second_factor_capped(user)  # ...not the cap on guessing codes
    throttle.unlock_user(user, actor="helpdesk")  # the helpdesk does
    assert not throttle.second_factor_capped(user)


# --- #19 the hold as a weapon, and the office behind one NAT address --------------------


@pytest.mark.config(**NO_DELAYS, LOCKOUT_THRESHOLD=5)
def test_attackers_five_wrong_passwords_do_not_shut_out_the_owner_with_a_second_factor(
        browser, user, phone, confidential_client):
    for _ in range(5):
        browser.login("an.nguyen", WRONG, environ_base={"REMOTE_ADDR": "203.0.113.66"})
    held = browser.login("an.nguyen", PASSWORD)  # the owner, password only
    assert held.status_code == 403 and LOCKED_VI in text(held) and HELD_HINT_VI in text(held)
    assert 'name="code"' in text(held)
    # The attacker's guesses with a code, right or wrong password: one answer.
    wrong_pw = browser.submit("/login", {"username": "an.nguyen", "password": WRONG,
                                         "code": _bad(phone)})
    right_pw = browser.submit("/login", {"username": "an.nguyen", "password": PASSWORD,
                                         "code": _bad(phone)})
    assert wrong_pw.status_code == right_pw.status_code == 403
    assert _page_text(wrong_pw) == _page_text(right_pw)
    # The owner: right password plus the authenticator's code passes the hold.
    passed = browser.submit("/login?next=/account", {"username": "an.nguyen",
                                                     "password": PASSWORD, "code": phone.code()})
    assert passed.status_code == 302 and passed.headers["Location"] == "/account"
    row = SsoSession.query.filter(SsoSession.ended_at.is_(None)).one()
    assert row.amr == ["otp", "pwd"] and row.acr == ACR_MFA
    assert throttle.failures(f"user:{user.id}") == 0  # a whole sign-in starts the count again


@pytest.fixture
def work(monkeypatch) -> dict:
    """Counts of argon2 checks and lockout-counter increments (reset by the test)."""
    from idp.services import passwords

    calls = {"argon2": 0, "incr": 0}
    verify, incr = passwords.verify_password, throttle.DatabaseStore.incr

    def spy_verify(*args, **kwargs):
        calls["argon2"] += 1
        return verify(*args, **kwargs)

    def spy_incr(self, key, *args, **kwargs):
        if not key.startswith(throttle.AUDIT_PREFIX):  # the audit aggregate: the same for all
            calls["incr"] += 1
        return incr(self, key, *args, **kwargs)

    monkeypatch.setattr(passwords, "verify_password", spy_verify)
    monkeypatch.setattr(throttle.DatabaseStore, "incr", spy_incr)
    return calls


@pytest.mark.config(**NO_DELAYS, LOCKOUT_THRESHOLD=3)
def test_a_held_account_answers_the_same_whatever_the_password_or_the_factor(browser, user,
                                                                             work):
    """An account with no factor cannot pass its hold (it waits, or uses the reset link);
    for every held name, right or wrong password, the page and the work are the same."""
    for name in ("an.nguyen", "no.such.person"):
        for _ in range(3):
            browser.login(name, WRONG)
    pages, costs = set(), {}
    for label, name, password, code in [
            ("right", "an.nguyen", PASSWORD, "123456"), ("wrong", "an.nguyen", WRONG, "123456"),
            ("unknown", "no.such.person", PASSWORD, "123456"),
            ("right_no_code", "an.nguyen", PASSWORD, ""), ("wrong_no_code", "an.nguyen", WRONG, "")]:
        form = browser.get("/login")
        work.update(argon2=0, incr=0)
        response = browser.post("/login", data={"username": name, "password": password,
                                                "code": code, "csrf_token": csrf_token(text(form))})
        costs[label] = (work["argon2"], work["incr"])
        assert response.status_code == 403 and LOCKED_VI in text(response)
        assert 'name="code"' in text(response)  # the same form for every held name
        pages.add(_page_text(response).replace(name, "NAME"))
    assert len(pages) == 1
    # One argon2 check each; three counter writes when a code was typed (the account, the
    # IP, the day: test_redteam_verify2), none without.
    assert costs == {"right": (1, 3), "wrong": (1, 3), "unknown": (1, 3),
                     "right_no_code": (1, 0), "wrong_no_code": (1, 0)}
    assert browser.sso_cookie() is None


@pytest.mark.config(IP_THRESHOLD=3, LOCKOUT_DELAY_AFTER=100, LOCKOUT_THRESHOLD=100,
                    LOCKOUT_DELAY_SECONDS=60)
def test_office_behind_one_nat_keeps_signing_in_while_its_address_is_slowed(
        browser, user, admin_user):
    office = {"environ_base": {"REMOTE_ADDR": "203.0.113.10"}}
    assert browser.login("an.nguyen", PASSWORD, **office).status_code == 302  # a usual day
    browser.client.delete_cookie(browser.app.config["SSO_COOKIE_NAME"], domain="localhost")
    for name in ("typo.one", "typo.two", "typo.three"):  # colleagues' typos, or a guesser
        assert browser.login(name, WRONG, **office).status_code == 401
    guess = browser.login("guess.four", WRONG, **office)
    assert guess.status_code == 429 and "Retry-After" in guess.headers  # the address is slowed
    # A staff member who signed in from this address lately is not refused...
    assert browser.login("an.nguyen", PASSWORD, **office).status_code == 302
    browser.client.delete_cookie(browser.app.config["SSO_COOKIE_NAME"], domain="localhost")
    # ...while the slow-down still applies to every other account tried from it.
    other = browser.login("binh.tran", PASSWORD, **office)
    assert other.status_code == 429 and browser.sso_cookie() is None


# --- #4 TOTP secret fixation on a shared browser ----------------------------------------


def _shown_secret(response) -> str:
    match = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', text(response))
    assert match, text(response)[:500]
    return match.group(1).replace(" ", "")


def test_enrolment_secret_is_not_handed_to_the_next_user_of_the_browser(browser, user,
                                                                         department):
    from idp.services import users

    department.mfa_required = True
    db.session.commit()
    b_user, _ = users.create_user("binh.le", email="binh.le@example.gov.vn", full_name="Lê Bình",
                                  password=PASSWORD, department=department.code)
    # A signs in, opens the enrolment page, and walks away.
    assert browser.login("an.nguyen", PASSWORD, "?lang=en").headers["Location"] == "/login/enrol"
    secret_a = _shown_secret(browser.get("/login/enrol"))
    # B signs in on the same browser and is asked to enrol.
    assert browser.login("binh.le", PASSWORD).headers["Location"] == "/login/enrol"
    with browser.client.session_transaction() as flask_session:
        assert "authn_enrol" not in flask_session  # a new sign-in starts from a clean session
        assert flask_session.get("lang") == "en"  # but keeps the language
    secret_b = _shown_secret(browser.get("/login/enrol"))
    assert secret_b != secret_a
    done = browser.submit("/login/enrol", {"code": code_at(secret_b)})
    assert done.status_code == 200 and "recovery" in text(done).lower()
    assert browser.get("/login/continue").status_code == 302
    # A's secret does not produce B's codes.
    assert mfa.verify_totp(b_user, code_at(secret_a, 1)) is False
    assert mfa.verify_totp(b_user, code_at(secret_b, 1)) is True


def test_account_setup_secret_is_bound_to_its_user_and_session(app, browser, user, admin_user,
                                                               sso_login):
    sso_login(user)
    page = browser.submit("/account/mfa/setup", {"password": PASSWORD}, page="/account/mfa")
    secret_a = _shown_secret(page)
    sso_login(admin_user)  # someone else's session in the same browser
    confirm = browser.submit("/account/mfa/confirm", {"code": code_at(secret_a)},
                             page="/account/mfa")
    assert confirm.status_code == 302 and confirm.headers["Location"] == "/account/mfa"
    assert not mfa.has_totp(admin_user)


# --- #10 /password/forgot ------------------------------------------------------------------


def _ask(browser, email: str, **kwargs):
    response = browser.submit("/password/forgot", {"email": email}, **kwargs)
    assert response.status_code == 200 and SENT_VI in text(response)
    return response


def _worker_pass(app) -> None:
    from idp.ops.worker import Worker

    Worker(app).run_once()


@pytest.mark.config(RESET_MAX_PER_ADDRESS=3)
def test_eight_requests_for_one_address_send_at_most_the_configured_mails(app, browser, user,
                                                                          mailbox):
    for _ in range(8):
        _ask(browser, "an.nguyen@example.gov.vn")
    _worker_pass(app)
    assert len(mailbox.wait(4, timeout=1.0)) == 3
    assert OutgoingMail.query.count() == 0  # sent mail is not kept
    throttled = AuditEvent.query.filter_by(event_type="password.reset_request",
                                           outcome="failure").all()
    assert [e.details["reason"] for e in throttled] == ["throttled"]  # once, not five times


@pytest.mark.config(RESET_MAX_PER_IP=3, RESET_MAX_PER_ADDRESS=100)
def test_one_address_asking_for_many_people_is_throttled_per_ip(app, browser, user, mailbox):
    attacker = {"environ_base": {"REMOTE_ADDR": "198.51.100.23"}}
    for n in range(3):
        _ask(browser, f"person{n}@example.gov.vn", **attacker)
    _ask(browser, "an.nguyen@example.gov.vn", **attacker)  # the same page, no mail
    _ask(browser, "an.nguyen@example.gov.vn")  # from another address: sent
    _worker_pass(app)
    assert len(mailbox.wait(2, timeout=1.0)) == 1


def test_known_and_unknown_address_same_page_and_no_smtp_in_the_request(app, browser, user,
                                                                        mailbox, monkeypatch):
    import smtplib

    from idp.services import mail

    connections = []
    real_smtp = smtplib.SMTP

    class CountingSMTP(real_smtp):
        def __init__(self, *args, **kwargs):
            connections.append(args)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(mail.smtplib, "SMTP", CountingSMTP)
    known = _page_text(_ask(browser, "an.nguyen@example.gov.vn"))
    unknown = _page_text(_ask(browser, "nobody@example.gov.vn"))
    assert known.replace("an.nguyen", "X") == unknown.replace("nobody", "X")
    assert connections == [] and mailbox.messages == []  # the request did no SMTP work
    from idp.services.crypto import decrypt

    row = OutgoingMail.query.one()  # queued, its body (the reset link) encrypted at rest
    assert row.recipient == "an.nguyen@example.gov.vn" and "password/reset" not in row.body_encrypted
    assert "/password/reset?token=" in decrypt(row.body_encrypted)
    _worker_pass(app)
    assert len(connections) == 1
    assert "/password/reset?token=" in mailbox.wait(1)[0].get_content()


# --- #11 throttled sign-ins and the audit log; counters purged -----------------------------


@pytest.mark.config(IP_THRESHOLD=3, LOCKOUT_DELAY_AFTER=100, LOCKOUT_THRESHOLD=100,
                    LOCKOUT_DELAY_SECONDS=60, LOCKOUT_SECONDS=900, WTF_CSRF_ENABLED=False)
def test_fifty_throttled_attempts_write_one_audit_row_then_one_summary(app, client):
    from idp.services import housekeeping

    form = lambda n: {"username": f"guess{n}", "password": WRONG}  # noqa: E731
    for n in range(3):
        assert client.post("/login", data=form(n)).status_code == 401
    before = AuditEvent.query.count()
    answers = [client.post("/login", data=form(n)).status_code for n in range(3, 53)]
    assert answers == [429] * 50
    refused = AuditEvent.query.filter(AuditEvent.id > 0).count() - before
    assert refused == 1  # one event for the key and window, not fifty
    event = AuditEvent.query.order_by(AuditEvent.id.desc()).first()
    assert event.details == {"reason": "throttled", "aggregated": True}
    # When the window is over, housekeeping writes the count and drops the counters.
    later = utcnow() + timedelta(seconds=1000)
    counts = housekeeping.purge_expired(now=later)
    summary = AuditEvent.query.filter_by(event_type="login.refused").one()
    assert summary.details["count"] == 50 and summary.details["key"] == "ip:127.0.0.1"
    assert counts["throttle_counters"] == 5  # 3 names, the IP, the refusal aggregate
    assert ThrottleCounter.query.count() == 0


def test_housekeeping_deletes_expired_counters_and_keeps_live_ones(app, user):
    from idp.services import housekeeping

    now = utcnow()
    rows = {
        "user:9001": (now - timedelta(seconds=2000), None),  # window over: deleted
        "ip:192.0.2.1": (now - timedelta(seconds=100), None),  # live window: kept
        "user:9002": (now - timedelta(seconds=2000), now + timedelta(seconds=60)),  # held: kept
        "mfa-day:9003": (now - timedelta(hours=2), None),  # within its day: kept
        "mfa-day:9004": (now - timedelta(hours=25), None),  # a day old: deleted
        f"seen:{user.id}:192.0.2.1": (now - timedelta(days=1), None),  # known address: kept
        "reset-to:abc": (now - timedelta(seconds=7200), None),  # reset window over: deleted
    }
    for key, (started, until) in rows.items():
        db.session.add(ThrottleCounter(key=key, failures=3, window_started_at=started,
                                       locked_until=until))
    db.session.commit()
    counts = housekeeping.purge_expired()
    assert counts["throttle_counters"] == 3
    left = {row.key for row in ThrottleCounter.query}
    assert left == {"ip:192.0.2.1", "user:9002", "mfa-day:9003", f"seen:{user.id}:192.0.2.1"}


# --- #15 temporary password + TOTP ------------------------------------------------------------


def test_helpdesk_reset_of_an_mfa_user_then_sign_in_lands_at_the_relying_party(
        browser, user, phone, confidential_client):
    from idp.services import admin_users
    from idp.services.admin_audit import Actor
    from tests.support.flow import Flow

    temporary = admin_users.reset_password(user, Actor("helpdesk.le"))
    rp = Flow.broad(browser.client, confidential_client)
    start, _verifier = rp.start()
    assert start.status_code == 302 and start.headers["Location"].startswith("/login?")
    login_url = start.headers["Location"]
    step = browser.submit(login_url, {"username": "an.nguyen", "password": temporary})
    assert step.headers["Location"] == "/login/otp"
    step = browser.submit("/login/otp", {"code": phone.code()})
    assert step.status_code == 302 and step.headers["Location"] == "/login/change-password"
    page = browser.get("/login/change-password")
    assert page.status_code == 200 and 'autocomplete="new-password"' in text(page)
    done = browser.submit("/login/change-password",
                          {"new_password": NEW, "confirm_password": NEW})
    assert done.status_code == 302 and done.headers["Location"].startswith("/authorize")
    back = browser.get(done.headers["Location"])
    assert back.status_code == 302
    location = back.headers["Location"]
    assert location.startswith(confidential_client.redirect_uri) and "code" in query(location)
    row = SsoSession.query.filter(SsoSession.ended_at.is_(None)).one()
    db.session.refresh(user)
    assert row.amr == ["otp", "pwd"] and not user.must_change_password


# --- #20 (part) sessions end with a new password or a new second factor -------------------------


def test_cli_set_password_ends_the_users_sessions_with_their_logouts(app, runner, user, sso_login,
                                                                     confidential_client):
    from idp.services import sessions

    live = sso_login(user)
    sessions.join(live, confidential_client.row.id)
    result = runner.invoke(["user", "set-password", "an.nguyen", "--password", NEW])
    assert result.exit_code == 0 and "ended 1 session(s)" in result.output
    db.session.refresh(live)
    assert live.ended_at is not None and live.end_reason == "password_set"
    assert LogoutDelivery.query.filter_by(sid=live.sid).count() == 1  # back-channel fan-out


@pytest.mark.parametrize("replace", [False, True], ids=["enrol", "replace"])
def test_enrolling_or_replacing_the_second_factor_ends_the_other_sessions(
        app, browser, user, sso_login, replace):
    if replace:
        secret = mfa.new_secret()
        assert mfa.enrol(user, secret, code_at(secret, -1)) is not None
    elsewhere = sso_login(user)  # e.g. a forgotten session on another computer
    here = sso_login(user)  # this browser (the last cookie set)
    page = browser.submit("/account/mfa/setup", {"password": PASSWORD}, page="/account/mfa")
    new_secret = _shown_secret(page)
    done = browser.submit("/account/mfa/confirm", {"code": code_at(new_secret)},
                          page="/account/mfa")
    assert done.status_code == 200
    db.session.refresh(elsewhere)
    db.session.refresh(here)
    assert elsewhere.ended_at is not None and elsewhere.end_reason == "mfa_enrol"
    assert here.ended_at is None
    assert browser.get("/account").status_code == 200  # still signed in here
