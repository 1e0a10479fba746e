"""Helpers to run the client adapter (a demo app) against a provider served over real HTTP.

The app side is the Flask test client (origin ``http://localhost``); the provider side is
``requests`` playing the browser (``tests.support.relying_party.AppBrowser``). The
provider's back-channel logout calls reach the apps through :class:`AppGateway`, a real
loopback HTTP server in front of them.
"""
from __future__ import annotations

import base64
import io
import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from clients import docs_app
from tests.support.relying_party import APP_ORIGIN

URLS = {"DOCS_URL": APP_ORIGIN, "WEBMAIL_URL": "http://webmail.test", "ONESTOP_URL": "http://onestop.test"}


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
