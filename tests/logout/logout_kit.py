"""Helpers for the logout tests: a client's logout endpoint, and reading forms back."""

from __future__ import annotations

import html as html_lib
import re
import socket
import threading
import time

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def hidden_fields(html: str) -> dict[str, str]:
    return {name: html_lib.unescape(value)
            for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html)}


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
        self.delay = 0.0  # seconds to wait before answering (a slow client)
        self._server = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/backchannel-logout"

    def __call__(self, environ, start_response):
        request = Request(environ)
        time.sleep(self.delay)
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
