"""Start the provider and the demo apps as real processes, for tests that need a live stack.

The provider runs as ``idp demo --no-apps`` (database migrated, signing keys made, demo
staff and the three demo apps registered, werkzeug's threaded server) and writes the
demo clients' secrets to a file (``--secrets-file``); each demo app then runs as
``python -m clients.<app>`` with its secret. Every process gets its own loopback
address (cookies ignore ports, so distinct hosts keep their cookies apart), a free
port, and a log file; the whole run lives in one fresh folder.

    stack = Stack(run_dir, "127.0.10", database_url=None)
    stack.start()
    ...  # stack.provider, stack.apps["docs"], stack.idp("client", "create", ...)
    stack.stop()
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests
from sqlalchemy import create_engine, text

from tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[2]
IDP = Path(sys.executable).with_name("idp")
# The demo apps: client_id -> (module, env prefix, host suffix on the worker's subnet).
DEMO_APPS = {
    "docs": ("clients.docs_app", "DOCS", 2),
    "webmail": ("clients.webmail", "WEBMAIL", 3),
    "onestop": ("clients.onestop", "ONESTOP", 4),
}
READY_TIMEOUT = 90.0  # seconds; the first start migrates the database and makes RSA keys


class StackError(RuntimeError):
    """A process of the stack did not start; the message names its log."""


def e2e_database_url(base: str, suffix: str) -> str:
    """A fresh PostgreSQL database named after ``base``'s, e.g. ``test_x_e2e_gw0``.

    Dropped and created again through the ``postgres`` maintenance database, so each
    run starts from an empty schema that ``idp demo`` migrates.
    """
    parts = urlsplit(base)
    name = f"{parts.path.lstrip('/') or 'test'}_{suffix}"
    admin = create_engine(urlunsplit(parts._replace(path="/postgres")), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return urlunsplit(parts._replace(path=f"/{name}"))


@dataclass
class Process:
    """One started server: its name, base URL, process and log file."""

    name: str
    url: str
    popen: subprocess.Popen
    log: Path

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@dataclass
class Stack:
    """The provider and the demo apps of one test worker.

    ``subnet`` is the first three octets of the worker's loopback addresses
    (``127.0.10`` gives the provider ``127.0.10.1``, docs ``.2``, webmail ``.3``,
    one-stop shop ``.4``; extra app instances take ``.5`` and up).
    """

    run_dir: Path
    subnet: str
    database_url: str | None = None
    processes: list[Process] = field(default_factory=list)
    provider: str = ""
    apps: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)

    @property
    def log_dir(self) -> Path:
        return self.run_dir / "logs"

    def address(self, suffix: int) -> str:
        return f"{self.subnet}.{suffix}"

    def start(self) -> None:
        """Start the provider, then the three demo apps, each waited for until it answers."""
        shutil.rmtree(self.run_dir, ignore_errors=True)
        self.log_dir.mkdir(parents=True)
        for client_id, (_module, _prefix, suffix) in DEMO_APPS.items():
            host = self.address(suffix)
            self.apps[client_id] = f"http://{host}:{free_port(host)}"
        self._start_provider()
        for client_id, (module, prefix, _suffix) in DEMO_APPS.items():
            self.start_app(module, prefix, self.apps[client_id], client_id, self.secrets[client_id])

    def provider_env(self) -> dict[str, str]:
        """The environment of the provider and of ``idp`` commands run beside it."""
        env = _clean_env()
        env.update(IDP_ENV="development", IDP_ISSUER=self.provider,
                   IDP_INSTANCE_PATH=str(self.run_dir / "instance"), IDP_LOG_LEVEL="INFO")
        if self.database_url:
            env["IDP_DATABASE_URL"] = self.database_url
        for client_id, (_module, prefix, _suffix) in DEMO_APPS.items():
            env[f"{prefix}_URL"] = self.apps[client_id]  # registered redirect/logout URIs
        return env

    def _start_provider(self) -> None:
        host = self.address(1)
        port = free_port(host)
        self.provider = f"http://{host}:{port}"
        secrets_file = self.run_dir / "demo-secrets.json"
        proc = self._spawn("provider", self.provider, [
            str(IDP), "demo", "--no-apps", "--host", host, "--port", str(port),
            "--secrets-file", str(secrets_file)], self.provider_env())
        self._wait(proc, "/.well-known/openid-configuration")
        self.secrets = json.loads(secrets_file.read_text())

    def start_app(self, module: str, prefix: str, url: str, client_id: str,
                  secret: str | None, name: str | None = None) -> Process:
        """Start one demo app (``module``, env ``prefix``) at ``url`` as ``client_id``."""
        name = name or client_id
        env = _clean_env()
        for other, (_module, other_prefix, _suffix) in DEMO_APPS.items():
            env[f"{other_prefix}_URL"] = self.apps[other]
        env.update({
            f"{prefix}_URL": url, f"{prefix}_ISSUER": self.provider,
            f"{prefix}_CLIENT_ID": client_id, f"{prefix}_CLIENT_SECRET": secret or "",
            f"{prefix}_DATABASE": str(self.run_dir / "apps" / f"{name}.sqlite3"),
        })
        (self.run_dir / "apps").mkdir(exist_ok=True)
        parts = urlsplit(url)
        proc = self._spawn(name, url, [sys.executable, "-m", module, "--host", parts.hostname,
                                       "--port", str(parts.port)], env)
        self._wait(proc, "/")
        return proc

    def idp(self, *args: str) -> str:
        """Run an ``idp`` command against the stack's database; returns its output."""
        done = subprocess.run([str(IDP), *args], env=self.provider_env(), cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise StackError(f"idp {' '.join(args)} failed ({done.returncode}): {done.stderr}")
        return done.stdout

    def _spawn(self, name: str, url: str, argv: list[str], env: dict[str, str]) -> Process:
        log = self.log_dir / f"{name}.log"
        with open(log, "wb") as out:
            popen = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        proc = Process(name, url, popen, log)
        self.processes.append(proc)
        return proc

    def _wait(self, proc: Process, path: str) -> None:
        """Poll ``path`` until it answers 200; fail early when the process dies."""
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if proc.popen.poll() is not None:
                raise StackError(f"{proc.name} exited with {proc.popen.returncode}; log {proc.log}:\n"
                                 f"{proc.log_tail()}")
            try:
                if requests.get(proc.url + path, timeout=2, allow_redirects=False).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise StackError(f"{proc.name} did not answer {proc.url}{path} within {READY_TIMEOUT:.0f}s; "
                         f"log {proc.log}:\n{proc.log_tail()}")

    def stop(self) -> None:
        """Terminate every started process (their whole process groups), apps first."""
        for proc in reversed(self.processes):
            if proc.popen.poll() is None:
                os.killpg(proc.popen.pid, signal.SIGTERM)
        for proc in reversed(self.processes):
            try:
                proc.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.popen.pid, signal.SIGKILL)
                proc.popen.wait(timeout=10)
        self.processes.clear()


def _clean_env() -> dict[str, str]:
    """This process's environment without what would confuse the children."""
    env = dict(os.environ)
    for key in list(env):
        if key.startswith(("IDP_", "DOCS_", "WEBMAIL_", "ONESTOP_", "SSO_", "FLASK_")):
            del env[key]
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = str(ROOT)
    return env
