"""Helpers to run the client adapter (a demo app) against a provider served over real HTTP.

The app side is the Flask test client (origin ``http://localhost``); the provider side is
``requests`` playing the browser. The provider's back-channel logout calls reach the apps
through :class:`AppGateway`, a real loopback HTTP server in front of them.
"""
from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import threading
from collections.abc import Callable
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server
from werkzeug.test import TestResponse

from clients import docs_app

APP_ORIGIN = "http://localhost"
URLS = {"DOCS_URL": APP_ORIGIN, "WEBMAIL_URL": "http://webmail.test", "ONESTOP_URL": "http://onestop.test"}
FORM = re.compile(r'<form[^>]*method="post"[^>]*action="([^"]+)"', re.I)
HIDDEN = re.compile(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', re.I)


def need_node(package_dir: Path, package: str) -> None:
    """Skip (fail under CI=true) when node or the npm package installed by scripts/setup is missing."""
    problem = None
    if not shutil.which("node"):
        problem = "node is not installed"
    elif not (package_dir / "node_modules" / package).is_dir():
        problem = f"{package_dir}/node_modules has no {package}: run scripts/setup --browser"
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(problem)
        pytest.skip(problem)


def docs(tmp_path: Path, name: str, issuer: str, client_id: str, secret: str, **config: Any) -> Flask:
    """The document app as relying party ``client_id`` of ``issuer``, unchanged but for its config."""
    return docs_app.create_app({
        **URLS, "SSO_ISSUER": issuer, "SSO_CLIENT_ID": client_id, "SSO_CLIENT_SECRET": secret,
        "DATABASE": str(tmp_path / f"{name}.sqlite3"), **config,
    })


def claims_of(jwt_value: str) -> dict[str, Any]:
    """The payload of a compact JWT, unverified (what the test reads, not what the app trusts)."""
    payload = jwt_value.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class Browser:
    """One person's browser: the Flask test client for the app, a requests session for the OP."""

    def __init__(self, app: Flask, op: requests.Session | None = None,
                 fill: Callable[[str], dict[str, str]] | None = None) -> None:
        self.app = app
        self.client: FlaskClient = app.test_client()
        self.op = op or requests.Session()
        self.fill = fill or (lambda page: {})
        self.op_pages: list[str] = []  # the provider's pages shown on the way (login, consent...)

    def at_op(self, url: str) -> str:
        """Follow the provider until it sends the browser back to the app; return that URL."""
        for _ in range(12):
            if url.startswith(APP_ORIGIN + "/"):
                return url
            response = self.op.get(url, allow_redirects=False, timeout=10)
            while response.status_code == 200 and FORM.search(response.text):
                self.op_pages.append(response.text)
                action = urljoin(response.url, unescape(FORM.search(response.text).group(1)))
                data = {name: unescape(value) for name, value in HIDDEN.findall(response.text)}
                response = self.op.post(action, data={**data, **self.fill(response.text)},
                                        allow_redirects=False, timeout=10)
            assert response.status_code in (302, 303), (response.status_code, response.text[:500])
            url = urljoin(response.url, response.headers["Location"])
        raise AssertionError("the provider never sent the browser back to the app")

    def sign_in(self, next_path: str = "/") -> TestResponse:
        start = self.client.get("/auth/login", query_string={"next": next_path})
        assert start.status_code == 302, start.text
        return self.client.get(self.at_op(start.headers["Location"]))

    def csrf(self) -> str:
        with self.client.session_transaction() as session:
            session.setdefault("_csrf", "test-csrf-token")
            return session["_csrf"]

    def post(self, path: str, data: dict[str, str] | None = None) -> TestResponse:
        return self.client.post(path, data={"csrf_token": self.csrf(), **(data or {})})

    def session_data(self) -> dict[str, Any]:
        with self.client.session_transaction() as session:
            return dict(session)

    def sign_out(self) -> TestResponse:
        """POST /auth/logout, through the provider's end_session, back to /auth/logged-out."""
        out = self.post("/auth/logout")
        assert out.status_code == 302, out.text
        return self.client.get(self.at_op(out.headers["Location"]))


class AppGateway:
    """A loopback HTTP server in front of apps, by path prefix: ``/<name>/...`` → app ``name``."""

    def __init__(self) -> None:
        self.apps: dict[str, Flask] = {}
        self.calls: list[dict[str, Any]] = []
        self._server = make_server("127.0.0.1", 0, self, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def backchannel_uri(self, name: str) -> str:
        return f"{self.url}/{name}/auth/backchannel-logout"

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        _, name, rest = (environ.get("PATH_INFO", "") + "/").split("/", 2)
        app = self.apps.get(name)
        if app is None:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"no such app"]
        environ["PATH_INFO"] = "/" + rest.rstrip("/")
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        call: dict[str, Any] = {"app": name, "path": environ["PATH_INFO"], "form": body.decode()}
        self.calls.append(call)
        environ["wsgi.input"] = io.BytesIO(body)

        def record(status: str, headers: list[Any], *args: Any) -> Any:
            call["status"] = int(status.split()[0])
            return start_response(status, headers, *args)

        return app(environ, record)

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)
