"""Fixtures of the sign-in tests: a browser that fills forms with their real CSRF token,
a local SMTP server that keeps what it receives, and TOTP helpers."""

from __future__ import annotations

import re
import socket
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

import pyotp
import pytest

from idp.extensions import db
from tests.conftest import PASSWORD  # noqa: F401  (re-exported for the tests)

TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token of the first form of a page, as a browser would send it."""
    match = TOKEN_RE.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


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


@pytest.fixture
def browser(app, client) -> Browser:
    return Browser(client, app)


def text(response) -> str:
    return response.get_data(as_text=True)


# --- TOTP -----------------------------------------------------------------------------


def code_at(secret: str, offset_steps: int = 0) -> str:
    """The TOTP code for now plus ``offset_steps`` time-steps of 30 seconds."""
    return pyotp.TOTP(secret).at(time.time() + 30 * offset_steps)


@dataclass
class Phone:
    """An authenticator app: the enrolled secret, and the recovery codes shown once."""

    secret: str
    recovery_codes: list[str]

    def code(self, offset_steps: int = 0) -> str:
        return code_at(self.secret, offset_steps)


@pytest.fixture
def phone(app, user) -> Phone:
    """Give ``user`` a confirmed authenticator (enrolled with the previous step's code)."""
    from idp.services import mfa

    secret = mfa.new_secret()
    codes = mfa.enrol(user, secret, code_at(secret, -1))
    assert codes is not None
    db.session.commit()  # the test is the boundary for what it sets up by hand
    return Phone(secret, codes)


# --- a real SMTP server -------------------------------------------------------------------


@dataclass
class Mailbox:
    messages: list[EmailMessage] = field(default_factory=list)

    def wait(self, count: int = 1, timeout: float = 5.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.messages


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def mailbox(app):
    """An aiosmtpd server on 127.0.0.1:<free port>; the app sends its mail there."""
    from aiosmtpd.controller import Controller

    box = Mailbox()

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            box.messages.append(message_from_bytes(envelope.content, policy=policy.default))
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port)
    yield box
    controller.stop()
