"""The client adapter's side: a minimal relying party, the default staff member of the fake
provider, and one person's browser between an app (Flask test client) and a provider (HTTP)."""
from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from clients.idp_client import SSO, current_user, login_required, require_role

STAFF = {
    "sub": "u-1", "name": "Nguyễn Văn An", "preferred_username": "an.nv", "email": "an.nv@bo.gov.vn",
    "department": {"code": "VP", "name": "Văn phòng Bộ"}, "title": "Chuyên viên", "roles": ["clerk"],
}

# The apps under test answer at the test client's origin.
APP_ORIGIN = "http://localhost"
FORM = re.compile(r'<form[^>]*method="post"[^>]*action="([^"]+)"', re.I)
HIDDEN = re.compile(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', re.I)


def build_rp(op: Any, tmp_path: Path, **config: Any) -> Flask:
    """A minimal relying party of ``op`` (anything with an ``issuer``) with one public, one
    private and one role-guarded page."""
    app = Flask("rp", instance_path=str(tmp_path / "instance"))
    app.config.update({"SSO_ISSUER": op.issuer, "SSO_CLIENT_ID": "rp", "SSO_CLIENT_SECRET": "rp-secret", **config})
    sso = SSO(app)

    @app.get("/")
    def index() -> str:
        return f"Xin chào {current_user.display_name}" if current_user.is_authenticated else "anonymous"

    @app.get("/private")
    @login_required
    def private() -> str:
        dept = current_user.department_name
        return f"{current_user.name} | {dept} | {','.join(current_user.roles)} | {current_user.title}"

    @app.get("/admin")
    @require_role("admin")
    def admin() -> str:
        return "admin area"

    @app.get("/whoami")
    @login_required
    def whoami() -> Any:
        return sso.api("GET", f"{op.issuer}/api/whoami").json()

    return app


class AppBrowser:
    """One person's browser: the Flask test client for the app, a requests session for the
    provider (shared between browsers that share the person's provider cookies).

    ``app`` is a Flask app (a new test client, a new tab's cookies) or a test client;
    ``op`` is the provider, when the test wants it at hand; ``fill`` answers the provider's
    forms (sign-in, consent) with the fields a person would type.
    """

    def __init__(self, app: Flask | FlaskClient, http: requests.Session | None = None,
                 fill: Callable[[str], dict[str, str]] | None = None, *, op: Any = None) -> None:
        self.client: FlaskClient = app if isinstance(app, FlaskClient) else app.test_client()
        self.app: Flask = self.client.application
        self.http = http or requests.Session()
        self.op = op
        self.fill = fill or (lambda page: {})
        self.op_pages: list[str] = []  # the provider's pages shown on the way (login, consent...)

    def start_login(self, next_path: str = "/") -> str:
        """Open the app's sign-in route; returns the /authorize URL it redirects to."""
        response = self.client.get("/auth/login", query_string={"next": next_path})
        assert response.status_code == 302, response.text
        return response.headers["Location"]

    def authorize(self, authorize_url: str) -> str:
        """Visit the provider's /authorize once; returns where it sends the browser back."""
        response = self.http.get(authorize_url, allow_redirects=False, timeout=5)
        assert response.status_code == 302
        return response.headers["Location"]

    def login(self, next_path: str = "/") -> TestResponse:
        """The whole sign-in: app → provider → app callback. Returns the callback response."""
        return self.client.get(self.authorize(self.start_login(next_path)))

    def at_op(self, url: str) -> str:
        """Follow the provider, filling its forms, until it sends the browser back to the app."""
        for _ in range(12):
            if url.startswith(APP_ORIGIN + "/"):
                return url
            response = self.http.get(url, allow_redirects=False, timeout=10)
            while response.status_code == 200 and FORM.search(response.text):
                self.op_pages.append(response.text)
                action = urljoin(response.url, unescape(FORM.search(response.text).group(1)))
                data = {name: unescape(value) for name, value in HIDDEN.findall(response.text)}
                response = self.http.post(action, data={**data, **self.fill(response.text)},
                                          allow_redirects=False, timeout=10)
            assert response.status_code in (302, 303), (response.status_code, response.text[:500])
            url = urljoin(response.url, response.headers["Location"])
        raise AssertionError("the provider never sent the browser back to the app")

    def sign_in(self, next_path: str = "/") -> TestResponse:
        """Sign in through the provider's real pages (see ``at_op``)."""
        return self.client.get(self.at_op(self.start_login(next_path)))

    def csrf(self) -> str:
        """The CSRF token of this browser's session (as a rendered form would carry it)."""
        with self.client.session_transaction() as session:
            session.setdefault("_csrf", "test-csrf-token")
            return session["_csrf"]

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> TestResponse:
        return self.client.post(path, data={"csrf_token": self.csrf(), **(data or {})}, **kwargs)

    def session_data(self) -> dict[str, Any]:
        with self.client.session_transaction() as session:
            return dict(session)

    def sign_out(self) -> TestResponse:
        """POST /auth/logout, through the provider's end_session, back to /auth/logged-out."""
        out = self.post("/auth/logout")
        assert out.status_code == 302, out.text
        return self.client.get(self.at_op(out.headers["Location"]))
