"""`idp serve`: gunicorn with workers from the cores; production refuses development defaults."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.support.constants import TEST_DATA_KEY
from tests.support.observe import sample

IDP = str(Path(sys.executable).parent / "idp")
PRODUCTION = {
    "IDP_SECRET_KEY": "a-long-random-secret-key-for-tests",
    "IDP_DATA_KEY": TEST_DATA_KEY,
    "IDP_AUDIT_KEY": "a-long-random-audit-key-for-tests",
    "IDP_ISSUER": "https://idp.example.gov.vn",
    "IDP_ALLOW_SQLITE": "true",
}


def _env(tmp_path, **settings) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("IDP_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env["IDP_INSTANCE_PATH"] = str(tmp_path)
    env.update(settings)
    return env


@pytest.mark.parametrize("settings, message", [
    ({}, "IDP_SECRET_KEY must be set in production mode."),
    ({"IDP_SECRET_KEY": "s"}, "IDP_DATA_KEY must be set in production mode."),
    ({"IDP_SECRET_KEY": "s", "IDP_DATA_KEY": TEST_DATA_KEY},
     "IDP_DATABASE_URL must be set in production mode."),
    ({"IDP_SECRET_KEY": "s", "IDP_DATA_KEY": TEST_DATA_KEY,
      "IDP_DATABASE_URL": "sqlite:////tmp/idp.sqlite3"},
     "IDP_DATABASE_URL is SQLite; set a PostgreSQL URL or IDP_ALLOW_SQLITE=true"),
    ({**PRODUCTION, "IDP_DATABASE_URL": "sqlite:////tmp/idp.sqlite3",
      "IDP_ISSUER": "http://idp.example.gov.vn"},
     "IDP_ISSUER must be https in production mode"),
    ({**PRODUCTION, "IDP_DATABASE_URL": "sqlite:////tmp/idp.sqlite3",
      "IDP_METRICS_ALLOW": "10.0.0.0/8 nonsense"}, "IDP_METRICS_ALLOW is malformed"),
    ({**{k: v for k, v in PRODUCTION.items() if k != "IDP_AUDIT_KEY"},
      "IDP_DATABASE_URL": "sqlite:////tmp/idp.sqlite3"}, "IDP_AUDIT_KEY must be set in production"),
], ids=["secret-key", "data-key", "database", "sqlite", "http-issuer", "metrics-allow",
        "audit-key"])
def test_production_refuses_development_defaults(tmp_path, settings, message):
    result = subprocess.run([IDP, "serve", "--port", "1"], env=_env(tmp_path, **settings),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"Error: {message}" in result.stderr
    assert "Traceback" not in result.stderr
    # Nothing was generated in the instance folder in production mode.
    assert not (tmp_path / "secret_key").exists() and not (tmp_path / "data_key").exists()
    assert not (tmp_path / "audit_key").exists()


@pytest.mark.parametrize("cores, expected", [(1, "3"), (2, "5"), (16, "8")])
def test_worker_count_follows_the_cores(runner, monkeypatch, cores, expected, tmp_path):
    calls = []
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    monkeypatch.setattr(os, "execvpe", lambda file, argv, env: calls.append((argv, env)))
    stale = tmp_path / "prom"
    stale.mkdir()
    (stale / "counter_123.db").write_bytes(b"old")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(stale))
    result = runner.invoke(["serve", "--dev", "--port", "8001"])
    assert result.exit_code == 0, result.output
    argv, env = calls[0]
    assert argv[argv.index("--workers") + 1] == expected
    assert argv[argv.index("--bind") + 1] == "127.0.0.1:8001"
    # Forwarded headers are the app's business (IDP_TRUSTED_PROXIES), not gunicorn's.
    assert argv[argv.index("--forwarded-allow-ips") + 1] == ""
    assert argv[-1] == "idp.wsgi:app" and env["IDP_ENV"] == "development"
    assert list(stale.iterdir()) == []  # counters of the previous run are gone


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, process: subprocess.Popen, seconds: float = 60) -> requests.Response:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"idp serve exited: {process.stderr.read()}")
        try:
            return requests.get(url, timeout=5)
        except (requests.ConnectionError, requests.Timeout):  # still booting
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer in {seconds} s")


@pytest.mark.live
def test_serve_runs_the_provider_in_production_mode(tmp_path):
    env = _env(tmp_path, **PRODUCTION, IDP_DATABASE_URL=f"sqlite:///{tmp_path / 'idp.sqlite3'}",
               PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom"))
    init = subprocess.run([IDP, "init"], env=env, capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stderr
    port = _free_port()
    process = subprocess.Popen([IDP, "serve", "--port", str(port), "--workers", "2"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        health = _wait_for(f"http://127.0.0.1:{port}/healthz", process)
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        ready = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
        assert ready.status_code == 200, ready.text
        for _ in range(4):
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        # Two worker processes answered; the scrape adds up both (PROMETHEUS_MULTIPROC_DIR).
        assert sample(metrics, "idp_http_requests_total",
                      endpoint="ops.healthz", method="GET", status="200") >= 5
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).headers[
            "Strict-Transport-Security"]  # the issuer is https
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "Booting worker" in err
