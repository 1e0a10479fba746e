"""The Flask test client used like a person, and a person's authenticator app."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pyotp

from tests.support.pages import csrf_token


class Browser:
    """The test client, used like a person: open a page, fill its form, send it."""

    def __init__(self, client, app):
        self.client, self.app = client, app

    @staticmethod
    def _fresh() -> None:
        """Forget per-request caches: the test's app context (and so ``g``) outlives requests."""
        from flask import g

        for name in ("sso_session", "_flask_babel"):
            g.pop(name, None)

    def get(self, url: str, **kwargs):
        self._fresh()
        return self.client.get(url, **kwargs)

    def post(self, url: str, **kwargs):
        self._fresh()
        return self.client.post(url, **kwargs)

    def submit(self, url: str, data: dict | None = None, *, page: str | None = None, **kwargs):
        """POST to ``url`` with the CSRF token read from ``page`` (default: ``url`` itself)."""
        form_page = self.get(page or url)
        token = csrf_token(form_page.get_data(as_text=True))
        return self.post(url, data={**(data or {}), "csrf_token": token}, **kwargs)

    def login(self, username: str, password: str, query: str = "", **kwargs):
        return self.submit(f"/login{query}", {"username": username, "password": password},
                           **kwargs)

    def sso_cookie(self) -> str | None:
        cookie = self.client.get_cookie(self.app.config["SSO_COOKIE_NAME"])
        return cookie.value if cookie else None


def code_at(secret: str, offset_steps: int = 0) -> str:
    """The TOTP code for now plus ``offset_steps`` time-steps of 30 seconds (RFC 6238)."""
    return pyotp.TOTP(secret).at(time.time() + 30 * offset_steps)


@dataclass
class Phone:
    """An authenticator app: the enrolled secret, and the recovery codes shown once."""

    secret: str
    recovery_codes: list[str]

    def code(self, offset_steps: int = 0) -> str:
        return code_at(self.secret, offset_steps)
