"""Real sockets for the tests: free ports, a live threaded server, requests released at once,
a local SMTP mailbox and a client's back-channel logout endpoint."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class LiveServer:
    """The app on 127.0.0.1:<free port>, one thread per request (werkzeug threaded)."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.thread.join(10)


def run_at_once(count: int, work) -> list:
    """Run ``work(i)`` in ``count`` threads released together; return results in order."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(index: int) -> None:
        barrier.wait(30)
        try:
            results[index] = work(index)
        except Exception as exc:  # noqa: BLE001  (reported by the test's assertions)
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results


@dataclass
class Mailbox:
    """What the local SMTP server received."""

    messages: list[EmailMessage] = field(default_factory=list)

    def wait(self, count: int = 1, timeout: float = 5.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.messages


class Receiver:
    """A client's back-channel logout endpoint: a tiny WSGI app on 127.0.0.1:<port>.

    It is down (the port closed) until ``start()``; ``stop()`` closes it again.
    """

    def __init__(self) -> None:
        self.port = free_port()
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
