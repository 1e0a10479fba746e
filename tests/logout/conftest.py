"""Fixtures for single logout: a real HTTP receiver, clients with logout URIs, ID tokens."""

from __future__ import annotations

import re
import socket
import threading
import time
from datetime import timedelta

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Receiver:
    """A client's back-channel logout endpoint: a tiny WSGI app on 127.0.0.1:<port>.

    It is down (the port closed) until ``start()``; ``stop()`` closes it again.
    """

    def __init__(self) -> None:
        self.port = _free_port()
        self.received: list[dict] = []
        self.status = 200
        self._server = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/backchannel-logout"

    def __call__(self, environ, start_response):
        request = Request(environ)
        with self._lock:
            self.received.append({
                "method": request.method, "path": request.path,
                "content_type": request.mimetype, "form": request.form.to_dict(flat=False),
            })
        return Response(status=self.status, headers={"Cache-Control": "no-store"})(
            environ, start_response)

    def start(self) -> "Receiver":
        self._server = make_server("127.0.0.1", self.port, self, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._server = None

    def tokens(self) -> list[str]:
        with self._lock:
            return [item["form"]["logout_token"][0] for item in self.received]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.received) < count:
            time.sleep(0.02)
        return self.tokens()


@pytest.fixture
def receiver():
    rec = Receiver()
    yield rec
    rec.stop()


@pytest.fixture
def make_rp(app):
    """Register a relying party with logout URIs: make_rp("mail", backchannel=uri, ...)."""
    from idp.services import clients

    def make(client_id: str, *, backchannel: str | None = None, frontchannel: str | None = None,
             post_logout: list[str] | None = None, **extra):
        row, _secret = clients.create_client(
            f"App {client_id}", client_type="web", client_id=client_id,
            redirect_uris=[f"http://127.0.0.1:9000/{client_id}/callback"],
            post_logout_redirect_uris=post_logout or [],
            backchannel_logout_uri=backchannel, frontchannel_logout_uri=frontchannel,
            trusted=True, **extra,
        )
        return row

    return make


@pytest.fixture
def id_token(app):
    """Sign an ID token as /token would: id_token(user, client_id, sid=..., **overrides)."""
    from idp.models import utcnow
    from idp.services import keys

    def make(user, client_id: str, *, sid: str | None = None, expired: bool = False,
             alg: str = "RS256", **overrides) -> str:
        now = utcnow() - (timedelta(hours=2) if expired else timedelta())
        claims = {
            "iss": app.config["ISSUER"], "sub": user.sub, "aud": client_id,
            "iat": int(now.timestamp()), "exp": int((now + timedelta(minutes=10)).timestamp()),
            "auth_time": int(now.timestamp()), "nonce": "n-0S6_WzA2Mj",
        }
        if sid:
            claims["sid"] = sid
        claims.update(overrides)
        return keys.sign({k: v for k, v in claims.items() if v is not None}, alg=alg)

    return make


@pytest.fixture
def other_user(app, department):
    from idp.services import users

    created, _ = users.create_user(
        "cuong.le", email="cuong.le@example.gov.vn", full_name="Lê Văn Cường",
        password="Hồ Gươm xanh biếc 2026", department=department.code,
    )
    return created
