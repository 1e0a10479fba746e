"""Red-team findings on the token side (issue 11): each test performs the attack as the
finding describes it and asserts what the attacker now sees.

2  consent bypass through ``claims``; 5 codes of ended sessions and session-less tokens;
7  tokens of disabled clients; 16 /token naming client ids and methods; 17 assertions
from the future; 20 audit of failed client authentication and PKCE for confidential
clients; non-UTF-8 Basic credentials (500s); strict refresh-token reuse by default.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from datetime import timedelta

import pytest
from flask import current_app
from joserfc import jwt

from idp.extensions import db
from idp.models import AuditEvent, AuthorizationCode, Token
from tests.support.clients import register
from tests.support.constants import PASSWORD
from tests.support.flow import decode_jwt
from tests.support.flow import Flow
from tests.support.pages import csrf_token
from tests.support.urls import query

NEW_PASSWORD = "Mùa thu Hà Nội 1954!"
GENERIC = {"error": "invalid_client", "error_description": "Client authentication failed."}
ENDED = {"error": "invalid_grant",
         "error_description": "The sign-in session of this authorization code has ended."}
TICKET_RE = re.compile(r'name="ticket" value="([^"]+)"')


def _redeem(flow: Flow, code: str, verifier: str):
    return flow.client.post("/token", data=flow.token_form(code, verifier), **flow.auth())


def _introspect(flow: Flow, token: str) -> dict:
    response = flow.client.post("/introspect", data={"token": token}, **flow.auth())
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _userinfo(client, access_token: str):
    return client.get("/userinfo", headers={"Authorization": f"Bearer {access_token}"})


def _basic_raw(raw: bytes) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(raw).decode("ascii")}


def _failures() -> list[AuditEvent]:
    return AuditEvent.query.filter_by(event_type="client.auth_failed").order_by(AuditEvent.id).all()


# --- 2. consent bypass through claims ---------------------------------------------------

CLAIMS_ATTACK = json.dumps({
    "id_token": {"email": None, "phone_number": None, "name": None, "employee_number": None,
                 "title": None},
    "userinfo": {"email": None},
})
PERSONAL = {"email", "email_verified", "phone_number", "name", "employee_number", "title",
            "given_name", "family_name", "preferred_username"}


@pytest.fixture
def portal(client, user, sso_login) -> Flow:
    """A non-trusted confidential client registered for every personal scope."""
    sso_login(user)
    rp = register("Cổng dịch vụ công", client_type="web", client_id="portal",
                   redirect_uris=["https://portal.example/cb"],
                   scope="openid profile email phone", trusted=False)
    return Flow.broad(client, rp)


def test_claims_request_releases_nothing_the_consent_page_did_not_list(portal, user):
    response, verifier = portal.start(scope="openid", claims=CLAIMS_ATTACK)
    assert response.status_code == 200  # the consent page
    page = response.get_data(as_text=True)
    listed = re.findall(r"<li>(.*?)</li>", page.split('<ul class="scopes">')[1].split("</ul>")[0])
    assert listed == ["Biết bạn là ai (mã định danh tài khoản của bạn)"]
    allowed = portal.client.post("/authorize/consent", data={
        "csrf_token": csrf_token(page), "ticket": TICKET_RE.search(page).group(1),
        "decision": "allow"})
    code = query(allowed.headers["Location"])["code"]
    body = _redeem(portal, code, verifier).get_json()
    _, id_claims = decode_jwt(body["id_token"])
    assert not PERSONAL & set(id_claims), id_claims
    info = _userinfo(portal.client, body["access_token"])
    assert info.status_code == 200 and info.get_json() == {"sub": user.sub}


def test_prompt_none_with_remembered_openid_consent_releases_nothing_more(portal, user):
    from idp.services import consent

    consent.grant_consent(user, portal.rp.row, ["openid"])
    response, verifier = portal.start(scope="openid", claims=CLAIMS_ATTACK, prompt="none")
    assert response.status_code == 302  # no page at all, as prompt=none requires
    body = _redeem(portal, query(response.headers["Location"])["code"], verifier).get_json()
    _, id_claims = decode_jwt(body["id_token"])
    assert not PERSONAL & set(id_claims), id_claims
    assert _userinfo(portal.client, body["access_token"]).get_json() == {"sub": user.sub}


def test_claims_of_a_granted_scope_are_still_released_by_name(portal, user):
    """OIDC Core §5.5 keeps working within what the user allowed (profile here)."""
    from idp.services import consent

    consent.grant_consent(user, portal.rp.row, ["openid", "profile"])
    response, verifier = portal.start(scope="openid profile", claims=CLAIMS_ATTACK,
                                          prompt="none")
    body = _redeem(portal, query(response.headers["Location"])["code"], verifier).get_json()
    _, id_claims = decode_jwt(body["id_token"])
    assert id_claims["name"] == "Nguyễn Văn An" and id_claims["title"] == "Chuyên viên"
    assert "email" not in id_claims and "phone_number" not in id_claims


# --- 5. codes of ended sessions; tokens of no session ------------------------------------


def _rp_logout(client) -> None:
    page = client.get("/end_session").get_data(as_text=True)
    done = client.post("/end_session", data={"confirm": "yes", "csrf_token": csrf_token(page)})
    assert done.status_code == 200, done.get_data(as_text=True)[:300]  # no redirect URI was asked


def _sign_out_everywhere(client) -> None:
    page = client.get("/account/sessions").get_data(as_text=True)
    done = client.post("/account/sessions/end-all", data={"csrf_token": csrf_token(page)})
    assert done.status_code == 302


def _session_timed_out(client) -> None:
    from idp.models import SsoSession

    for row in SsoSession.query.all():
        row.last_seen_at -= timedelta(seconds=current_app.config["SESSION_IDLE_TIMEOUT"] + 1)
    db.session.commit()


def _session_expired(client) -> None:
    from idp.models import SsoSession

    for row in SsoSession.query.all():
        row.expires_at = row.created_at
    db.session.commit()


def _password_reset(client) -> None:
    from idp.models import PasswordResetToken, User, utcnow
    from idp.services.crypto import hash_secret

    user = User.query.filter_by(username="an.nguyen").one()
    db.session.add(PasswordResetToken(token_hash=hash_secret("reset-link-token"), user_id=user.id,
                                      created_at=utcnow(),
                                      expires_at=utcnow() + timedelta(minutes=30)))
    db.session.commit()
    page = client.get("/password/reset?token=reset-link-token").get_data(as_text=True)
    done = client.post("/password/reset", data={
        "token": "reset-link-token", "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD, "csrf_token": csrf_token(page)})
    assert done.status_code == 200, done.get_data(as_text=True)[:300]


def _admin_ends_sessions(client, admin_api_token: str) -> None:
    done = client.post("/api/admin/users/an.nguyen/end-sessions",
                       headers={"Authorization": f"Bearer {admin_api_token}"})
    assert done.status_code == 200, done.get_json()


@pytest.mark.parametrize("end", [_rp_logout, _sign_out_everywhere, _session_timed_out,
                                 _session_expired, _password_reset, "admin"])
def test_code_of_an_ended_session_is_invalid_grant(flow, admin_api_token, end):
    code, verifier = flow.code()
    if end == "admin":
        _admin_ends_sessions(flow.client, admin_api_token)
    else:
        end(flow.client)
    response = _redeem(flow, code, verifier)
    assert response.status_code == 400
    assert response.get_json() == ENDED
    assert Token.query.filter_by(client_id=flow.rp.row.id).count() == 0  # nothing was issued


def test_ending_a_session_spends_its_unused_codes(flow):
    code, _verifier = flow.code()
    _rp_logout(flow.client)
    from idp.services import codes

    assert codes.find_code(code).used_at is not None


def test_a_redeemed_code_gives_tokens_bound_to_the_session(flow, user):
    from idp.models import SsoSession

    tokens = flow.tokens()
    session = SsoSession.query.one()
    _, id_claims = decode_jwt(tokens["id_token"])
    assert id_claims["sid"] == session.sid
    assert {row.session_id for row in Token.query.all()} == {session.id}


def test_refresh_token_of_no_session_is_refused(flow):
    """A token left by the old behaviour (no session) no longer rotates for 30 days."""
    tokens = flow.tokens()
    Token.query.update({Token.session_id: None})
    db.session.commit()
    response = flow.refresh(tokens["refresh_token"])
    assert response.status_code == 400
    assert response.get_json() == {
        "error": "invalid_grant",
        "error_description": "The sign-in session of this refresh token has ended."}


def _change_password(client) -> None:
    page = client.get("/account/password").get_data(as_text=True)
    done = client.post("/account/password", data={
        "current_password": PASSWORD, "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD, "csrf_token": csrf_token(page)})
    assert done.status_code == 302, done.get_data(as_text=True)[:300]


def _admin_resets_password(client, token: str) -> None:
    done = client.post("/api/admin/users/an.nguyen/reset-password",
                       headers={"Authorization": f"Bearer {token}"})
    assert done.status_code == 200, done.get_json()


def _admin_resets_mfa(client, token: str) -> None:
    done = client.post("/api/admin/users/an.nguyen/reset-mfa",
                       headers={"Authorization": f"Bearer {token}"})
    assert done.status_code == 200, done.get_json()


def _cli_sets_password(runner) -> None:
    result = runner.invoke(["user", "set-password", "an.nguyen", "--password", NEW_PASSWORD])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("change", ["account", "admin-password", "admin-mfa", "cli"])
def test_tokens_die_with_the_password_or_second_factor(flow, admin_api_token, runner, change):
    tokens = flow.tokens()
    if change == "account":
        _change_password(flow.client)  # this browser's session is kept, its tokens are not
    elif change == "admin-password":
        _admin_resets_password(flow.client, admin_api_token)
    elif change == "admin-mfa":
        _admin_resets_mfa(flow.client, admin_api_token)
    else:
        _cli_sets_password(runner)
    response = flow.refresh(tokens["refresh_token"])
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"
    assert _introspect(flow, tokens["access_token"]) == {"active": False}
    assert _introspect(flow, tokens["refresh_token"]) == {"active": False}
    info = _userinfo(flow.client, tokens["access_token"])
    assert info.status_code == 401 and 'error="invalid_token"' in info.headers["WWW-Authenticate"]


# --- 7. tokens of a disabled client -------------------------------------------------------


@pytest.fixture
def hr_sync(client):
    """The HR sync integration: a service client holding admin.staff."""
    return register("Đồng bộ nhân sự", client_type="service", client_id="hr-sync",
                     scope="admin.staff")


def _service_token(client, rp) -> str:
    response = client.post("/token", data={"grant_type": "client_credentials"},
                           auth=(rp.client_id, rp.client_secret))
    assert response.status_code == 200, response.get_json()
    return response.get_json()["access_token"]


def _admin_sets_enabled(client, admin_api_token: str, client_id: str, enabled: bool) -> None:
    done = client.patch(f"/api/admin/clients/{client_id}", json={"enabled": enabled},
                        headers={"Authorization": f"Bearer {admin_api_token}"})
    assert done.status_code == 200, done.get_json()


def test_disabled_service_clients_token_no_longer_reads_the_admin_api(client, hr_sync,
                                                                       admin_api_token, user):
    token = _service_token(client, hr_sync)
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/admin/users", headers=bearer).status_code == 200
    _admin_sets_enabled(client, admin_api_token, "hr-sync", False)
    response = client.get("/api/admin/users", headers=bearer)
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="idp", error="invalid_token", '
        'error_description="The access token was revoked."')
    _admin_sets_enabled(client, admin_api_token, "hr-sync", True)  # revoked for good
    assert client.get("/api/admin/users", headers=bearer).status_code == 401


def test_a_client_disabled_without_revocation_is_still_refused(client, hr_sync):
    """The enabled check is at the one place tokens are verified, whatever disabled it."""
    token = _service_token(client, hr_sync)
    hr_sync.row.enabled = False
    db.session.commit()
    response = client.get("/api/admin/users", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and response.get_json()["error"] == "invalid_token"
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="idp", error="invalid_token", '
        'error_description="The access token was revoked."')


def test_user_tokens_of_a_disabled_client(flow, admin_api_token):
    tokens = flow.tokens()
    _admin_sets_enabled(flow.client, admin_api_token, "docs", False)
    info = _userinfo(flow.client, tokens["access_token"])
    assert info.status_code == 401
    assert info.get_json()["error"] == "invalid_token"
    assert info.headers["WWW-Authenticate"].startswith('Bearer realm="idp", error="invalid_token"')
    refresh = flow.refresh(tokens["refresh_token"])  # the client cannot even authenticate
    assert (refresh.status_code, refresh.get_json()) == (401, GENERIC)
    assert refresh.headers["WWW-Authenticate"] == 'Basic realm="idp", error="invalid_client"'
    _admin_sets_enabled(flow.client, admin_api_token, "docs", True)
    assert _introspect(flow, tokens["access_token"]) == {"active": False}
    assert _introspect(flow, tokens["refresh_token"]) == {"active": False}
    refresh = flow.refresh(tokens["refresh_token"])
    assert (refresh.status_code, refresh.get_json()["error"]) == (400, "invalid_grant")


def test_userinfo_refuses_a_disabled_clients_token_even_unrevoked(flow):
    tokens = flow.tokens()
    flow.rp.row.enabled = False
    db.session.commit()
    info = _userinfo(flow.client, tokens["access_token"])
    assert info.status_code == 401 and info.get_json()["error"] == "invalid_token"


# --- 16 and 20: one answer for every client authentication failure, audited ---------------


def _token_attempt(client, **kwargs):
    return client.post("/token", data={"grant_type": "refresh_token", "refresh_token": "x",
                                       **kwargs.pop("data", {})}, **kwargs)


@pytest.fixture
def mail_client(app):
    return register("Thư điện tử", client_type="web", client_id="mail",
                     redirect_uris=["https://mail.example/cb"], auth_method="client_secret_post")


def test_basic_failures_give_byte_identical_answers(client, confidential_client, mail_client):
    answers = [
        _token_attempt(client, auth=("nobody", "x")),  # unknown client
        _token_attempt(client, auth=("docs", "wrong")),  # wrong secret
        _token_attempt(client, auth=("mail", mail_client.client_secret)),  # wrong method
    ]
    assert {a.status_code for a in answers} == {401}
    assert len({a.get_data() for a in answers}) == 1
    assert answers[0].get_json() == GENERIC
    assert {a.headers["WWW-Authenticate"] for a in answers} == {
        'Basic realm="idp", error="invalid_client"'}


def test_form_failures_give_byte_identical_answers(client, confidential_client, mail_client):
    answers = [
        _token_attempt(client, data={"client_id": "nobody", "client_secret": "x"}),
        _token_attempt(client, data={"client_id": "mail", "client_secret": "wrong"}),
        _token_attempt(client, data={"client_id": "docs",
                                     "client_secret": confidential_client.client_secret}),
    ]
    assert {a.status_code for a in answers} == {400}
    assert len({a.get_data() for a in answers}) == 1
    assert answers[0].get_json() == GENERIC
    assert b"client_secret_basic" not in answers[2].get_data()


def test_each_failure_is_audited_with_the_reason_and_no_secret(client, confidential_client):
    _token_attempt(client, auth=("nobody", "s3cret-guess"))
    _token_attempt(client, auth=("docs", "another-guess"))
    _token_attempt(client, data={"client_id": "docs\x00evil", "client_secret": "x"})
    events = _failures()
    assert [(e.actor, e.outcome, e.details["reason"]) for e in events] == [
        ("nobody", "failure", "No such client."),
        ("docs", "failure", "Wrong client secret."),
        ("docs\ufffdevil", "failure", "No such client."),
    ]
    assert events[0].details["endpoint"] == "token"
    stored = json.dumps([[e.actor, e.client, e.details] for e in events])
    assert "guess" not in stored


# --- hostile input: Basic credentials that are not UTF-8 --------------------------------

HOSTILE = [b"d\xf6cs:b\xe9", b"\xff\xfe:\x80\x81", b"docs%ff:x", b"docs:%c3"]


@pytest.mark.parametrize("endpoint", ["/token", "/introspect", "/revoke"])
@pytest.mark.parametrize("raw", HOSTILE)
def test_non_utf8_basic_credentials_are_invalid_client(client, confidential_client, endpoint,
                                                        raw):
    response = client.post(endpoint, data={"grant_type": "refresh_token", "refresh_token": "x",
                                           "token": "x"}, headers=_basic_raw(raw))
    assert response.status_code == 401
    assert response.get_json() == GENERIC
    assert response.headers["WWW-Authenticate"] == 'Basic realm="idp", error="invalid_client"'
    assert _failures()[-1].details["endpoint"] in {"token", "introspection", "revocation"}


# --- 17. private_key_jwt assertions from the future -------------------------------------


def _assertion(key, **overrides) -> str:
    now = int(time.time())
    claims = {"iss": "one-stop", "sub": "one-stop", "aud": "http://127.0.0.1:5000/token",
              "iat": now, "exp": now + 60, "jti": str(uuid.uuid4()), **overrides}
    return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


def _with_assertion(client, assertion: str):
    return _token_attempt(client, data={
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion})


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_assertion_from_the_future_is_refused(client, jwt_client, rsa_client_key, claim):
    response = _with_assertion(client, _assertion(rsa_client_key,
                                                  **{claim: int(time.time()) + 100_000}))
    assert (response.status_code, response.get_json()) == (400, GENERIC)
    assert _failures()[-1].details["reason"] == f"The client assertion's {claim} is in the future."


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_assertion_within_the_leeway_is_accepted(client, jwt_client, rsa_client_key, claim):
    response = _with_assertion(client, _assertion(rsa_client_key,
                                                  **{claim: int(time.time()) + 10}))
    assert response.get_json()["error"] == "invalid_grant"  # authenticated; the grant failed


# --- 20. PKCE from confidential clients unless registered otherwise -----------------------


def test_confidential_client_without_pkce_is_refused(flow):
    response, _verifier = flow.start(code_challenge=None, code_challenge_method=None)
    got = query(response.headers["Location"])
    assert got["error"] == "invalid_request"
    assert got["error_description"] == "This client must use PKCE (code_challenge with S256)."


def test_a_client_registered_without_pkce_may_omit_it(client, user, sso_login):
    from idp.services import registration
    from idp.services.admin_audit import Actor

    _row, initial = registration.issue_initial_token("test", 600, Actor(name="admin"))
    db.session.commit()
    registered = client.post("/register", json={
        "client_name": "Báo cáo", "redirect_uris": ["https://reports.example/cb"],
        "pkce_required": False}, headers={"Authorization": f"Bearer {initial}"})
    assert registered.status_code == 201, registered.get_json()
    body = registered.get_json()
    assert body["pkce_required"] is False
    from idp.services import consent
    from idp.services.clients import get_client

    consent.grant_consent(user, get_client(body["client_id"]), ["openid"])
    sso_login(user)
    response = client.get("/authorize", query_string={
        "response_type": "code", "client_id": body["client_id"], "scope": "openid",
        "redirect_uri": "https://reports.example/cb", "nonce": "n-1"})
    code = query(response.headers["Location"])["code"]
    redeemed = client.post("/token", data={
        "grant_type": "authorization_code", "code": code,
        "redirect_uri": "https://reports.example/cb"},
        auth=(body["client_id"], body["client_secret"]))
    assert redeemed.status_code == 200, redeemed.get_json()


def test_registration_defaults_to_pkce_required_and_public_clients_cannot_opt_out(client):
    from idp.services import registration
    from idp.services.admin_audit import Actor

    answers = []
    for meta in ({"client_name": "A", "redirect_uris": ["https://a.example/cb"]},
                 {"client_name": "B", "redirect_uris": ["https://b.example/cb"],
                  "token_endpoint_auth_method": "none", "pkce_required": False}):
        _row, initial = registration.issue_initial_token("test", 600, Actor(name="admin"))
        db.session.commit()
        answers.append(client.post("/register", json=meta,
                                   headers={"Authorization": f"Bearer {initial}"}).get_json())
    assert [a["pkce_required"] for a in answers] == [True, True]


# --- defaults: strict single use of refresh tokens ---------------------------------------


def test_refresh_replay_within_a_second_revokes_the_family(flow):
    tokens = flow.tokens()
    first = flow.refresh(tokens["refresh_token"])
    assert first.status_code == 200
    replay = flow.refresh(tokens["refresh_token"])  # well within a second
    assert replay.status_code == 400
    assert replay.get_json() == {"error": "invalid_grant",
                                 "error_description": "The refresh token was already used."}
    newest = first.get_json()
    assert flow.refresh(newest["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert _introspect(flow, newest["access_token"]) == {"active": False}
    assert Token.query.filter(Token.replacement.isnot(None)).count() == 0  # nothing kept


@pytest.mark.config(TOKEN_REFRESH_GRACE=5)
def test_refresh_replay_inside_the_opt_in_window_gets_the_same_pair(flow):
    tokens = flow.tokens()
    first = flow.refresh(tokens["refresh_token"])
    replay = flow.refresh(tokens["refresh_token"])
    assert replay.status_code == 200 and replay.get_json() == first.get_json()
    assert flow.refresh(first.get_json()["refresh_token"]).status_code == 200
