"""Who may open the console: a live MFA session and an admin role, checked on every action."""

from urllib.parse import parse_qs, urlsplit

import pytest

ROLES = ("admin", "client-admin", "helpdesk", "auditor")

ALL = set(ROLES)
CLIENTS = {"admin", "client-admin"}
STAFF_READ = {"admin", "helpdesk"}
SUPPORT = {"admin", "helpdesk"}
AUDIT = {"admin", "auditor"}
ADMIN = {"admin"}

# (method, path, form, roles allowed). {user} is a plain staff member, {client} the docs client.
MATRIX = [
    ("GET", "/admin/dashboard", None, AUDIT),
    ("GET", "/admin/audit", None, AUDIT),
    ("GET", "/admin/audit/export.csv", None, AUDIT),
    ("GET", "/admin/audit/export.jsonl", None, AUDIT),
    ("GET", "/admin/clients", None, CLIENTS),
    ("GET", "/admin/clients/new", None, CLIENTS),
    ("POST", "/admin/clients/new", {"client_name": "Lịch họp", "client_type": "spa",
                                    "redirect_uris": "https://lich.example.gov.vn/cb",
                                    "grant_types": "authorization_code"}, CLIENTS),
    ("GET", "/admin/clients/docs", None, CLIENTS),
    ("GET", "/admin/clients/docs/edit", None, CLIENTS),
    ("POST", "/admin/clients/docs/rotate", {"grace_hours": "1"}, CLIENTS),
    ("POST", "/admin/clients/docs/enabled", {"enabled": "0"}, CLIENTS),
    ("POST", "/admin/clients/docs/delete", {"confirm": "docs"}, CLIENTS),
    ("GET", "/admin/registration-tokens", None, CLIENTS),
    ("POST", "/admin/registration-tokens", {"description": "CI", "ttl_hours": "2"}, CLIENTS),
    ("GET", "/admin/staff", None, STAFF_READ),
    ("GET", "/admin/staff/{user}", None, STAFF_READ),
    ("GET", "/admin/staff/new", None, ADMIN),
    ("POST", "/admin/staff/new", {"username": "moi.nv", "full_name": "Nhân Viên Mới",
                                  "email": "moi@example.gov.vn"}, ADMIN),
    ("GET", "/admin/staff/{user}/edit", None, ADMIN),
    ("POST", "/admin/staff/{user}/enabled", {"enabled": "0"}, ADMIN),
    ("POST", "/admin/staff/{user}/roles", {"roles": "auditor"}, ADMIN),
    ("GET", "/admin/staff/import", None, ADMIN),
    ("POST", "/admin/staff/{user}/unlock", {}, SUPPORT),
    ("POST", "/admin/staff/{user}/reset-password", {}, SUPPORT),
    ("POST", "/admin/staff/{user}/reset-mfa", {}, SUPPORT),
    ("POST", "/admin/staff/{user}/end-sessions", {}, SUPPORT),
    ("GET", "/admin/departments", None, STAFF_READ),
    ("POST", "/admin/departments", {"code": "VP-TH", "name": "Phòng Tổng hợp", "parent": "VP"}, ADMIN),
    ("GET", "/admin/departments/VP", None, ADMIN),
    ("POST", "/admin/departments/VP", {"name": "Văn phòng", "parent": "BO"}, ADMIN),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method,path,form,allowed", MATRIX,
                         ids=[f"{m} {p}" for m, p, _, _ in MATRIX])
def test_role_matrix(client, sign_in_as, csrf, user, confidential_client, role, method, path,
                     form, allowed):
    sign_in_as(role)
    url = path.format(user=user.id)
    if method == "GET":
        response = client.get(url)
    else:
        response = client.post(url, data={**form, "csrf_token": csrf()})
    if role in allowed:
        assert response.status_code in (200, 201, 302), response.get_data(as_text=True)[:500]
        if response.status_code == 302:
            assert "/login" not in response.headers["Location"]
    else:
        assert response.status_code == 403
        assert "permission" in response.get_data(as_text=True) or "quyền" in response.get_data(as_text=True)


def test_no_session_goes_to_sign_in_with_next(client):
    response = client.get("/admin/staff?q=an")
    assert response.status_code == 302
    # Built by url_for now, which leaves "/" unescaped in the query: compare what it means.
    location = urlsplit(response.headers["Location"])
    assert (location.path, parse_qs(location.query)) == ("/login", {"next": ["/admin/staff?q=an"]})


def test_password_only_session_is_sent_to_step_up(client, make_staff, sso_login):
    sso_login(make_staff("pwd.only", "admin"))  # acr urn:idp:acr:pwd
    response = client.get("/admin/clients")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert (location.path, parse_qs(location.query)) == (
        "/login", {"next": ["/admin/clients"], "mfa": ["1"]})


def test_staff_without_a_role_gets_403(client, sign_in_as):
    sign_in_as(None)
    response = client.get("/admin/", headers={"Accept": "text/html"})
    assert response.status_code == 403
    assert "Bạn không có quyền" in response.get_data(as_text=True)


@pytest.mark.parametrize("role,landing", [("admin", "/admin/dashboard"), ("auditor", "/admin/dashboard"),
                                          ("client-admin", "/admin/clients"), ("helpdesk", "/admin/staff")])
def test_landing_page_and_navigation_follow_the_role(client, sign_in_as, role, landing):
    sign_in_as(role)
    response = client.get("/admin/")
    assert response.status_code == 302 and response.headers["Location"] == landing
    page = client.get(landing + "?lang=en").get_data(as_text=True)
    nav = page.split('class="admin-nav"')[1].split("</nav>")[0]
    assert ("Clients" in nav) == (role in CLIENTS)
    assert ("Audit" in nav) == (role in AUDIT)
    assert ("Staff" in nav) == (role in STAFF_READ)


def test_console_posts_need_the_csrf_token(client, sign_in_as, confidential_client):
    sign_in_as("admin")
    response = client.post("/admin/clients/docs/enabled", data={"enabled": "0"})
    assert response.status_code == 400
    assert confidential_client.row.enabled


def test_console_pages_are_vietnamese_by_default_and_never_cached(client, sign_in_as):
    sign_in_as("admin")
    response = client.get("/admin/clients")
    body = response.get_data(as_text=True)
    assert '<html lang="vi">' in body and "Ứng dụng" in body
    assert response.headers["Cache-Control"] == "no-store"
