"""A live provider on a free loopback port, for relying parties that speak real HTTP."""

from __future__ import annotations

import socket
import threading

import pytest
from werkzeug.serving import make_server


@pytest.fixture
def port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def config(config, port):
    """The issuer must be the address the relying party reaches (OIDC Discovery §4.3)."""
    config["ISSUER"] = f"http://127.0.0.1:{port}"
    return config


@pytest.fixture
def live_server(app, port):
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app.config["ISSUER"]
    server.shutdown()
    thread.join(timeout=5)
