"""Bulk import from the HR export: dry run with per-row errors, all or nothing, passwords once."""

import io

from idp.extensions import db
from idp.models import User
from idp.services import passwords, users

HEADER = "username,full_name,email,department_code,title,phone,employee_number\n"
GOOD = HEADER + (
    "lan.tran,Trần Thị Lan,lan.tran@example.gov.vn,VP,Chuyên viên,0901,NV-1001\n"
    "minh.le,Lê Quang Minh,minh.le@example.gov.vn,BO,Vụ trưởng,,NV-1002\n"
)


def _upload(client, csrf, content: bytes, action: str, output: str = "page", lang: str = "en"):
    return client.post(f"/admin/staff/import?lang={lang}", content_type="multipart/form-data", data={
        "file": (io.BytesIO(content), "staff.csv"), "action": action, "output": output,
        "csrf_token": csrf()})


def test_dry_run_lists_each_problem_with_row_and_field(client, csrf, sign_in_as, user):
    sign_in_as("admin")
    bad = HEADER + (
        "lan.tran,Trần Thị Lan,lan.tran@example.gov.vn,VP,,,\n"
        "an.nguyen,Trùng Tên,trung@example.gov.vn,VP,,,\n"
        "lan.tran,Trần Lan,khac@example.gov.vn,NOPE,,,\n"
        "hai,,not-an-email,,,,\n"
    )
    response = _upload(client, csrf, bad.encode(), "check")
    page = response.get_data(as_text=True)
    assert "5 problems found; nothing was imported." in page
    for row, field, message in [
        (3, "username", "This username is taken."),
        (4, "username", "This username appears twice in the file."),
        (4, "department_code", "No department has the code NOPE."),
        (5, "email", "This is not an email address."),
        (5, "full_name", "This field is required."),
    ]:
        assert f"<tr><td>{row}</td><td><code>{field}</code></td><td>{message}</td></tr>" in page
    assert db.session.query(User).filter_by(username="lan.tran").first() is None


def test_an_import_with_one_bad_row_writes_nothing(client, csrf, sign_in_as, department):
    sign_in_as("admin")
    before = db.session.query(User).count()
    response = _upload(client, csrf, (GOOD + "bad row,,x,,,,\n").encode(), "import")
    assert response.status_code == 422
    assert db.session.query(User).count() == before


def test_import_with_bom_shows_the_temporary_passwords_once(client, csrf, sign_in_as, department):
    sign_in_as("admin")
    check = _upload(client, csrf, GOOD.encode("utf-8-sig"), "check")
    assert "2 rows are ready to import." in check.get_data(as_text=True)
    response = _upload(client, csrf, GOOD.encode("utf-8-sig"), "import")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert "2 staff members imported" in page
    lan = users.get_user("lan.tran")
    temporary = page.split("<td>lan.tran</td><td>Trần Thị Lan</td><td><code>")[1].split("<")[0]
    assert passwords.verify_password(lan.password_hash, temporary) and lan.must_change_password
    assert lan.department.code == "VP" and lan.employee_number == "NV-1001"
    assert users.get_user("minh.le").department.code == "BO"


def test_import_can_download_the_passwords_as_csv(client, csrf, sign_in_as, department):
    sign_in_as("admin")
    response = _upload(client, csrf, GOOD.encode(), "import", output="csv")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == "attachment; filename=temporary-passwords.csv"
    lines = response.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0] == "username,full_name,temporary_password"
    username, _name, temporary = lines[1].split(",")
    assert passwords.verify_password(users.get_user(username).password_hash, temporary)


def test_a_file_that_is_not_utf8_or_lacks_columns_is_refused(client, csrf, sign_in_as, department):
    sign_in_as("admin")
    latin = _upload(client, csrf, "username,full_name,email\nb,Bình,b@x.vn\n".encode("utf-16"), "check")
    assert "The file is not UTF-8 text." in latin.get_data(as_text=True)
    header = _upload(client, csrf, b"user,name\nx,y\n", "check").get_data(as_text=True)
    assert "The header has no username column." in header and "The header has no email column." in header
