"""RP-Initiated Logout 1.0: the end_session endpoint, its checks and its confirmation page."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from tests.support.pages import csrf_token, hidden_fields

from idp.extensions import db
from idp.models import AuditEvent, SsoSession

BYE = "http://127.0.0.1:9000/docs/bye"


@pytest.fixture
def rp(make_rp):
    return make_rp("docs-rp", post_logout=[BYE, "http://127.0.0.1:9000/docs/bye?from=idp"])


@pytest.fixture
def signed_in(app, user, rp, sso_login):
    from idp.services import sessions

    session = sso_login(user)
    sessions.join(session, rp.id)
    return session


def _session(session_id: int) -> SsoSession:
    db.session.expire_all()
    return db.session.get(SsoSession, session_id)


def _cookie(app, client):
    return client.get_cookie(app.config["SSO_COOKIE_NAME"], domain="localhost")


def _events(event_type: str) -> list[AuditEvent]:
    return AuditEvent.query.filter_by(event_type=event_type).order_by(AuditEvent.id).all()


def test_valid_hint_and_registered_uri_redirects_with_state(app, client, user, signed_in, id_token):
    hint = id_token(user, "docs-rp", sid=signed_in.sid)
    response = client.get("/end_session", query_string={
        "id_token_hint": hint, "post_logout_redirect_uri": BYE, "state": "xyz 1/2"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"{BYE}?state=xyz+1%2F2"
    assert response.headers["Cache-Control"] == "no-store"
    # The cookie is cleared and the session row ended.
    assert f"{app.config['SSO_COOKIE_NAME']}=;" in response.headers["Set-Cookie"]
    assert _cookie(app, client) is None
    ended = _session(signed_in.id)
    assert ended.ended_at is not None and ended.end_reason == "rp_logout"
    (requested,) = _events("logout.requested")
    assert (requested.subject, requested.client) == (user.sub, "docs-rp")
    assert requested.details["sid"] == signed_in.sid
    (session_end,) = _events("session.ended")
    assert session_end.details == {"sid": signed_in.sid, "reason": "rp_logout",
                                   "clients": ["docs-rp"]}


def test_state_is_added_to_the_registered_query(client, user, signed_in, id_token):
    response = client.get("/end_session", query_string={
        "id_token_hint": id_token(user, "docs-rp", sid=signed_in.sid), "state": "s1",
        "post_logout_redirect_uri": "http://127.0.0.1:9000/docs/bye?from=idp"})
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/docs/bye"
    assert parse_qs(location.query) == {"from": ["idp"], "state": ["s1"]}


def test_rp_may_post_the_request(client, user, signed_in, id_token):
    response = client.post("/end_session", data={
        "id_token_hint": id_token(user, "docs-rp", sid=signed_in.sid),
        "post_logout_redirect_uri": BYE})
    assert response.status_code == 303
    assert response.headers["Location"] == BYE
    assert _session(signed_in.id).ended_at is not None


def test_expired_hint_is_accepted(client, user, signed_in, id_token):
    hint = id_token(user, "docs-rp", sid=signed_in.sid, expired=True)
    response = client.get("/end_session", query_string={
        "id_token_hint": hint, "post_logout_redirect_uri": BYE})
    assert response.status_code == 302
    assert _session(signed_in.id).end_reason == "rp_logout"


@pytest.mark.parametrize("uri", [
    "http://127.0.0.1:9000/docs/bye/",              # not exactly the registered one
    "http://127.0.0.1:9000/docs/byebye",             # a prefix match is no match
    "http://127.0.0.1:9000/docs/BYE",
    "https://evil.example/docs/bye",
    "http://127.0.0.1:9000/other/bye",               # another client's URI
])
def test_unregistered_post_logout_uri_shows_an_error_page(app, client, user, signed_in, id_token,
                                                          make_rp, uri):
    make_rp("other", post_logout=["http://127.0.0.1:9000/other/bye"])
    response = client.get("/end_session", query_string={
        "id_token_hint": id_token(user, "docs-rp", sid=signed_in.sid),
        "post_logout_redirect_uri": uri, "state": "s", "lang": "en"})
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "The post_logout_redirect_uri is not registered for this application." in page
    assert "invalid_request" in page
    assert _session(signed_in.id).ended_at is None
    assert _cookie(app, client) is not None


def test_error_page_is_vietnamese_by_default(client, user, signed_in, id_token):
    response = client.get("/end_session", query_string={
        "id_token_hint": id_token(user, "docs-rp", sid=signed_in.sid),
        "post_logout_redirect_uri": "https://evil.example/"})
    assert response.status_code == 400
    assert "Địa chỉ post_logout_redirect_uri chưa được đăng ký cho ứng dụng này." in \
        response.get_data(as_text=True)


def test_post_logout_uri_needs_a_client(client, signed_in):
    response = client.get("/end_session", query_string={
        "post_logout_redirect_uri": BYE, "lang": "en"})
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "needs an id_token_hint or client_id" in response.get_data(as_text=True)
    assert _session(signed_in.id).ended_at is None


def test_client_id_must_match_the_hint(client, user, signed_in, id_token, make_rp):
    make_rp("other")
    response = client.get("/end_session", query_string={
        "id_token_hint": id_token(user, "docs-rp", sid=signed_in.sid), "client_id": "other",
        "lang": "en"})
    assert response.status_code == 400
    assert "The client_id does not match the id_token_hint." in response.get_data(as_text=True)


def test_unknown_client_id(client, signed_in):
    response = client.get("/end_session", query_string={"client_id": "nobody", "lang": "en"})
    assert response.status_code == 400
    assert "The application that sent you here is not known." in response.get_data(as_text=True)


def _foreign_token(app, user) -> str:
    key = RSAKey.generate_key(2048, parameters={"kid": "rs256-foreign", "alg": "RS256"})
    claims = {"iss": app.config["ISSUER"], "sub": user.sub, "aud": "docs-rp", "iat": 1, "exp": 2}
    return jwt.encode({"alg": "RS256", "kid": "rs256-foreign"}, claims, key)


@pytest.mark.parametrize("make_hint", [
    pytest.param(lambda app, user, id_token: _foreign_token(app, user), id="foreign-key"),
    pytest.param(lambda app, user, id_token: id_token(user, "docs-rp", iss="https://other.example"),
                 id="other-issuer"),
    pytest.param(lambda app, user, id_token: "not.a.jwt", id="garbage"),
    pytest.param(lambda app, user, id_token: id_token(user, "docs-rp")[:-8] + "AAAAAAAA",
                 id="bad-signature"),
    pytest.param(lambda app, user, id_token: id_token(user, "unknown-client"), id="unknown-aud"),
])
def test_invalid_hint_is_refused(app, client, user, signed_in, id_token, make_hint):
    response = client.get("/end_session", query_string={
        "id_token_hint": make_hint(app, user, id_token), "post_logout_redirect_uri": BYE,
        "lang": "en"})
    assert response.status_code == 400
    assert "Location" not in response.headers
    page = response.get_data(as_text=True)
    assert ("The id_token_hint is not a valid ID token from this service." in page
            or "The id_token_hint was not issued to a known application." in page)
    assert _session(signed_in.id).ended_at is None


def test_an_access_token_is_no_id_token_hint(app, client, user, signed_in):
    from idp.services import keys

    access = keys.sign({"iss": app.config["ISSUER"], "sub": user.sub, "aud": "docs-rp",
                        "client_id": "docs-rp", "iat": 1, "exp": 2}, typ="at+jwt")
    response = client.get("/end_session", query_string={"id_token_hint": access, "lang": "en"})
    assert response.status_code == 400
    assert "not a valid ID token" in response.get_data(as_text=True)


def test_es256_hint_is_accepted(client, user, signed_in, id_token):
    hint = id_token(user, "docs-rp", sid=signed_in.sid, alg="ES256")
    response = client.get("/end_session", query_string={
        "id_token_hint": hint, "post_logout_redirect_uri": BYE})
    assert response.status_code == 302


# --- the confirmation page ----------------------------------------------------------------


def test_no_hint_asks_for_confirmation_then_post_ends_the_session(app, client, user, signed_in):
    page = client.get("/end_session", query_string={"lang": "en"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Sign out?" in html and "Yes, sign out" in html and "No, stay signed in" in html
    assert "Nguyễn Văn An" in html
    assert page.headers["Cache-Control"] == "no-store"
    assert _session(signed_in.id).ended_at is None  # asking ends nothing

    response = client.post("/end_session", data={"csrf_token": csrf_token(html), "confirm": "yes"})
    assert response.status_code == 200
    assert "You have signed out" in response.get_data(as_text=True)
    assert _cookie(app, client) is None
    assert _session(signed_in.id).end_reason == "rp_logout"
    assert _events("logout.requested")[0].details["confirmed"] is True


def test_confirmation_page_is_vietnamese_by_default(client, signed_in):
    html = client.get("/end_session").get_data(as_text=True)
    assert "Đăng xuất?" in html and "Có, đăng xuất" in html


def test_confirmation_needs_the_csrf_token(app, client, signed_in):
    client.get("/end_session")
    response = client.post("/end_session", data={"confirm": "yes", "lang": "en"})
    assert response.status_code == 400
    assert _session(signed_in.id).ended_at is None
    assert _cookie(app, client) is not None


def test_answering_no_keeps_the_session(app, client, signed_in):
    html = client.get("/end_session", query_string={"lang": "en"}).get_data(as_text=True)
    response = client.post("/end_session", data={"csrf_token": csrf_token(html), "confirm": "no"})
    assert response.status_code == 200
    assert "You are still signed in" in response.get_data(as_text=True)
    assert _session(signed_in.id).ended_at is None
    assert _cookie(app, client) is not None


def test_client_id_alone_confirms_then_redirects(client, signed_in):
    page = client.get("/end_session", query_string={
        "client_id": "docs-rp", "post_logout_redirect_uri": BYE, "state": "abc",
        "ui_locales": "en-US vi"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "App docs-rp asks to sign you out." in html  # ui_locales chose English
    fields = hidden_fields(html)
    assert fields["client_id"] == "docs-rp" and fields["state"] == "abc"
    response = client.post("/end_session", data={**fields, "confirm": "yes"})
    assert response.status_code == 303
    assert response.headers["Location"] == f"{BYE}?state=abc"
    assert _session(signed_in.id).ended_at is not None


def test_hint_for_another_users_session_asks_first(client, signed_in, other_user, id_token):
    hint = id_token(other_user, "docs-rp", sid="some-other-sid")
    page = client.get("/end_session", query_string={
        "id_token_hint": hint, "post_logout_redirect_uri": BYE, "lang": "en"})
    assert page.status_code == 200
    assert "Sign out?" in page.get_data(as_text=True)
    assert "Location" not in page.headers
    assert _session(signed_in.id).ended_at is None


def test_hint_for_an_older_session_of_the_same_user_asks_first(client, user, signed_in, id_token):
    page = client.get("/end_session", query_string={
        "id_token_hint": id_token(user, "docs-rp", sid="an-earlier-session"), "lang": "en"})
    assert page.status_code == 200
    assert "Sign out?" in page.get_data(as_text=True)
    assert _session(signed_in.id).ended_at is None


def test_logout_hint_for_someone_else_asks_first(client, user, signed_in, id_token):
    page = client.get("/end_session", query_string={
        "id_token_hint": id_token(user, "docs-rp", sid=signed_in.sid),
        "logout_hint": "cuong.le", "lang": "en"})
    assert "Sign out?" in page.get_data(as_text=True)
    assert _session(signed_in.id).ended_at is None


def test_without_a_session_the_rp_is_sent_back(app, client, user, rp, id_token):
    response = client.get("/end_session", query_string={
        "id_token_hint": id_token(user, "docs-rp", sid="gone"), "post_logout_redirect_uri": BYE,
        "state": "s"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"{BYE}?state=s"


def test_without_anything_shows_signed_out(client):
    response = client.get("/end_session", query_string={"lang": "en"})
    assert response.status_code == 200
    assert "You have signed out" in response.get_data(as_text=True)


def test_wrong_method_is_not_a_500(client):
    assert client.put("/end_session").status_code == 405


def test_sign_in_state_is_forgotten_but_the_language_kept(client, user, signed_in, id_token):
    with client.session_transaction() as state:
        state["lang"] = "en"
        state["login_note"] = {"next": "/authorize?client_id=docs-rp"}
    client.get("/end_session", query_string={
        "id_token_hint": id_token(user, "docs-rp", sid=signed_in.sid)})
    with client.session_transaction() as state:
        assert dict(state) == {"lang": "en"}
