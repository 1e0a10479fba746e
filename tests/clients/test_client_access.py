"""login_required, require_role, the claims in current_user, and the CSRF guard."""
from __future__ import annotations

from tests.support.fake_op import DROP, FakeOP
from tests.support.relying_party import AppBrowser


def test_login_required_redirects_anonymous_visitors(browser: AppBrowser) -> None:
    response = browser.client.get("/private?tab=2")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login?next=/private?tab%3D2"


def test_require_role_redirects_anonymous_then_forbids_without_role(browser: AppBrowser) -> None:
    assert browser.client.get("/admin").status_code == 302
    browser.login()
    response = browser.client.get("/admin")
    assert response.status_code == 403
    assert "forbidden" in response.text and "admin" in response.text


def test_require_role_allows_the_role(browser: AppBrowser, op: FakeOP) -> None:
    op.user["roles"] = ["admin"]
    browser.login()
    assert browser.client.get("/admin").text == "admin area"


def test_claims_missing_from_the_id_token_come_from_userinfo(browser: AppBrowser, op: FakeOP) -> None:
    op.id_token_overrides = {"department": DROP, "roles": DROP, "title": DROP}
    browser.login()
    assert browser.client.get("/private").text == "Nguyễn Văn An | Văn phòng Bộ | clerk | Chuyên viên"


def test_post_without_csrf_token_is_refused(browser: AppBrowser) -> None:
    browser.login()
    response = browser.client.post("/auth/logout")
    assert response.status_code == 400
    assert "csrf_failed" in response.text
    assert browser.client.get("/").text == "Xin chào Nguyễn Văn An"

