"""Staff in the console: create, edit, support actions, roles, search and pagination."""

from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from idp.extensions import db
from idp.models import (AuditEvent, RecoveryCode, SsoSession, ThrottleCounter, TotpCredential, User,
                        utcnow)
from idp.services import passwords, users
from idp.services.crypto import encrypt


def _post(client, csrf, url, data=None):
    return client.post(url, data={**(data or {}), "csrf_token": csrf()})


def _secret(page: str) -> str:
    return page.split('class="secret">')[1].split("<")[0]


def test_create_shows_a_temporary_password_once(client, csrf, sign_in_as, department):
    sign_in_as("admin")
    response = _post(client, csrf, "/admin/staff/new", {
        "username": "Hoa.Pham", "full_name": "Phạm Thị Hoa", "email": "hoa.pham@example.gov.vn",
        "title": "Chuyên viên", "phone": "0912 345 678", "employee_number": "NV-0420",
        "department": "VP"})
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"
    temporary = _secret(response.get_data(as_text=True))
    created = users.get_user("hoa.pham")
    assert passwords.verify_password(created.password_hash, temporary)
    assert created.must_change_password and created.department.code == "VP"
    assert created.employee_number == "NV-0420"
    assert temporary not in client.get(f"/admin/staff/{created.id}").get_data(as_text=True)


@pytest.mark.parametrize("field,value,message", [
    ("username", "an.nguyen", "This username is taken."),
    ("username", "x", "2 to 64 lower-case letters"),
    ("email", "not-an-email", "is not an email address"),
    ("email", "an.nguyen@example.gov.vn", "Another staff member has this email."),
    ("full_name", "", "This field is required."),
    ("department", "NOPE", "No department has the code NOPE."),
])
def test_create_reports_field_errors(client, csrf, sign_in_as, user, field, value, message):
    sign_in_as("admin")
    data = {"username": "moi", "full_name": "Người Mới", "email": "moi@example.gov.vn", field: value}
    response = _post(client, csrf, "/admin/staff/new?lang=en", data)
    assert response.status_code == 422
    error = response.get_data(as_text=True).split(f'id="e-{field}">')[1].split("</p>")[0]
    assert message in error


def test_edit_profile_and_department(client, csrf, sign_in_as, user, department):
    sign_in_as("admin")
    response = _post(client, csrf, f"/admin/staff/{user.id}/edit", {
        "full_name": "Nguyễn Văn An", "email": "an.nv@example.gov.vn", "title": "Phó phòng",
        "phone": "", "employee_number": "NV-0001", "department": "BO"})
    assert response.status_code == 302
    db.session.refresh(user)
    assert (user.email, user.title, user.department.code) == ("an.nv@example.gov.vn", "Phó phòng", "BO")
    event = db.session.execute(select(AuditEvent).where(AuditEvent.event_type == "user.updated")).scalar_one()
    assert event.subject == "an.nguyen" and event.actor == "staff.admin"
    assert set(event.details["fields"]) == {"email", "title", "phone", "department_id"}


def test_disable_ends_sessions_and_enable(client, csrf, sign_in_as, user, sso_login, app):
    from idp.services import sessions

    other, _ = sessions.create_session(user, amr=["pwd"], acr=None)
    sign_in_as("admin")
    assert _post(client, csrf, f"/admin/staff/{user.id}/enabled", {"enabled": "0"}).status_code == 302
    db.session.refresh(user)
    db.session.refresh(other)
    assert user.status == "disabled" and other.end_reason == "disabled"  # the same from console, API and CLI
    _post(client, csrf, f"/admin/staff/{user.id}/enabled", {"enabled": "1"})
    db.session.refresh(user)
    assert user.status == "active"


def test_an_admin_cannot_disable_themself(client, csrf, sign_in_as):
    me = sign_in_as("admin")
    response = _post(client, csrf, f"/admin/staff/{me.id}/enabled", {"enabled": "0"})
    assert response.status_code == 403
    db.session.refresh(me)
    assert me.status == "active"


def test_unlock_clears_the_lock_and_the_counter(client, csrf, sign_in_as, user):
    user.locked_until = utcnow() + timedelta(minutes=10)
    user.failed_logins = 5
    db.session.add(ThrottleCounter(key=f"user:{user.id}", failures=5,
                                   locked_until=user.locked_until))
    db.session.commit()
    sign_in_as("helpdesk")
    listing = client.get("/admin/staff?q=an.nguyen&lang=en").get_data(as_text=True)
    assert "Locked" in listing
    assert _post(client, csrf, f"/admin/staff/{user.id}/unlock").status_code == 302
    db.session.expire_all()
    assert user.locked_until is None and user.failed_logins == 0
    counter = db.session.get(ThrottleCounter, f"user:{user.id}")
    assert counter is None or (counter.failures == 0 and counter.locked_until is None)
    event = db.session.execute(select(AuditEvent).where(AuditEvent.event_type == "account.unlock")).scalar_one()
    assert event.actor == "staff.helpdesk" and event.subject == "an.nguyen"


def test_reset_password_gives_a_temporary_one(client, csrf, sign_in_as, user):
    sign_in_as("helpdesk")
    response = _post(client, csrf, f"/admin/staff/{user.id}/reset-password")
    assert response.status_code == 200
    temporary = _secret(response.get_data(as_text=True))
    db.session.refresh(user)
    assert passwords.verify_password(user.password_hash, temporary) and user.must_change_password


def test_reset_mfa_removes_totp_and_recovery_codes(client, csrf, sign_in_as, user):
    db.session.add(TotpCredential(user_id=user.id, secret_encrypted=encrypt("JBSWY3DPEHPK3PXP"),
                                  confirmed_at=utcnow()))
    db.session.add(RecoveryCode(user_id=user.id, code_hash="x" * 64))
    db.session.commit()
    sign_in_as("helpdesk")
    assert "Đã thiết lập" in client.get(f"/admin/staff/{user.id}").get_data(as_text=True)
    assert _post(client, csrf, f"/admin/staff/{user.id}/reset-mfa").status_code == 302
    assert db.session.query(TotpCredential).filter_by(user_id=user.id).count() == 0
    assert db.session.query(RecoveryCode).filter_by(user_id=user.id).count() == 0


def test_end_all_sessions(client, csrf, sign_in_as, user):
    from idp.services import sessions

    for _ in range(2):
        sessions.create_session(user, amr=["pwd"], acr=None)
    sign_in_as("helpdesk")
    response = _post(client, csrf, f"/admin/staff/{user.id}/end-sessions")
    assert response.status_code == 302
    live = db.session.query(SsoSession).filter_by(user_id=user.id, ended_at=None).count()
    assert live == 0
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Đã kết thúc 2 phiên đăng nhập." in page


@pytest.mark.parametrize("action", ["unlock", "reset-password", "reset-mfa", "end-sessions"])
def test_helpdesk_cannot_take_over_a_privileged_account(client, csrf, sign_in_as, admin_user, action):
    sign_in_as("helpdesk")
    response = _post(client, csrf, f"/admin/staff/{admin_user.id}/{action}")
    assert response.status_code == 403


def test_assign_global_and_client_roles(client, csrf, sign_in_as, user, confidential_client):
    sign_in_as("admin")
    leader = next(r for r in confidential_client.row.roles if r.name == "leader")
    client.post(f"/admin/staff/{user.id}/roles",
                data={"roles": ["auditor"], "client_roles": [str(leader.id)], "csrf_token": csrf()})
    db.session.refresh(user)
    assert user.global_roles() == ["auditor"]
    assert user.client_roles(confidential_client.row.id) == ["leader"]
    event = db.session.execute(select(AuditEvent).where(AuditEvent.event_type == "user.roles_changed")).scalar_one()
    assert event.details["after"] == ["auditor", "docs:leader"]


def test_an_admin_cannot_drop_their_own_admin_role(client, csrf, sign_in_as):
    me = sign_in_as("admin")
    response = client.post(f"/admin/staff/{me.id}/roles", data={"roles": ["auditor"], "csrf_token": csrf()})
    assert response.status_code == 403
    db.session.refresh(me)
    assert me.global_roles() == ["admin"]


def _bulk_users(department_id: int, count: int) -> None:
    rows = [{"sub": f"sub-{n:05d}", "username": f"nv{n:05d}", "email": f"nv{n:05d}@example.gov.vn",
             "full_name": f"Cán Bộ Số {n:05d}", "given_name": "", "family_name": "", "title": "",
             "phone": "", "employee_number": f"E{n:05d}", "locale": "vi", "status": "active",
             "department_id": department_id, "must_change_password": False, "failed_logins": 0,
             "created_at": utcnow(), "updated_at": utcnow()} for n in range(count)]
    db.session.execute(insert(User), rows)
    db.session.commit()


def test_search_and_pagination_over_ten_thousand_staff(client, sign_in_as, department):
    _bulk_users(department.id, 10_000)
    sign_in_as("helpdesk")
    first = client.get("/admin/staff?lang=en").get_data(as_text=True)
    assert "10001 staff members found." in first  # and the helpdesk account itself
    assert "Page 1 of 201" in first and 'rel="next" href="/admin/staff?lang=en&amp;page=2"' in first
    assert first.count('href="/admin/staff/') == 50
    last = client.get("/admin/staff?page=201&lang=en").get_data(as_text=True)
    assert "Page 201 of 201" in last and 'rel="prev"' in last and 'rel="next"' not in last
    assert "staff.helpdesk" in last and last.count('href="/admin/staff/') == 1  # sorted by username
    assert "nv09999" in client.get("/admin/staff?page=200&lang=en").get_data(as_text=True)
    found = client.get("/admin/staff?q=E00424&lang=en").get_data(as_text=True)
    assert "1 staff members found." in found and "nv00424" in found
    by_name = client.get("/admin/staff?q=s%E1%BB%91+00777&lang=en").get_data(as_text=True)
    assert "nv00777" in by_name and "1 staff members found." in by_name
    by_prefix = client.get("/admin/staff?q=nv001&page=2&lang=en").get_data(as_text=True)
    assert "100 staff members found." in by_prefix and "Page 2 of 2" in by_prefix and "nv00150" in by_prefix


def test_the_list_query_is_limited(app, department):
    """The page reads one page of rows (LIMIT/OFFSET), never the whole table."""
    from sqlalchemy import event

    from idp.services import admin_users

    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        admin_users.search("", page=3, per_page=50)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    selects = [s for s in statements if "FROM users" in s and "count(" not in s.lower()]
    assert selects and all("LIMIT" in s and "OFFSET" in s for s in selects)
