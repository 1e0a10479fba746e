"""JSON logs: one object per line with the request's fields, and never a secret."""

from __future__ import annotations

import logging
import re

import pytest

from idp.ops.logs import redacted_path, scrub
from tests.support.constants import PASSWORD
from tests.support.flow import basic, pkce_pair
from tests.support.observe import json_lines
from tests.support.urls import query


def test_each_request_logs_one_json_line_with_its_fields(client, capfd):
    response = client.get("/healthz", headers={"X-Request-Id": "req-42"})
    lines = [e for e in json_lines(capfd.readouterr().err) if e["logger"] == "idp.access"]
    assert len(lines) == 1
    line = lines[0]
    assert set(line) >= {"time", "level", "logger", "message", "request_id", "method", "path",
                         "status", "duration_ms", "remote_addr"}
    assert line["request_id"] == "req-42" == response.headers["X-Request-Id"]
    assert (line["level"], line["method"], line["path"], line["status"]) == (
        "INFO", "GET", "/healthz", 200)
    assert line["remote_addr"] == "127.0.0.1"
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$", line["time"])


def test_records_inside_a_request_carry_its_request_id(app, client, capfd):
    @app.get("/_test_log")
    def _view():
        logging.getLogger("idp.test").warning("something to look at")
        return "ok"

    response = client.get("/_test_log")
    entry = next(e for e in json_lines(capfd.readouterr().err) if e["logger"] == "idp.test")
    assert entry["message"] == "something to look at"
    assert entry["level"] == "WARNING"
    assert entry["request_id"] == response.headers["X-Request-Id"]
    assert entry["path"] == "/_test_log"


@pytest.mark.parametrize("path, query, logged", [
    ("/authorize", "client_id=docs&state=s1&nonce=n1&code_challenge=c1",
     "/authorize?[redacted]"),
    ("/end_session", "id_token_hint=eyJhbGciOi.x.y", "/end_session?[redacted]"),
    ("/login", "next=%2Fauthorize%3Fcode%3Dabc", "/login?[redacted]"),
    ("/cb", "code=abc123&state=s1", "/cb?code=[redacted]&state=s1"),
    ("/x", "token=t1&refresh_token=r1&client_secret=s1&password=p1&logout_token=l1&page=2",
     "/x?token=[redacted]&refresh_token=[redacted]&client_secret=[redacted]"
     "&password=[redacted]&logout_token=[redacted]&page=2"),
    ("/x", "next=%2Fcb%3Fcode%3Dabc", "/x?next=/cb%3Fcode%3D[redacted]"),
    ("/x", "", "/x"),
])
def test_query_strings_are_redacted(path, query, logged):
    assert redacted_path(path, query) == logged


def test_messages_are_scrubbed_of_credentials():
    assert scrub("POST code=abc&client_secret=xyz ok") == \
        "POST code=[redacted]&client_secret=[redacted] ok"
    assert scrub("Authorization: Bearer eyJ.abc.def") == "Authorization: Bearer [redacted]"
    assert scrub('{"refresh_token": "r-123"}') == '{"refresh_token": "[redacted]"}'


def _sign_in_and_get_tokens(client, client_id: str, secret: str, redirect_uri: str) -> dict:
    """The whole code flow through the real pages: /authorize, /login, /token."""
    verifier, challenge = pkce_pair()
    response = client.get("/authorize", query_string={
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
        "scope": "openid profile offline_access", "state": "st-1", "nonce": "n-1",
        "code_challenge": challenge, "code_challenge_method": "S256"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    response = client.post(response.headers["Location"],
                           data={"username": "lan.pham", "password": PASSWORD})
    for _ in range(5):  # the sign-in pages lead back to the client with a code
        location = response.headers.get("Location", "")
        if location.startswith(redirect_uri):
            break
        assert response.status_code in (302, 303), response.get_data(as_text=True)[:300]
        response = client.get(location)
    code = query(location)["code"]
    tokens = client.post("/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
        "code_verifier": verifier}, headers=basic(client_id, secret))
    assert tokens.status_code == 200, tokens.get_json()
    refreshed = client.post("/token", data={
        "grant_type": "refresh_token", "refresh_token": tokens.get_json()["refresh_token"]},
        headers=basic(client_id, secret))
    assert refreshed.status_code == 200, refreshed.get_json()
    return {"code": code, "verifier": verifier, **tokens.get_json(),
            **{f"new_{k}": v for k, v in refreshed.get_json().items()}}


@pytest.mark.config(LOG_LEVEL="DEBUG", WTF_CSRF_ENABLED=False)
def test_no_password_secret_code_or_token_ever_reaches_a_log_line(
        app, client, runner, department, sso_login, caplog, capfd):
    # Everything, SQL statements with their parameters included.
    for name in (None, "sqlalchemy.engine", "authlib", "idp"):
        caplog.set_level(logging.DEBUG, logger=name)
    redirect_uri = "http://127.0.0.3:5002/callback"
    created = runner.invoke(["user", "create", "lan.pham", "--email", "lan.pham@example.gov.vn",
                             "--name", "Phạm Thị Lan", "--department", "VP",
                             "--password", PASSWORD])
    assert created.exit_code == 0, created.output
    out = runner.invoke(["client", "create", "--name", "Thư điện tử", "--client-id", "mail",
                         "--redirect-uri", redirect_uri, "--trusted",
                         "--scope", "openid profile offline_access"])
    secret = out.output.split("Client secret (shown once): ")[1].strip()
    seen = {PASSWORD, PASSWORD + "x", secret}

    flow = _sign_in_and_get_tokens(client, "mail", secret, redirect_uri)
    seen |= {flow[k] for k in ("code", "verifier", "access_token", "refresh_token", "id_token",
                               "new_access_token", "new_refresh_token")}
    seen.add(client.get_cookie(app.config["SSO_COOKIE_NAME"], domain="localhost").value)
    client.post("/login", data={"username": "lan.pham", "password": PASSWORD + "x"})
    # Wrong code and secret at /token, in the header and in the body.
    client.post("/token", data={"grant_type": "authorization_code", "code": flow["code"],
                                "redirect_uri": redirect_uri}, headers=basic("mail", secret))
    client.post("/token", data={"grant_type": "refresh_token", "client_id": "mail",
                                "refresh_token": flow["refresh_token"], "client_secret": secret})
    client.get("/userinfo", headers={"Authorization": f"Bearer {flow['new_access_token']}"})
    client.get(f"/healthz?code={flow['code']}&token={flow['new_refresh_token']}")
    client.get("/end_session", query_string={"id_token_hint": flow["id_token"]})

    records = [r.getMessage() + repr(r.args) for r in caplog.records]
    printed = capfd.readouterr().err.splitlines()
    assert any(r.name.startswith("sqlalchemy.engine") for r in caplog.records)
    assert any('"logger": "idp.access"' in p for p in printed)
    for value in seen:
        leaks = [r for r in records + printed if value in r]
        assert leaks == [], f"a secret reached the logs: {leaks[:2]}"


def test_log_lines_never_mix_with_a_commands_output(app, capfd):
    import click
    from click.testing import CliRunner

    @click.command()
    def noisy():
        logging.getLogger("idp.test").warning("a warning while the command runs")
        click.echo('{"client_id": "x"}')

    result = CliRunner().invoke(noisy)
    assert result.output == '{"client_id": "x"}\n'
    assert "a warning while the command runs" in capfd.readouterr().err


def test_a_huge_query_string_is_cut_in_the_access_log():
    from idp.ops.logs import MAX_LOGGED_PATH, redacted_path

    logged = redacted_path("/jwks", "x=" + "a" * 200_000)
    assert len(logged) <= MAX_LOGGED_PATH + 1
    assert logged.startswith("/jwks?x=aaa") and logged.endswith("…")
    assert redacted_path("/token", "code=secret") == "/token?code=[redacted]"
