"""prompt, max_age, id_token_hint, login_hint, acr_values step-up, select_account
(OIDC Core §3.1.2.1, §3.1.2.6), and resumption without loops."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from tests.support.flow import decode_jwt
from tests.support.urls import query


def _login_redirect(response) -> dict:
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?")
    return query(response.headers["Location"])


def _age_session(session, seconds: int) -> None:
    from idp.extensions import db

    session.auth_time -= timedelta(seconds=seconds)
    db.session.commit()


def test_prompt_none_not_signed_in_is_login_required(flow, user, app):
    got = query(flow.authorize(prompt="none").headers["Location"])
    assert got["error"] == "login_required" and got["state"] == "st-123"
    assert got["iss"] == app.config["ISSUER"]


def test_prompt_none_signed_in_issues_code(flow, signed_in):
    assert "code" in query(flow.authorize(prompt="none").headers["Location"])


def _ticket(next_url: str):
    from idp.oidc.authorize.request import from_ticket

    return from_ticket(query(next_url)["ticket"])


def test_prompt_login_forces_sign_in_then_resumes_without_loop(flow, signed_in, client, user, sso_login):
    got = _login_redirect(flow.authorize(prompt="login"))
    assert got["prompt"] == "login"
    # Resuming before a fresh sign-in goes back to the sign-in page...
    again = _login_redirect(client.get(got["next"]))
    # The same pending request, started at the same time (the ticket's signature carries
    # its own signing time, so compare what it says, not its bytes).
    first, second = _ticket(got["next"]), _ticket(again["next"])
    assert (second.params, second.started_at) == (first.params, first.started_at)
    # ...and after one, issues the code with the new auth_time.
    fresh = sso_login(user)
    done = client.get(got["next"])
    code = query(done.headers["Location"])["code"]
    verifier = None
    response = flow.exchange(code, verifier)
    _, claims = decode_jwt(response.get_json()["id_token"])
    assert claims["auth_time"] == int(fresh.auth_time.timestamp())


def test_max_age_exceeded_forces_sign_in(flow, signed_in):
    _age_session(signed_in, 120)
    got = _login_redirect(flow.authorize(max_age="60"))
    assert got["prompt"] == "login"


def test_max_age_not_exceeded_gives_auth_time(flow, signed_in):
    got = query(flow.authorize(max_age="10000").headers["Location"])
    _, claims = decode_jwt(flow.exchange(got["code"], None).get_json()["id_token"])
    assert claims["auth_time"] == int(signed_in.auth_time.timestamp())


def test_max_age_zero_behaves_like_prompt_login(flow, signed_in):
    assert _login_redirect(flow.authorize(max_age="0"))["prompt"] == "login"


def test_max_age_with_prompt_none_is_login_required(flow, signed_in):
    _age_session(signed_in, 120)
    got = query(flow.authorize(max_age="60", prompt="none").headers["Location"])
    assert got["error"] == "login_required"


def test_id_token_hint_same_user_succeeds(flow, tokens):
    got = query(flow.authorize(prompt="none", id_token_hint=tokens["id_token"]).headers["Location"])
    assert "code" in got


def test_id_token_hint_expired_is_still_accepted(flow, signed_in, user, app):
    from idp.services import keys

    now = int(time.time())
    hint = keys.sign({"iss": app.config["ISSUER"], "sub": user.sub, "aud": "docs",
                      "iat": now - 7200, "exp": now - 3600})
    assert "code" in query(flow.authorize(id_token_hint=hint).headers["Location"])


def test_id_token_hint_other_user(flow, signed_in, admin_user, app):
    from idp.services import keys

    now = int(time.time())
    hint = keys.sign({"iss": app.config["ISSUER"], "sub": admin_user.sub, "aud": "docs",
                      "iat": now, "exp": now + 60})
    got = query(flow.authorize(prompt="none", id_token_hint=hint).headers["Location"])
    assert got["error"] == "login_required"
    assert _login_redirect(flow.authorize(id_token_hint=hint))["prompt"] == "login"


def test_id_token_hint_for_another_audience(flow, signed_in, id_token_wrong_aud):
    got = query(flow.authorize(id_token_hint=id_token_wrong_aud).headers["Location"])
    assert got["error"] == "invalid_request" and "not issued to this client" in got["error_description"]


def test_login_hint_is_passed_on(flow, user):
    assert _login_redirect(flow.authorize(login_hint="an.nguyen"))["login_hint"] == "an.nguyen"


def test_acr_mfa_on_password_session_steps_up(flow, signed_in):
    got = _login_redirect(flow.authorize(acr_values="urn:idp:acr:mfa"))
    assert got["mfa"] == "1"


def test_acr_mfa_with_prompt_none_is_login_required(flow, signed_in):
    got = query(flow.authorize(acr_values="urn:idp:acr:mfa", prompt="none").headers["Location"])
    assert got["error"] == "login_required"


def test_acr_mfa_satisfied_by_mfa_session(flow, user, sso_login):
    sso_login(user, amr=("pwd", "otp"), acr="urn:idp:acr:mfa")
    assert "code" in query(flow.authorize(acr_values="urn:idp:acr:mfa").headers["Location"])


def test_password_acr_request_succeeds(flow, signed_in):
    assert "code" in query(flow.authorize(acr_values="urn:idp:acr:pwd").headers["Location"])


def test_admin_role_requires_mfa(flow, admin_user, sso_login):
    sso_login(admin_user)
    assert _login_redirect(flow.authorize())["mfa"] == "1"


def test_client_requiring_mfa(flow, signed_in, confidential_client):
    from idp.extensions import db

    confidential_client.row.mfa_required = True
    db.session.commit()
    assert _login_redirect(flow.authorize())["mfa"] == "1"


def test_department_ancestor_requiring_mfa(flow, signed_in, department):
    from idp.extensions import db

    department.parent.mfa_required = True
    db.session.commit()
    assert _login_redirect(flow.authorize())["mfa"] == "1"


def test_select_account_page(flow, signed_in, client):
    response = flow.authorize(prompt="select_account", ui_locales="en")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Continue as Nguyễn Văn An" in page and "Use another account" in page
    import re

    links = re.findall(r'href="([^"]+)"', page)
    resume = next(l for l in links if l.startswith("/authorize/resume")).replace("&amp;", "&")
    other = next(l for l in links if l.startswith("/login")).replace("&amp;", "&")
    assert "code" in query(client.get(resume).headers["Location"])
    assert query(other)["prompt"] == "login"


@pytest.mark.parametrize("locale, text", [("en", "Choose an account"), ("vi", "Chọn tài khoản")])
def test_ui_locales(flow, signed_in, locale, text):
    page = flow.authorize(prompt="select_account", ui_locales=locale).get_data(as_text=True)
    assert text in page
