"""OIDC Front-Channel Logout 1.0: the signed-out page frames each joined client's logout URI."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest

from idp.services import sessions

BYE = "http://127.0.0.1:9000/mail/bye"


@pytest.fixture
def fc_session(user, sso_login, make_rp):
    mail = make_rp("mail", frontchannel="http://127.0.0.3:5002/frontchannel-logout?v=1",
                   post_logout=[BYE])
    shop = make_rp("shop", frontchannel="http://127.0.0.4:5003/fc-logout")
    shop.frontchannel_logout_session_required = False
    docs = make_rp("docs-fc", frontchannel="http://127.0.0.2:5001/fc")
    make_rp("not-joined", frontchannel="http://127.0.0.5:5005/fc")
    session = sso_login(user)
    for rp in (mail, shop, docs):
        sessions.join(session, rp.id)
    return session


def _frames(html: str) -> list[str]:
    return [unescape(src) for src in re.findall(r'<iframe src="([^"]+)"', html)]


def test_signed_out_page_frames_each_joined_client(app, client, user, fc_session, id_token):
    response = client.get("/end_session", query_string={
        "id_token_hint": id_token(user, "mail", sid=fc_session.sid), "lang": "en"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "You have signed out" in html
    frames = {urlsplit(src).netloc: src for src in _frames(html)}
    assert set(frames) == {"127.0.0.3:5002", "127.0.0.4:5003", "127.0.0.2:5001"}
    # §2: with frontchannel_logout_session_required, iss and sid are added (and the
    # registered query is kept); without it, the URI is used as registered.
    mail = urlsplit(frames["127.0.0.3:5002"])
    assert mail.path == "/frontchannel-logout"
    assert parse_qs(mail.query) == {"v": ["1"], "iss": [app.config["ISSUER"]],
                                    "sid": [fc_session.sid]}
    assert frames["127.0.0.4:5003"] == "http://127.0.0.4:5003/fc-logout"
    assert parse_qs(urlsplit(frames["127.0.0.2:5001"]).query)["sid"] == [fc_session.sid]


def test_csp_allows_exactly_the_framed_origins(client, user, fc_session, id_token):
    response = client.get("/end_session", query_string={
        "id_token_hint": id_token(user, "mail", sid=fc_session.sid)})
    csp = response.headers["Content-Security-Policy"]
    directives = dict((d.strip().split(" ", 1) + [""])[:2] for d in csp.split(";"))
    assert sorted(directives["frame-src"].split()) == [
        "http://127.0.0.2:5001", "http://127.0.0.3:5002", "http://127.0.0.4:5003"]
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"  # this page itself is never framed
    assert response.headers.get_all("Content-Security-Policy") == [csp]


def test_page_continues_to_the_post_logout_uri(client, user, fc_session, id_token):
    response = client.get("/end_session", query_string={
        "id_token_hint": id_token(user, "mail", sid=fc_session.sid),
        "post_logout_redirect_uri": BYE, "state": "st", "lang": "en"})
    # With iframes to load, the page is shown rather than a redirect ...
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert len(_frames(html)) == 3
    # ... and continues with a script, or with a visible link without JavaScript.
    assert f'data-continue="{BYE}?state=st"' in html
    assert re.search(r'<a class="button" href="http://127.0.0.1:9000/mail/bye\?state=st"'
                     r' id="logout-continue">Continue to App mail</a>', html)
    assert '<script src="/static/logout.js" defer></script>' in html
    assert "<script>" not in html and "style=" not in html  # nothing inline (CSP)


def test_the_script_is_served(client):
    response = client.get("/static/logout.js")
    assert response.status_code == 200
    assert "data-continue" in response.get_data(as_text=True)
    response.close()


def test_no_frames_means_the_default_csp_and_a_redirect(client, user, sso_login, make_rp,
                                                       id_token):
    rp = make_rp("plain", post_logout=[BYE])
    session = sso_login(user)
    sessions.join(session, rp.id)
    response = client.get("/end_session", query_string={
        "id_token_hint": id_token(user, "plain", sid=session.sid),
        "post_logout_redirect_uri": BYE})
    assert response.status_code == 302
    assert "frame-src" not in response.headers["Content-Security-Policy"]


def test_confirmed_logout_also_frames_the_clients(client, fc_session):
    page = client.get("/end_session")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    response = client.post("/end_session", data={"csrf_token": token, "confirm": "yes"})
    assert len(_frames(response.get_data(as_text=True))) == 3
    assert "frame-src" in response.headers["Content-Security-Policy"]
