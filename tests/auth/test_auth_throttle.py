"""Brute-force protection: growing delays, a temporary lock, helpdesk unlock, shared counters."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from idp.extensions import db
from idp.models import AuditEvent, User
from idp.services import throttle
from tests.support.constants import PASSWORD
from tests.support.pages import text

WRONG = "definitely not the password"
LOCKED_VI = "Tài khoản đang bị tạm khóa. Hãy thử lại sau hoặc liên hệ bộ phận hỗ trợ."
NO_DELAYS = {"LOCKOUT_DELAY_AFTER": 100, "LOCKOUT_THRESHOLD": 3, "IP_THRESHOLD": 1000}


@pytest.fixture
def clock(monkeypatch):
    """Move the throttle's clock forward without sleeping."""
    from idp.models import utcnow

    class Clock:
        offset = timedelta(0)

        def now(self):
            return utcnow() + self.offset

        def advance(self, seconds: float):
            self.offset += timedelta(seconds=seconds)

    fake = Clock()
    monkeypatch.setattr(throttle, "utcnow", fake.now)
    return fake


@pytest.mark.config(LOCKOUT_DELAY_AFTER=3, LOCKOUT_DELAY_SECONDS=2, LOCKOUT_THRESHOLD=5)
def test_after_three_failures_an_early_attempt_gets_429_then_the_wait_grows(browser, user, clock):
    for _ in range(3):
        assert browser.login("an.nguyen", WRONG).status_code == 401
    early = browser.login("an.nguyen", PASSWORD)  # even the right password must wait
    assert early.status_code == 429
    assert early.headers["Retry-After"] == "2"
    assert "Đăng nhập sai quá nhiều lần" in text(early)
    assert browser.sso_cookie() is None
    clock.advance(2.1)
    assert browser.login("an.nguyen", WRONG).status_code == 401  # fourth failure
    assert browser.login("an.nguyen", WRONG).headers["Retry-After"] == "4"  # doubled
    clock.advance(4.1)
    assert browser.login("an.nguyen", PASSWORD).status_code == 302
    assert throttle.failures(f"user:{user.id}") == 0  # success starts the count again


@pytest.mark.config(**NO_DELAYS)
def test_lock_gives_the_same_message_with_right_or_wrong_password(browser, user):
    for _ in range(2):
        assert browser.login("an.nguyen", WRONG).status_code == 401
    third = browser.login("an.nguyen", WRONG)
    assert third.status_code == 403 and LOCKED_VI in text(third)
    right, wrong = browser.login("an.nguyen", PASSWORD), browser.login("an.nguyen", WRONG)
    assert right.status_code == wrong.status_code == 403
    assert LOCKED_VI in text(right) and LOCKED_VI in text(wrong)
    assert browser.sso_cookie() is None
    events = AuditEvent.query.order_by(AuditEvent.id).all()
    assert [e.event_type for e in events if e.event_type == "account.lock"] == ["account.lock"]
    reasons = [e.details.get("reason") for e in events if e.event_type == "login"]
    # Refusals by the hold are audited once per account and window (finding 11), not per request.
    assert reasons == ["bad_password"] * 3 + ["locked"]


@pytest.mark.config(**NO_DELAYS)
def test_unknown_name_locks_like_a_real_account(browser):
    """Otherwise the lock itself would reveal which names exist."""
    for _ in range(3):
        browser.login("no.such.person", WRONG)
    response = browser.login("no.such.person", WRONG)
    assert response.status_code == 403 and LOCKED_VI in text(response)


@pytest.mark.config(**NO_DELAYS, LOCKOUT_SECONDS=60)
def test_lock_ends_by_itself(browser, user, clock):
    for _ in range(3):
        browser.login("an.nguyen", WRONG)
    assert browser.login("an.nguyen", PASSWORD).status_code == 403
    clock.advance(61)
    assert browser.login("an.nguyen", PASSWORD).status_code == 302


@pytest.mark.config(**NO_DELAYS)
def test_helpdesk_unlocks_with_the_cli(app, browser, runner, user):
    for _ in range(3):
        browser.login("an.nguyen", WRONG)
    assert db.session.get(User, user.id, populate_existing=True).locked_until is not None  # shown by the admin console
    result = runner.invoke(["user", "unlock", "an.nguyen"])
    assert result.exit_code == 0 and "Unlocked an.nguyen." in result.output
    assert db.session.get(User, user.id, populate_existing=True).locked_until is None
    assert browser.login("an.nguyen", PASSWORD).status_code == 302
    unlock = AuditEvent.query.filter_by(event_type="account.unlock").one()
    assert unlock.actor == "cli" and unlock.subject == "an.nguyen"
    again = runner.invoke(["user", "unlock", "an.nguyen"])
    assert "was not locked" in again.output


def test_unlock_of_unknown_user_is_a_one_line_error(app, runner):
    result = runner.invoke(["user", "unlock", "ghost"])
    assert result.exit_code == 1
    assert "No staff member is called ghost." in result.output


@pytest.mark.config(IP_THRESHOLD=4, LOCKOUT_DELAY_AFTER=100, LOCKOUT_THRESHOLD=100,
                    LOCKOUT_DELAY_SECONDS=2)
def test_one_ip_guessing_many_accounts_is_slowed(browser, user, admin_user, clock):
    for name in ("a.one", "b.two", "c.three", "d.four"):
        assert browser.login(name, WRONG).status_code == 401
    response = browser.login("binh.tran", PASSWORD)
    assert response.status_code == 429 and response.headers["Retry-After"] == "2"
    clock.advance(2.1)
    assert browser.login("binh.tran", PASSWORD).status_code == 302
    assert throttle.failures("ip:127.0.0.1") == 4
    assert throttle.failures("ip:10.0.0.9") == 0


def _concurrent_failures(app, count: int) -> list[BaseException]:
    from idp.errors import AuthenticationFailed
    from idp.services import authn

    barrier, errors = threading.Barrier(count), []

    def attempt():
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                authn.authenticate("an.nguyen", WRONG, ip="198.51.100.7")
            except AuthenticationFailed:
                pass
            except BaseException as exc:  # noqa: BLE001  (reported by the test)
                errors.append(exc)
            finally:
                from idp.extensions import db

                db.session.remove()

    threads = [threading.Thread(target=attempt) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


@pytest.mark.config(LOCKOUT_DELAY_AFTER=100, LOCKOUT_THRESHOLD=100, IP_THRESHOLD=1000)
def test_concurrent_failures_are_all_counted(app, user):
    count = 12
    errors = _concurrent_failures(app, count)
    assert errors == []
    assert throttle.failures(f"user:{user.id}") == count
    assert throttle.failures("ip:198.51.100.7") == count


@pytest.mark.config(**NO_DELAYS)
def test_counters_in_redis_lock_and_unlock(app, browser, user, redis_url):
    import redis

    for _ in range(3):
        browser.login("an.nguyen", WRONG)
    assert browser.login("an.nguyen", PASSWORD).status_code == 403
    assert int(redis.Redis.from_url(redis_url).hget(f"idp:throttle:user:{user.id}", "failures")) == 3
    assert throttle.unlock_user(user, actor="helpdesk") is True
    assert browser.login("an.nguyen", PASSWORD).status_code == 302


@pytest.mark.config(LOCKOUT_DELAY_AFTER=100, LOCKOUT_THRESHOLD=100, IP_THRESHOLD=1000)
def test_concurrent_failures_are_all_counted_in_redis(app, user, redis_url):
    assert _concurrent_failures(app, 12) == []
    assert throttle.failures(f"user:{user.id}") == 12
