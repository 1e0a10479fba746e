"""Behind a reverse proxy: forwarded headers count only for IDP_TRUSTED_PROXIES hops."""

from __future__ import annotations

import pytest
from flask import Response

from idp import sso
from tests.support.observe import json_lines

FORWARDED = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https",
             "X-Forwarded-Host": "evil.example"}


def _access_line(capfd) -> dict:
    return [e for e in json_lines(capfd.readouterr().err) if e["logger"] == "idp.access"][-1]


@pytest.mark.config(TRUSTED_PROXIES=1)
def test_one_trusted_hop_gives_the_client_ip_and_https(client, capfd):
    response = client.get("/healthz", headers=FORWARDED)
    assert _access_line(capfd)["remote_addr"] == "203.0.113.7"
    # X-Forwarded-Proto https marks the request secure: HSTS is sent (issuer is http here).
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    # The client IP is what /metrics is restricted by.
    assert client.get("/metrics", headers=FORWARDED).status_code == 403
    assert client.get("/metrics").status_code == 200


@pytest.mark.config(TRUSTED_PROXIES=1)
def test_only_the_hop_added_by_the_proxy_is_believed(client, capfd):
    # The first address was sent by the client itself (spoofed); the proxy appended the last.
    client.get("/healthz", headers={"X-Forwarded-For": "127.0.0.1, 203.0.113.7"})
    assert _access_line(capfd)["remote_addr"] == "203.0.113.7"


def test_without_trusted_proxies_forwarded_headers_are_ignored(client, capfd):
    response = client.get("/healthz", headers=FORWARDED)
    assert _access_line(capfd)["remote_addr"] == "127.0.0.1"
    assert "Strict-Transport-Security" not in response.headers
    assert client.get("/metrics", headers=FORWARDED).status_code == 200


@pytest.mark.config(TRUSTED_PROXIES=1)
@pytest.mark.preset("https")
def test_issuer_comes_from_configuration_not_from_the_forwarded_host(client):
    body = client.get("/.well-known/openid-configuration", headers=FORWARDED).get_json()
    assert body["issuer"] == "https://idp.example.gov.vn"
    assert "evil.example" not in str(body)


@pytest.mark.preset("https")
def test_an_https_issuer_makes_the_session_cookie_secure_and_host_only(app):
    with app.test_request_context("/"):
        response = Response()
        sso.set_session_cookie(response, "opaque")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-idp_session=opaque;")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Path=/" in cookie and "Domain" not in cookie


def test_a_loopback_http_issuer_keeps_a_plain_development_cookie(app):
    with app.test_request_context("/"):
        response = Response()
        sso.set_session_cookie(response, "opaque")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("idp_session=opaque;") and "Secure" not in cookie
