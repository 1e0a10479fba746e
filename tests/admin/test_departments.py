"""The department tree: create, rename, move (never under itself), MFA flag."""

from idp.extensions import db
from idp.models import OrgUnit
from idp.services import users


def _post(client, csrf, url, data):
    return client.post(url, data={**data, "csrf_token": csrf()})


def test_tree_create_rename_and_move(client, csrf, sign_in_as, department):
    sign_in_as("admin")
    assert _post(client, csrf, "/admin/departments",
                 {"code": "VP-TH", "name": "Phòng Tổng hợp", "parent": "VP", "mfa_required": "1"}).status_code == 302
    unit = users.get_department("VP-TH")
    assert unit.parent.code == "VP" and unit.mfa_required
    page = client.get("/admin/departments").get_data(as_text=True).split('<ul class="tree">')[1]
    assert page.index("Bộ Nội vụ") < page.index("Văn phòng Bộ") < page.index("Phòng Tổng hợp")
    assert 'class="depth-2"' in page
    users.create_department("VU-TC", "Vụ Tổ chức cán bộ", parent_code="BO")
    assert _post(client, csrf, "/admin/departments/VP-TH",
                 {"name": "Phòng Hành chính", "parent": "VU-TC"}).status_code == 302
    db.session.refresh(unit)
    assert unit.name == "Phòng Hành chính" and unit.parent.code == "VU-TC" and not unit.mfa_required


def test_a_unit_cannot_move_under_its_own_descendant(client, csrf, sign_in_as, department):
    sign_in_as("admin")
    users.create_department("VP-TH", "Phòng Tổng hợp", parent_code="VP")
    for parent in ("VP-TH", "BO"):
        response = _post(client, csrf, "/admin/departments/BO?lang=en", {"name": "Bộ", "parent": parent})
        assert response.status_code == 422
        assert "cannot be moved under itself or one of its own units" in response.get_data(as_text=True)
    assert db.session.query(OrgUnit).filter_by(code="BO").one().parent_id is None


def test_duplicate_code_is_a_field_error(client, csrf, sign_in_as, department):
    sign_in_as("admin")
    response = _post(client, csrf, "/admin/departments?lang=en", {"code": "VP", "name": "Trùng"})
    assert response.status_code == 422
    assert "A department with the code VP exists already." in response.get_data(as_text=True)
