"""A member of staff with a second factor signs in with a TOTP code (RFC 6238) in a real browser."""

from __future__ import annotations

import time

import pyotp
import pytest

from idp.demo import TOTP_SECRETS

pytestmark = pytest.mark.e2e


def wrong_code(username: str) -> str:
    """Six digits that no authenticator shows around now (outside every accepted time-step)."""
    totp = pyotp.TOTP(TOTP_SECRETS[username])
    accepted = {totp.at(time.time() + drift) for drift in range(-120, 121, 30)}
    return next(c for c in (f"{n:06d}" for n in range(123456, 999999, 111111)) if c not in accepted)


def test_mfa_user_signs_in_with_totp_and_a_wrong_code_is_refused(staff):
    staff.open_app("docs")
    staff.click_sign_in()
    staff.sign_in("binh.tran")
    staff.page.wait_for_url(f"{staff.stack.provider}/login/otp**")
    assert "Mã xác thực" in staff.text()  # "Authentication code"

    staff.enter_code(wrong_code("binh.tran"))
    assert staff.on_provider("/login/otp")
    error = staff.page.locator("[role=alert]")
    assert error.is_visible()
    assert "Mã không đúng" in error.inner_text()  # "The code is not right ..."
    assert staff.signed_in_name() is None
    staff.snapshot("wrong-code")

    staff.enter_code(staff.totp("binh.tran"))
    staff.page.wait_for_url(staff.stack.apps["docs"] + "/**")
    assert staff.signed_in_name() == "Trần Thị Bình", staff.text()
    assert "leader" in staff.page.inner_text(".who-roles")
