"""The three demo apps, signed in through the fake OP: who is shown, and each app's role rules."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from clients import docs_app, onestop, webmail
from tests.support.fake_op import FakeOP
from tests.support.relying_party import STAFF, AppBrowser

URLS = {"DOCS_URL": "http://docs.test", "WEBMAIL_URL": "http://webmail.test", "ONESTOP_URL": "http://onestop.test"}


def _make(module: Any, key: str, op: FakeOP, tmp_path: Path) -> Flask:
    urls = {**URLS, f"{key.upper()}_URL": "http://localhost"}  # the app under test is the test client's host
    return module.create_app({
        **urls, "SSO_ISSUER": op.issuer, "SSO_CLIENT_ID": key, "SSO_CLIENT_SECRET": f"{key}-secret",
        "DATABASE": str(tmp_path / f"{key}.sqlite3"),
    })


@pytest.fixture
def docs(op: FakeOP, tmp_path: Path) -> Flask:
    return _make(docs_app, "docs", op, tmp_path)


@pytest.fixture
def mail(op: FakeOP, tmp_path: Path) -> Flask:
    return _make(webmail, "webmail", op, tmp_path)


@pytest.fixture
def shop(op: FakeOP, tmp_path: Path) -> Flask:
    return _make(onestop, "onestop", op, tmp_path)


def sign_in(app: Flask, op: FakeOP, roles: list[str], **user: Any) -> AppBrowser:
    """A browser signed in to ``app`` as the default staff member with ``roles``."""
    op.user = {**STAFF, "roles": roles, **user}
    browser = AppBrowser(app.test_client(), op=op)
    assert browser.login().status_code == 302
    return browser


# Common to all three apps

@pytest.mark.parametrize("fixture", ["docs", "mail", "shop"])
def test_anonymous_visitor_sees_sign_in_in_vietnamese_then_english(fixture: str, request) -> None:
    client = request.getfixturevalue(fixture).test_client()
    page = client.get("/")
    assert 'lang="vi"' in page.text and "Đăng nhập" in page.text
    client.get("/lang/en?next=/")
    assert "Sign in" in client.get("/").text


@pytest.mark.parametrize(("fixture", "roles", "others"), [
    ("docs", ["clerk"], ["WEBMAIL_URL", "ONESTOP_URL"]),
    ("mail", [], ["DOCS_URL", "ONESTOP_URL"]),
    ("shop", ["officer"], ["DOCS_URL", "WEBMAIL_URL"]),
])
def test_page_shows_who_is_signed_in_and_links_to_the_other_apps(
        fixture: str, roles: list[str], others: list[str], op: FakeOP, request) -> None:
    page = sign_in(request.getfixturevalue(fixture), op, roles).client.get("/").text
    assert '<strong class="who-name">Nguyễn Văn An</strong>' in page
    assert '<span class="who-dept">Văn phòng Bộ</span>' in page
    assert f'<span class="who-roles">{", ".join(roles) or "(không có)"}</span>' in page
    for other in others:
        assert f'href="{URLS[other]}/"' in page
    assert 'href="http://localhost/" aria-current="page"' in page
    assert "Đăng xuất" in page


def test_each_app_has_its_own_cookie_name(docs: Flask, mail: Flask, shop: Flask, op: FakeOP) -> None:
    for app, key in ((docs, "docs"), (mail, "webmail"), (shop, "onestop")):
        browser = sign_in(app, op, [])
        assert browser.client.get_cookie(f"{key}_session") is not None


def test_backchannel_logout_ends_the_demo_app_session(docs: Flask, op: FakeOP) -> None:
    browser = sign_in(docs, op, ["clerk"])
    response = docs.test_client().post("/auth/backchannel-logout", data={"logout_token": op.logout_token("docs")})
    assert response.status_code == 200
    assert "Đăng nhập" in browser.client.get("/").text


# Document management

def test_clerk_sees_only_their_department_documents(docs: Flask, op: FakeOP) -> None:
    page = sign_in(docs, op, ["clerk"]).client.get("/?dir=incoming").text
    assert "Đề nghị phối hợp triển khai hệ thống đăng nhập một lần" in page
    assert "Báo cáo số lượng công chức quý III" not in page  # another department's
    assert "Kế hoạch chuyển đổi số năm 2026" in sign_in(docs, op, ["clerk"]).client.get("/?dir=outgoing").text


def _create(browser: AppBrowser) -> str:
    response = browser.post("/documents/new", {"direction": "outgoing", "number": "9/BNV-VP",
                                                "title": "Công văn thử nghiệm", "counterpart": "Sở Nội vụ"})
    assert response.status_code == 302
    return response.headers["Location"]


def test_clerk_creates_a_document_but_cannot_sign_it_off(docs: Flask, op: FakeOP) -> None:
    clerk = sign_in(docs, op, ["clerk"])
    location = _create(clerk)
    page = clerk.client.get(location).text
    assert "Công văn thử nghiệm" in page and "Chờ ký duyệt" in page and "Đã tạo văn bản." in page
    assert "Ký duyệt</button>" not in page
    refused = clerk.post(f"{location}/sign")
    assert refused.status_code == 403 and "leader" in refused.text
    assert "Chờ ký duyệt" in clerk.client.get(location).text


def test_leader_signs_off_a_document(docs: Flask, op: FakeOP) -> None:
    location = _create(sign_in(docs, op, ["clerk"]))
    leader = sign_in(docs, op, ["leader"], sub="u-2", name="Lê Thị Lan")
    assert "Ký duyệt</button>" in leader.client.get(location).text
    assert leader.post(f"{location}/sign").status_code == 302
    page = leader.client.get(location).text
    assert "Đã ký duyệt" in page and "Lê Thị Lan" in page


def test_staff_without_a_docs_role_cannot_create(docs: Flask, op: FakeOP) -> None:
    browser = sign_in(docs, op, [])
    assert "Tạo văn bản" not in browser.client.get("/").text
    assert browser.client.get("/documents/new").status_code == 403


def test_another_departments_document_is_not_found(docs: Flask, op: FakeOP) -> None:
    location = _create(sign_in(docs, op, ["clerk"]))
    outsider = sign_in(docs, op, ["leader"], sub="u-3", department={"code": "TCCB", "name": "Vụ Tổ chức cán bộ"})
    assert outsider.client.get(location).status_code == 404
    assert outsider.post(f"{location}/sign").status_code == 404


# Webmail

def test_inbox_compose_and_delivery_to_a_colleague(mail: Flask, op: FakeOP) -> None:
    an = sign_in(mail, op, [])
    assert "Chào mừng đến với hệ thống thư điện tử" in an.client.get("/").text
    sent = an.post("/compose", {"to": "binh.tt@bo.gov.vn", "subject": "Họp giao ban", "body": "8h sáng thứ Hai."})
    assert sent.status_code == 302
    assert "Họp giao ban" in an.client.get("/sent").text
    binh = sign_in(mail, op, [], sub="u-2", name="Trần Thị Bình", email="binh.tt@bo.gov.vn")
    inbox = binh.client.get("/").text
    assert "Họp giao ban" in inbox and "Nguyễn Văn An &lt;an.nv@bo.gov.vn&gt;" in inbox
    message_id = re.search(r'/messages/(\d+)">\s*<strong>Họp giao ban', inbox).group(1)
    assert "8h sáng thứ Hai." in binh.client.get(f"/messages/{message_id}").text
    third = sign_in(mail, op, [], sub="u-3", email="cuong.lv@bo.gov.vn")
    assert third.client.get(f"/messages/{message_id}").status_code == 404


def test_compose_rejects_a_bad_address(mail: Flask, op: FakeOP) -> None:
    response = sign_in(mail, op, []).post("/compose", {"to": "not-an-address", "subject": "x"})
    assert response.status_code == 400
    assert "Địa chỉ người nhận không hợp lệ." in response.text


# One-stop shop

def _count(page: str, state: str) -> int:
    return int(re.search(rf'id="count-{state}">[^<]*<span class="count">(\d+)</span>', page).group(1))


def _row(page: str, dossier_id: int) -> str:
    return re.search(rf'<tr class="dossier" id="dossier-{dossier_id}">(.*?)</tr>', page, re.S).group(1)


def test_summary_counts_seeded_dossiers_by_state(shop: Flask, op: FakeOP) -> None:
    page = sign_in(shop, op, []).client.get("/").text
    expected = {"total": 6, "received": 1, "in_progress": 2, "resolved_early": 1,
                "resolved_on_time": 1, "resolved_late": 1, "overdue": 1}
    assert {state: _count(page, state) for state in expected} == expected
    assert "Đã giải quyết quá hạn" in _row(page, 3)


def test_officer_moves_a_dossier_on_but_cannot_resolve(shop: Flask, op: FakeOP) -> None:
    officer = sign_in(shop, op, ["officer"])
    assert "Chuyển xử lý" in _row(officer.client.get("/").text, 6)
    assert officer.post("/dossiers/6/advance").status_code == 302
    page = officer.client.get("/").text
    assert "Đang xử lý" in _row(page, 6) and _count(page, "in_progress") == 3
    refused = officer.post("/dossiers/6/resolve")
    assert refused.status_code == 403 and "approver" in refused.text


def test_approver_resolves_but_cannot_move_on(shop: Flask, op: FakeOP) -> None:
    approver = sign_in(shop, op, ["approver"])
    assert approver.post("/dossiers/6/advance").status_code == 403
    assert approver.post("/dossiers/4/resolve").status_code == 302
    page = approver.client.get("/").text
    assert "Đã giải quyết trước hạn" in _row(page, 4)
    assert _count(page, "resolved_early") == 2 and _count(page, "in_progress") == 1


def test_resolving_a_dossier_not_in_progress_is_refused(shop: Flask, op: FakeOP) -> None:
    approver = sign_in(shop, op, ["approver"])
    approver.post("/dossiers/6/resolve")
    page = approver.client.get("/").text
    assert "Hồ sơ không ở trạng thái phù hợp." in page
    assert "Mới tiếp nhận" in _row(page, 6)
