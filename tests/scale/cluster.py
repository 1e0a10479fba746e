"""Two provider processes over one PostgreSQL database, and a browser that talks to both.

    cluster = Cluster(run_dir, database_url)
    a, b = cluster.spawn_pair("database", redis_url=None)  # `idp serve` twice, free ports
    cluster.idp("init")               # the `idp` command against the shared database
    cluster.wait_ready(a, b)
    ...
    cluster.stop()

Each node is ``idp serve`` (gunicorn, production mode) in its own process group, with
its log under the run folder. All nodes share the issuer ``http://127.0.0.1:<port of
the first node A>``: the issuer is an identifier that goes into tokens and metadata,
not an address the nodes must answer on, and a relying party behind a load balancer
sees one issuer.
"""

from __future__ import annotations

import html
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
from sqlalchemy import create_engine, text

from tests.support.constants import TEST_DATA_KEY
from tests.support.net import free_port
from tests.support.pages import csrf_token

IDP = str(Path(sys.executable).with_name("idp"))
# One worker each: two nodes are already two processes that share nothing but the
# database; more workers would add boot time on a shared machine, not coverage.
WORKERS = 1
READY_TIMEOUT = 30.0  # seconds for gunicorn and its workers to answer /healthz
LOCKOUT_THRESHOLD = 4
# Settings common to every node (and to the CLI runs against the same database).
SETTINGS = {
    "IDP_ENV": "production",
    "IDP_SECRET_KEY": "scale-out-test-secret-key-shared-by-all-nodes",
    "IDP_DATA_KEY": TEST_DATA_KEY,
    "IDP_AUDIT_KEY": "scale-out-test-audit-key-shared-by-all-nodes",
    # Cheap argon2id and no growing delays: the test is about sharing, not cost.
    "IDP_ARGON2_MEMORY_KIB": "1024",
    "IDP_ARGON2_TIME_COST": "1",
    "IDP_LOCKOUT_THRESHOLD": str(LOCKOUT_THRESHOLD),
    "IDP_LOCKOUT_DELAY_SECONDS": "0",
    "IDP_LOGOUT_IMMEDIATE": "false",
}


def fresh_database(base: str, name: str) -> str:
    """An empty database ``name`` on ``base``'s server, made through the ``postgres``
    maintenance database; its URL. Raises ``OperationalError`` when PostgreSQL is down.

    A database left by an earlier run is emptied (its ``public`` schema dropped and
    made again) rather than dropped: DROP DATABASE forces a checkpoint, which takes
    5 to 30 s on a server that other suites keep busy.
    """
    parts = urlsplit(base)
    url = urlunsplit(parts._replace(path=f"/{name}"))
    admin = create_engine(urlunsplit(parts._replace(path="/postgres")),
                          isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                  {"n": name}).first()
            if exists:  # nodes of a run that was killed may still hold connections
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE datname = :n AND pid <> pg_backend_pid()"), {"n": name})
            else:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    if exists:
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        finally:
            engine.dispose()
    return url


@dataclass
class Node:
    """One running ``idp serve``."""

    name: str
    url: str
    popen: subprocess.Popen
    log: Path

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(self.url + path, timeout=10, allow_redirects=False, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return requests.post(self.url + path, timeout=10, allow_redirects=False, **kwargs)

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class Cluster:
    """The nodes started for one run, over one database, each with its own log."""

    def __init__(self, run_dir: Path, database_url: str):
        self.run_dir = run_dir
        self.database_url = database_url
        self.issuer_port = free_port()
        self.issuer = f"http://127.0.0.1:{self.issuer_port}"
        self.nodes: list[Node] = []
        run_dir.mkdir(parents=True, exist_ok=True)

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("IDP_") and k != "PROMETHEUS_MULTIPROC_DIR"}
        env.update(SETTINGS, IDP_DATABASE_URL=self.database_url, IDP_ISSUER=self.issuer,
                   IDP_INSTANCE_PATH=str(self.run_dir / "instance"))
        env.update(extra)
        return env

    def idp(self, *args: str) -> str:
        """Run the ``idp`` command against the shared database; its stdout."""
        return self.idp_all([list(args)])[0]

    def idp_all(self, commands: list[list[str]]) -> list[str]:
        """Run several ``idp`` commands side by side; their outputs, in order."""
        started = time.monotonic()
        running = [(args, subprocess.Popen([IDP, *args], env=self.env(), text=True,
                                           stdout=subprocess.PIPE, stderr=subprocess.PIPE))
                   for args in commands]
        outputs = []
        for args, popen in running:
            out, err = popen.communicate(timeout=120)
            with (self.run_dir / "cli.log").open("a") as log:
                log.write(f"$ idp {' '.join(args)}  # done after "
                          f"{time.monotonic() - started:.1f} s\n{out}{err}\n")
            if popen.returncode != 0:
                raise AssertionError(f"idp {' '.join(args)} failed: {err}")
            outputs.append(out)
        return outputs

    def spawn_pair(self, label: str, redis_url: str | None) -> tuple[Node, Node]:
        """Start nodes A and B on free ports; don't wait. The first node of all listens on
        the issuer's port; every node, of every pair, has the same issuer."""
        extra = {"IDP_REDIS_URL": redis_url} if redis_url else {}
        port_a = free_port() if self.nodes else self.issuer_port
        return (self._spawn(f"{label}-a", port_a, extra),
                self._spawn(f"{label}-b", free_port(), extra))

    def _spawn(self, name: str, port: int, extra: dict[str, str]) -> Node:
        log_path = self.run_dir / f"node-{name}.log"
        metrics = self.run_dir / f"metrics-{name}"
        with log_path.open("w") as log:
            popen = subprocess.Popen(
                [IDP, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(WORKERS)],
                env=self.env(PROMETHEUS_MULTIPROC_DIR=str(metrics), **extra),
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        node = Node(name, f"http://127.0.0.1:{port}", popen, log_path)
        self.nodes.append(node)
        return node

    def wait_ready(self, *nodes: Node) -> None:
        """Poll each node's /healthz until it answers 200."""
        for node in nodes:
            self._wait_ready(node)

    def _wait_ready(self, node: Node) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if node.popen.poll() is not None:
                raise AssertionError(f"{node.name} exited:\n{node.log_tail()}")
            try:
                if node.get("/healthz").status_code == 200:
                    return
            except requests.RequestException:  # still booting
                pass
            time.sleep(0.2)
        raise AssertionError(f"{node.name} did not answer /healthz in {READY_TIMEOUT} s:\n"
                             f"{node.log_tail()}")

    def stop(self) -> None:
        """SIGTERM every node's process group (gunicorn and its workers), then SIGKILL."""
        for node in self.nodes:
            if node.popen.poll() is None:
                try:
                    os.killpg(node.popen.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for node in self.nodes:
            try:
                node.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(node.popen.pid, signal.SIGKILL)
                node.popen.wait(timeout=10)
        self.nodes.clear()

    def logs(self) -> str:
        parts = [f"--- {p.name} ---\n" + p.read_text(errors="replace")[-6000:]
                 for p in sorted(self.run_dir.glob("*.log"))]
        return "\n".join(parts)


# --- the browser ------------------------------------------------------------------------

ACTION = re.compile(r'<form method="post" action="([^"]+)"')


class ClusterBrowser:
    """One person's browser: a cookie jar shared by every node (cookies ignore ports)."""

    def __init__(self):
        self.session = requests.Session()

    def get(self, url: str, **kwargs) -> requests.Response:
        return self.session.get(url, timeout=10, allow_redirects=False, **kwargs)

    def follow(self, response: requests.Response, stop_at: str, hops: int = 8) -> requests.Response:
        """Follow redirects by hand, on the node that sent them, until one leaves for ``stop_at``."""
        for _ in range(hops):
            location = response.headers.get("Location", "")
            if response.status_code not in (302, 303) or location.startswith(stop_at):
                return response
            response = self.get(urljoin(response.url, location))
        raise AssertionError(f"more than {hops} redirects, last {response.url}")

    def login_form(self, node: Node, path: str = "/login") -> tuple[str, str]:
        """GET the sign-in page; its form action (absolute) and CSRF token."""
        page = self.get(urljoin(node.url, path))
        assert page.status_code == 200, page.text[:500]
        action = html.unescape(ACTION.search(page.text).group(1))
        return urljoin(page.url, action), csrf_token(page.text)

    def sign_in(self, node: Node, username: str, password: str,
                path: str = "/login") -> requests.Response:
        """Submit the sign-in form of ``node`` (GET the form, POST it with its CSRF token)."""
        action, token = self.login_form(node, path)
        return self.session.post(action, timeout=10, allow_redirects=False, data={
            "csrf_token": token, "username": username, "password": password})

    def cookie(self, name: str) -> str | None:
        return self.session.cookies.get(name)


