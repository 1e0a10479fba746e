"""Client applications in the console: register, validate, secrets, enable, delete, integrate."""

import pytest

from idp.extensions import db
from idp.models import AuditEvent, Client
from idp.services import clients
from idp.services.crypto import hash_secret

FORM = {
    "client_name": "Cổng dịch vụ công", "description": "Một cửa điện tử",
    "logo_uri": "https://motcua.example.gov.vn/logo.png", "owner_department": "VP",
    "client_type": "web", "redirect_uris": "https://motcua.example.gov.vn/cb\nhttp://127.0.0.1:5003/cb",
    "post_logout_redirect_uris": "https://motcua.example.gov.vn/",
    "backchannel_logout_uri": "https://motcua.example.gov.vn/bcl",
    "frontchannel_logout_uri": "https://motcua.example.gov.vn/fcl",
    "grant_types": ["authorization_code", "refresh_token"], "scope": "openid profile email roles",
    "id_token_signed_response_alg": "ES256", "access_token_ttl": "900", "refresh_token_ttl": "86400",
    "trusted": "1", "mfa_required": "1", "roles": "officer\napprover", "client_id": "onestop",
}


@pytest.fixture
def as_admin(sign_in_as, department):
    return sign_in_as("admin")


def _post(client, csrf, url, data):
    return client.post(url, data={**data, "csrf_token": csrf()})


def test_register_shows_the_secret_once_and_stores_its_hash(client, csrf, as_admin):
    response = _post(client, csrf, "/admin/clients/new", FORM)
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    secret = page.split('class="secret">')[1].split("<")[0]
    row = clients.get_client("onestop")
    assert row.secret_hash == hash_secret(secret) and secret not in (row.secret_hash or "")
    assert clients.check_secret(row, secret)
    assert row.redirect_uris == ["https://motcua.example.gov.vn/cb", "http://127.0.0.1:5003/cb"]
    assert (row.id_token_signed_response_alg, row.access_token_ttl, row.refresh_token_ttl) == ("ES256", 900, 86400)
    assert row.trusted and row.mfa_required and row.owner_department_id is not None
    assert sorted(r.name for r in row.roles) == ["approver", "officer"]
    # The client's page never shows it again.
    assert secret not in client.get("/admin/clients/onestop").get_data(as_text=True)
    event = db.session.query(AuditEvent).filter_by(event_type="client.created").one()
    assert (event.actor, event.client) == ("staff.admin", "onestop")


@pytest.mark.parametrize("field,value,message", [
    ("redirect_uris", "http://motcua.example.gov.vn/cb", "must use https"),
    ("redirect_uris", "https://motcua.example.gov.vn/cb#top", "must not have a fragment"),
    ("redirect_uris", "https://*.example.gov.vn/cb", "wildcards are not allowed"),
    ("redirect_uris", "", "At least one redirect URI is required"),
    ("post_logout_redirect_uris", "http://example.com/", "must use https"),
    ("backchannel_logout_uri", "https://x.example/#f", "must not have a fragment"),
    ("logo_uri", "javascript:alert(1)", "is not allowed"),
    ("client_name", "", "This field is required."),
    ("scope", "openid bad\"scope", "is not a valid scope"),
    ("access_token_ttl", "5", "Between 60 and 86400 seconds."),
    ("roles", "Bad Role", "not a valid role name"),
    ("owner_department", "NOPE", "No department has the code NOPE."),
    ("id_token_signed_response_alg", "HS256", "Choose RS256 or ES256."),
])
def test_invalid_fields_are_reported_beside_the_field(client, csrf, as_admin, field, value, message):
    response = _post(client, csrf, "/admin/clients/new?lang=en", {**FORM, field: value})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    error = page.split(f'id="e-{field}">')[1].split("</p>")[0]
    assert message in error.replace("&#34;", '"')
    assert db.session.query(Client).filter_by(client_id="onestop").first() is None


def test_errors_are_in_vietnamese_by_default(client, csrf, as_admin):
    page = _post(client, csrf, "/admin/clients/new", {**FORM, "client_name": ""}).get_data(as_text=True)
    assert "Trường này là bắt buộc." in page


def test_public_clients_have_no_secret(client, csrf, as_admin):
    data = {**FORM, "client_type": "spa", "client_id": "lich"}
    response = _post(client, csrf, "/admin/clients/new?lang=en", data)
    assert response.status_code == 201
    assert "public client" in response.get_data(as_text=True)
    row = clients.get_client("lich")
    assert row.secret_hash is None and row.token_endpoint_auth_method == "none"


def test_only_an_admin_may_grant_admin_scopes(client, csrf, sign_in_as, department):
    sign_in_as("client-admin")
    data = {"client_name": "Tự động", "client_type": "service", "grant_types": "client_credentials",
            "scope": "admin.staff", "client_id": "bot"}
    response = _post(client, csrf, "/admin/clients/new?lang=en", data)
    assert response.status_code == 422
    assert "Only an administrator may grant the admin.* scopes." in response.get_data(as_text=True)


def test_edit_applies_the_same_validation(client, csrf, as_admin, confidential_client):
    form = client.get("/admin/clients/docs/edit").get_data(as_text=True)
    assert "http://127.0.0.2:5001/callback" in form and 'value="Quản lý văn bản"' in form
    bad = _post(client, csrf, "/admin/clients/docs/edit?lang=en",
                {**FORM, "redirect_uris": "https://docs.example/*"})
    assert bad.status_code == 422 and "wildcards are not allowed" in bad.get_data(as_text=True)
    ok = _post(client, csrf, "/admin/clients/docs/edit",
               {**FORM, "client_name": "Văn bản", "roles": "clerk\nsecretary"})
    assert ok.status_code == 302
    row = clients.get_client("docs")
    assert row.name == "Văn bản" and row.redirect_uris[0] == "https://motcua.example.gov.vn/cb"
    assert sorted(r.name for r in row.roles) == ["clerk", "secretary"]
    assert row.client_type == "web"


def test_rotate_secret_with_a_grace_period(client, csrf, as_admin, confidential_client):
    old = confidential_client.client_secret
    response = _post(client, csrf, "/admin/clients/docs/rotate", {"grace_hours": "2"})
    assert response.status_code == 200
    new = response.get_data(as_text=True).split('class="secret">')[1].split("<")[0]
    row = clients.get_client("docs")
    assert clients.check_secret(row, new) and clients.check_secret(row, old)
    _post(client, csrf, "/admin/clients/docs/rotate", {"grace_hours": "0"})
    assert not clients.check_secret(clients.get_client("docs"), new)


def test_disable_and_enable(client, csrf, as_admin, confidential_client):
    assert _post(client, csrf, "/admin/clients/docs/enabled", {"enabled": "0"}).status_code == 302
    assert not clients.get_client("docs").enabled
    _post(client, csrf, "/admin/clients/docs/enabled", {"enabled": "1"})
    assert clients.get_client("docs").enabled


def test_delete_needs_the_client_id_typed(client, csrf, as_admin, confidential_client, user):
    user.roles = list(confidential_client.row.roles)
    db.session.commit()
    wrong = _post(client, csrf, "/admin/clients/docs/delete?lang=en", {"confirm": "doc"})
    assert wrong.status_code == 422 and "Type the client id exactly" in wrong.get_data(as_text=True)
    ok = _post(client, csrf, "/admin/clients/docs/delete", {"confirm": "docs"})
    assert ok.status_code == 302
    assert db.session.query(Client).filter_by(client_id="docs").first() is None
    db.session.refresh(user)
    assert user.roles == []
    assert client.get("/admin/clients/docs").status_code == 404


def test_client_page_has_integration_snippets(client, as_admin, confidential_client):
    page = client.get("/admin/clients/docs").get_data(as_text=True)
    issuer = "http://127.0.0.1:5000"
    assert f"{issuer}/.well-known/openid-configuration" in page
    assert "SSO_ISSUER=&#39;http://127.0.0.1:5000&#39;" in page and "SSO_CLIENT_ID=&#39;docs&#39;" in page
    assert "server_metadata_url=&#34;http://127.0.0.1:5000/.well-known/openid-configuration&#34;" in page
    assert "&#34;code_challenge_method&#34;: &#34;S256&#34;" in page
    assert "client.discovery(new URL(&#34;http://127.0.0.1:5000&#34;), &#34;docs&#34;" in page
    assert "issuer-uri: http://127.0.0.1:5000" in page and "client-id: docs" in page
    assert confidential_client.client_secret not in page
