"""Redirect URI attacks: anything but the exact registered string is refused with an error
page and never redirected to (RFC 6749 §4.1.2.1, RFC 9700 §2.1 and §4.1.3: exact string
matching). The one exception is RFC 8252 §7.3: a native client's loopback IP redirect
may use any port."""

from __future__ import annotations

import pytest

from tests.support.flow import Flow
from tests.support.urls import query

REGISTERED = "https://docs.example.gov.vn/cb"

ATTACKS = {
    "other host": "https://evil.example/cb",
    "other scheme": "http://docs.example.gov.vn/cb",
    "extra path": "https://docs.example.gov.vn/cb/extra",
    "path traversal": "https://docs.example.gov.vn/cb/../cb",
    "extra query": "https://docs.example.gov.vn/cb?next=https://evil.example",
    "fragment": "https://docs.example.gov.vn/cb#x",
    "empty fragment": "https://docs.example.gov.vn/cb#",
    "userinfo before host": "https://docs.example.gov.vn@evil.example/cb",
    "user@host": "https://evil.example@docs.example.gov.vn/cb",
    "backslash": "https://docs.example.gov.vn\\@evil.example/cb",
    "trailing dot": "https://docs.example.gov.vn./cb",
    "upper-case host": "https://DOCS.example.gov.vn/cb",
    "upper-case path": "https://docs.example.gov.vn/CB",
    "explicit port": "https://docs.example.gov.vn:443/cb",
    "other port": "https://docs.example.gov.vn:8443/cb",
    "percent-encoded path": "https://docs.example.gov.vn/%63b",
    "percent-encoded slash": "https://docs.example.gov.vn%2Fcb",
    "percent-encoded host": "https://docs%2Eexample.gov.vn/cb",
    "encoded null": "https://docs.example.gov.vn/cb%00",
    "trailing slash": "https://docs.example.gov.vn/cb/",
    "leading space": " https://docs.example.gov.vn/cb",
    "trailing space": "https://docs.example.gov.vn/cb ",
    "IDN look-alike (Cyrillic o)": "https://d\u043ecs.example.gov.vn/cb",
    "IDN look-alike (punycode)": "https://xn--dcs-5cd.example.gov.vn/cb",
    "sub-domain": "https://docs.example.gov.vn.evil.example/cb",
    "javascript": "javascript:alert(1)//https://docs.example.gov.vn/cb",
}


@pytest.fixture
def web_client(app):
    from tests.support.clients import register

    return register("Văn bản (https)", client_type="web", client_id="docs-https",
                     redirect_uris=[REGISTERED], scope="openid profile", trusted=True)


@pytest.fixture
def native_client(app):
    from tests.support.clients import register

    return register("Ứng dụng máy tính", client_type="native", client_id="desktop",
                     redirect_uris=["http://127.0.0.1/cb"], scope="openid profile", trusted=True)


def assert_refused_without_redirect(response) -> None:
    assert response.status_code == 400, response.status_code
    assert "Location" not in response.headers
    assert response.mimetype == "text/html"
    assert "redirect_uri" in response.get_data(as_text=True)


def test_the_registered_uri_itself_gets_the_code(client, web_client, user, sso_login):
    """The control: the same request with the exact URI is redirected with a code."""
    sso_login(user)
    response, _verifier = Flow.broad(client, web_client).start()
    assert response.status_code == 302
    assert response.headers["Location"].startswith(REGISTERED + "?")
    assert "code" in query(response.headers["Location"])


@pytest.mark.parametrize("uri", ATTACKS.values(), ids=ATTACKS.keys())
def test_attack_uri_is_refused_and_not_redirected_to(client, web_client, user, sso_login, uri):
    sso_login(user)
    response, _verifier = Flow.broad(client, web_client).start(redirect_uri=uri)
    assert_refused_without_redirect(response)


@pytest.mark.parametrize("uri", ATTACKS.values(), ids=ATTACKS.keys())
def test_attack_uri_is_refused_in_a_form_post_request(client, web_client, user, sso_login, uri):
    """OIDC Core §3.1.2.1: the POST form of the request is held to the same rule."""
    sso_login(user)
    response = client.post("/authorize", data={
        "client_id": web_client.client_id, "redirect_uri": uri, "response_type": "code",
        "scope": "openid", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256"})
    assert_refused_without_redirect(response)


def test_errors_before_the_redirect_check_are_never_redirected(client, web_client):
    """An unknown client with a valid-looking URI: nothing is known, so nothing is redirected."""
    response = client.get("/authorize", query_string={
        "client_id": "no-such-app", "redirect_uri": REGISTERED, "response_type": "code"})
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_repeated_redirect_uri_is_refused(client, web_client, user, sso_login):
    sso_login(user)
    response = client.get("/authorize?client_id=docs-https&response_type=code&scope=openid"
                          f"&redirect_uri={REGISTERED}&redirect_uri=https://evil.example/cb")
    assert_refused_without_redirect(response)


def test_web_client_on_loopback_may_not_vary_the_port(client, confidential_client, user,
                                                      sso_login):
    """RFC 8252 §7.3 is for native apps only; a web client's URI is matched exactly."""
    sso_login(user)
    response, _verifier = Flow.broad(client, confidential_client).start(
        redirect_uri="http://127.0.0.2:5002/callback")
    assert_refused_without_redirect(response)


@pytest.mark.parametrize("port", [51234, 8080, 65535])
def test_native_loopback_redirect_may_use_any_port(client, native_client, user, sso_login, port):
    """RFC 8252 §7.3: the authorization server MUST allow any port for loopback IP redirects."""
    sso_login(user)
    uri = f"http://127.0.0.1:{port}/cb"
    response, _verifier = Flow.broad(client, native_client).start(redirect_uri=uri)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    assert response.headers["Location"].startswith(uri + "?")


@pytest.mark.parametrize("uri", [
    "http://127.0.0.1:51234/cb2", "http://127.0.0.1:51234/cb/", "http://localhost:51234/cb",
    "http://127.0.0.2:51234/cb", "https://127.0.0.1:51234/cb", "http://[::1]:51234/cb",
    "http://127.0.0.1:51234/cb?x=1", "http://127.0.0.1:notaport/cb",
    "http://127.0.0.1:99999/cb", "http://evil.example@127.0.0.1:51234/cb",
])
def test_native_loopback_nothing_but_the_port_may_vary(client, native_client, user, sso_login,
                                                       uri):
    sso_login(user)
    response, _verifier = Flow.broad(client, native_client).start(redirect_uri=uri)
    assert_refused_without_redirect(response)
