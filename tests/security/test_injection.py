"""SQL- and template-injection strings in every text field: stored as they are, given back
exactly in JSON, escaped in HTML pages, and never executed (ASVS 5.3.3, 5.3.4, 5.2.5)."""

from __future__ import annotations

import html

import pytest
from markupsafe import escape

PAYLOADS = ["' OR 1=1 --", "{{7*7}}", "<script>alert(1)</script>",
            '"><img src=x onerror=alert(1)>', "{% print 'x' * 7 %}", "Robert'); DROP TABLE users;--",
            "${7*7}", "Nguyễn \u202e Văn"]


@pytest.fixture
def api(client, admin_api_token):
    headers = {"Authorization": f"Bearer {admin_api_token}"}

    def call(method: str, path: str, **kwargs):
        return client.open(f"/api/admin{path}", method=method, headers=headers, **kwargs)

    return call


@pytest.fixture
def admin_browser(client, admin_user, sso_login):
    from idp.sso import ACR_MFA

    sso_login(admin_user, amr=("pwd", "otp"), acr=ACR_MFA)
    return client


def _shown_safely(page: str, payload: str) -> None:
    assert str(escape(payload)) in page or html.escape(payload, quote=False) in page, payload
    if any(ch in payload for ch in "<>\""):
        assert payload not in page  # the raw markup never reaches the browser
    assert "49" not in page.split("{{7*7}}")[0][-5:]  # no template evaluated in place


@pytest.mark.parametrize("index", range(len(PAYLOADS)), ids=PAYLOADS)
def test_injection_strings_are_stored_exactly_and_escaped_in_pages(api, admin_browser, department,
                                                                   index):
    payload = PAYLOADS[index]
    dept = api("POST", "/departments", json={"code": f"INJ{index}", "name": payload,
                                             "parent": department.code})
    assert dept.status_code == 201, dept.get_json()
    assert dept.get_json()["name"] == payload
    created = api("POST", "/users", json={
        "username": f"inj{index}", "full_name": payload, "email": f"inj{index}@example.gov.vn",
        "title": payload, "department": f"INJ{index}"})
    assert created.status_code == 201, created.get_json()
    user = api("GET", f"/users/inj{index}").get_json()
    assert (user["full_name"], user["title"]) == (payload, payload)
    made = api("POST", "/clients", json={
        "client_name": payload, "description": payload, "client_type": "web",
        "client_id": f"inj-{index}", "redirect_uris": ["https://inj.example.gov.vn/cb"]})
    assert made.status_code == 201, made.get_json()
    shown = api("GET", f"/clients/inj-{index}").get_json()
    assert (shown["client_name"], shown["description"]) == (payload, payload)

    for path in ("/admin/staff", f"/admin/staff/{user['id']}", "/admin/departments",
                 "/admin/clients", f"/admin/clients/inj-{index}"):
        page = admin_browser.get(path)
        assert page.status_code == 200, path
        _shown_safely(page.get_data(as_text=True), payload)


def test_sql_in_a_search_is_only_text(api, user, admin_user):
    """A search for `' OR 1=1 --` finds the people whose names contain it, not everybody."""
    everybody = api("GET", "/users").get_json()
    assert len(everybody["items"]) >= 2
    found = api("GET", "/users", query_string={"q": "' OR 1=1 --"}).get_json()
    assert found["items"] == []


def test_injected_full_name_is_escaped_on_the_staff_members_own_pages(client, app, department,
                                                                      sso_login):
    from idp.services import users

    created, _ = users.create_user("xss.user", email="xss@example.gov.vn",
                                   full_name="<script>alert(1)</script>",
                                   department=department.code, password="Mật khẩu rất dài 2026")
    sso_login(created)
    page = client.get("/account").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)</script>" not in page
