"""Helpers for the client tests: the default staff member, a minimal RP, and a browser."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import requests
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from clients.idp_client import SSO, current_user, login_required, require_role
from tests.clients.fake_op import FakeOP

STAFF = {
    "sub": "u-1", "name": "Nguyễn Văn An", "preferred_username": "an.nv", "email": "an.nv@bo.gov.vn",
    "department": {"code": "VP", "name": "Văn phòng Bộ"}, "title": "Chuyên viên", "roles": ["clerk"],
}



def build_rp(op: FakeOP, tmp_path: Path, **config: Any) -> Flask:
    """A minimal relying party with one public, one private and one role-guarded page."""
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


class Browser:
    """One user's browser: a Flask test client for the app, real HTTP for the provider."""

    def __init__(self, client: FlaskClient, op: FakeOP) -> None:
        self.client, self.op = client, op

    def start_login(self, next_path: str = "/") -> str:
        """Open the app's sign-in route; returns the /authorize URL it redirects to."""
        response = self.client.get("/auth/login", query_string={"next": next_path})
        assert response.status_code == 302, response.text
        return response.headers["Location"]

    def authorize(self, authorize_url: str) -> str:
        """Visit the provider's /authorize; returns where it sends the browser back."""
        response = requests.get(authorize_url, allow_redirects=False, timeout=5)
        assert response.status_code == 302
        return response.headers["Location"]

    def login(self, next_path: str = "/") -> TestResponse:
        """The whole sign-in: app → provider → app callback. Returns the callback response."""
        return self.client.get(self.authorize(self.start_login(next_path)))

    def csrf(self) -> str:
        """The CSRF token of this browser's session (as a rendered form would carry it)."""
        with self.client.session_transaction() as session:
            if "_csrf" not in session:
                session["_csrf"] = "test-csrf-token"
            return session["_csrf"]

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> TestResponse:
        return self.client.post(path, data={"csrf_token": self.csrf(), **(data or {})}, **kwargs)
