"""Browser attacks: CSRF on every state-changing form, clickjacking, session fixation,
cookie flags, caching of anything with a token or a code, and the security headers
(RFC 9700 §4.16, OWASP ASVS 4 V3.2, V3.4, V3.5, V4.2.2, V14.4)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from idp.extensions import db
from tests.support.constants import PASSWORD
from tests.support.pages import csrf_token

# Endpoints that take POSTs from programs or other sites by design, and so carry no CSRF
# token: the protocol endpoints (authenticated by client credentials or bearer tokens),
# the authorization request itself, and RP-initiated logout (its confirmation form is
# checked: see test_end_session_confirmation_needs_csrf).
NOT_FORMS = ("/token", "/revoke", "/introspect", "/userinfo", "/register", "/api/",
             "/authorize", "/end_session")


def _form_routes(app) -> list[str]:
    rules = []
    for rule in app.url_map.iter_rules():
        if "POST" in rule.methods and not rule.rule.startswith(NOT_FORMS):
            rules.append(rule.rule)
    return sorted(rules)


def _fill(rule: str, ids: dict) -> str:
    path = rule
    for name, value in ids.items():
        path = path.replace(f"<{name}>", str(value)).replace(f"<int:{name}>", str(value))
    assert "<" not in path, f"no value for a parameter of {rule}"
    return path


def _snapshot() -> dict:
    """Every row of every table (minus last-seen times, which reading a session touches)."""
    rows = {}
    with db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            columns = [c.name for c in table.columns if c.name not in {"last_seen_at"}]
            query = text(f'SELECT {", ".join(columns)} FROM "{table.name}" ORDER BY 1')
            rows[table.name] = [tuple(map(str, row)) for row in conn.execute(query)]
    return rows


@pytest.fixture
def signed_in_admin(app, client, admin_user, confidential_client, sso_login):
    from idp.sso import ACR_MFA

    session = sso_login(admin_user, amr=("pwd", "otp"), acr=ACR_MFA)
    return {"client_id": "docs", "user_id": admin_user.id, "code": "VP", "sid": session.sid,
            "token_id": 1}


def test_the_form_list_is_not_empty(app):
    """The CSRF tests below walk this list; it must hold the sign-in, account and admin forms."""
    forms = _form_routes(app)
    for expected in ("/login", "/login/otp", "/password/reset", "/account/password",
                     "/admin/staff/new", "/authorize/consent"):
        assert expected in forms or expected.startswith("/authorize"), forms
    assert len(forms) >= 20


@pytest.mark.parametrize("token", [None, "wrong", ""], ids=["missing", "wrong", "empty"])
def test_every_form_refuses_a_post_without_the_right_csrf_token(app, client, signed_in_admin,
                                                                token):
    """ASVS 4.2.2 / RFC 9700 §4.7: a cross-site POST is refused and changes nothing."""
    client.get("/login")  # the browser has a CSRF session, only the attacker lacks the token
    for rule in _form_routes(app) + ["/authorize/consent"]:
        before = _snapshot()
        data = {"username": "an.nguyen", "password": PASSWORD, "decision": "allow",
                "name": "Hacked", "full_name": "Hacked"}
        if token is not None:
            data["csrf_token"] = token
        response = client.post(_fill(rule, signed_in_admin), data=data)
        assert response.status_code == 400, (rule, response.status_code)
        assert response.mimetype == "text/html", rule
        assert "CSRF" in response.get_data(as_text=True) or "csrf" in \
            response.get_data(as_text=True).lower(), rule
        assert _snapshot() == before, f"{rule} changed the database without a CSRF token"


def test_end_session_confirmation_needs_csrf(app, client, user, sso_login):
    session = sso_login(user)
    response = client.post("/end_session", data={"confirm": "yes"})
    assert response.status_code == 400
    db.session.expire_all()
    from idp.models import SsoSession

    assert db.session.get(SsoSession, session.id).ended_at is None


# --- clickjacking and headers --------------------------------------------------------------

PAGES = ["/login", "/password/forgot", "/account", "/admin/", "/end_session",
         "/authorize?client_id=nope", "/no-such-page", "/.well-known/openid-configuration",
         "/jwks"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_forbids_framing_and_sniffing(client, path):
    response = client.get(path)
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp  # RFC 9700 §4.16
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"  # RFC 9700 §4.2.4
    assert "Strict-Transport-Security" not in response.headers  # plain-http development issuer


@pytest.mark.preset("https")
@pytest.mark.parametrize("path", PAGES)
def test_https_issuer_sends_hsts(client, path):
    response = client.get(path, base_url="https://idp.example.gov.vn")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


# --- cookies and session fixation ------------------------------------------------------------


def _sign_in(client, base_url: str = "http://localhost"):
    page = client.get("/login", base_url=base_url)
    headers = {}
    if page.headers["Referrer-Policy"] in ("same-origin", "strict-origin", "origin"):
        headers["Referer"] = f"{base_url}/login"  # what a browser sends under that policy
    return client.post("/login", base_url=base_url, headers=headers, data={
        "username": "an.nguyen", "password": PASSWORD,
        "csrf_token": csrf_token(page.get_data(as_text=True))})


def _set_cookie_header(response, name: str) -> str:
    headers = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(name + "=")]
    assert headers, response.headers.getlist("Set-Cookie")
    return headers[-1]


def test_sso_cookie_flags_on_plain_http_development(app, client, user):
    response = _sign_in(client)
    header = _set_cookie_header(response, "idp_session")
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Path=/" in header
    assert "Domain" not in header


@pytest.mark.preset("https")
def test_sso_cookie_is_host_prefixed_and_secure_with_an_https_issuer(app, client, user):
    """Also: over https, Flask-WTF wants a same-origin Referer on form POSTs; the browser's
    Referrer-Policy must let it through (a no-referrer policy made every sign-in fail)."""
    response = _sign_in(client, "https://idp.example.gov.vn")
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    header = _set_cookie_header(response, "__Host-idp_session")
    for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert flag in header
    assert "Domain" not in header  # RFC 6265bis §4.1.3.2: the __Host- prefix forbids it
    flash = [h for h in response.headers.getlist("Set-Cookie") if "idp_flash" in h]
    assert all(h.startswith("__Host-idp_flash=") and "Secure" in h and "HttpOnly" in h
               for h in flash)


def test_a_planted_cookie_value_is_not_adopted(app, client, user):
    """Session fixation (ASVS 3.2.1): sign-in issues a new id; the planted one stays worthless.
    (tests/auth/test_auth_login.py::test_session_id_changes_at_every_sign_in covers a live one.)"""
    from idp.services import sessions

    planted = "attacker-chosen-value-0123456789abcdef"
    client.set_cookie("idp_session", planted, domain="localhost")
    response = _sign_in(client)
    assert response.status_code == 302
    issued = client.get_cookie("idp_session").value
    assert issued != planted
    assert sessions.find_session(planted) is None
    assert sessions.find_session(issued).user_id == user.id


def test_an_attackers_live_session_cookie_is_replaced_at_sign_in(app, client, user, admin_user):
    """The attacker plants a cookie of their own live session; the victim signs in: the victim
    gets a new id, and the attacker's id does not become the victim's session."""
    from idp.services import sessions

    _attacker_session, planted = sessions.create_session(admin_user, amr=["pwd"], acr=None)
    client.set_cookie("idp_session", planted, domain="localhost")
    _sign_in(client)
    issued = client.get_cookie("idp_session").value
    assert issued != planted
    found = sessions.find_session(planted)
    assert found is None or found.user_id == admin_user.id
    assert sessions.find_session(issued).user_id == user.id


# --- caching of tokens and codes -------------------------------------------------------------


def test_nothing_with_a_code_or_token_is_cached(client, flow, confidential_client):
    """RFC 6749 §5.1, OIDC Core §3.1.3.3: no-store on token responses; the redirect with a
    code and the login page too (ASVS 8.2.1)."""
    response, verifier = flow.start()
    assert response.status_code == 302 and "code=" in response.headers["Location"]
    assert "no-store" in response.headers["Cache-Control"]
    from tests.support.urls import query

    code = query(response.headers["Location"])["code"]
    token = client.post("/token", data=flow.token_form(code, verifier), **flow.auth())
    assert token.status_code == 200 and "no-store" in token.headers["Cache-Control"]
    access = token.get_json()["access_token"]
    info = client.get("/userinfo", headers={"Authorization": f"Bearer {access}"})
    assert info.status_code == 200 and "no-store" in info.headers.get("Cache-Control", "")
    introspect = client.post("/introspect", data={"token": access}, **flow.auth())
    assert introspect.get_json()["active"] is True
    assert "no-store" in introspect.headers["Cache-Control"]
    again = client.post("/token", data=flow.token_form(code, verifier), **flow.auth())
    assert again.status_code == 400 and "no-store" in again.headers["Cache-Control"]
    posted = flow.start(response_mode="form_post")[0]
    assert posted.status_code == 200 and "no-store" in posted.headers["Cache-Control"]
    assert "no-store" in client.get("/login").headers["Cache-Control"]


def test_admin_api_secret_is_not_cached(client, admin_api_token):
    response = client.post("/api/admin/clients", json={
        "client_name": "Cổng dịch vụ công", "client_type": "web",
        "redirect_uris": ["https://dvc.example.gov.vn/cb"]},
        headers={"Authorization": f"Bearer {admin_api_token}"})
    assert response.status_code == 201, response.get_json()
    assert "client_secret" in response.get_json()
    assert "no-store" in response.headers["Cache-Control"]
