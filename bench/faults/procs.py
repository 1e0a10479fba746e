"""The processes a fault run starts and stops: its own PostgreSQL cluster (never the shared
one on 5432), provider processes under gunicorn (`idp serve`), the logout worker, and a
relying party's back-channel logout receiver. Everything on loopback, everything bounded."""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv" / "bin"
PG_PORT = int(os.environ.get("FAULTS_PG_PORT", "55432"))
PG_DIR = Path(os.environ.get("FAULTS_PG_DIR", "/tmp/idp-faults-pg"))
DATA_KEY = "5cJ9gHk8bX6p4Q1vM2zR7tW0yA3sD5fG8hJ1kL4nP6o="


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise SystemExit(f"PostgreSQL's {name} is not installed (/usr/lib/postgresql/*/bin).")
    return found[-1]


def _as_postgres(argv: list[str]) -> list[str]:
    return argv if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--", *argv]


class Cluster:
    """A throwaway PostgreSQL cluster on PG_PORT with trust auth, data under PG_DIR."""

    url = f"postgresql+psycopg://postgres@127.0.0.1:{PG_PORT}/idp_faults"

    def init(self) -> None:
        self.stop(quiet=True)
        if PG_DIR.exists():
            shutil.rmtree(PG_DIR)
        PG_DIR.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(PG_DIR, "postgres", "postgres")
        subprocess.run(_as_postgres([_pg_bin("initdb"), "-D", str(PG_DIR / "data"), "-U",
                                     "postgres", "--auth=trust", "-E", "UTF8"]),
                       check=True, stdout=subprocess.DEVNULL)
        self.start()
        subprocess.run(_as_postgres([_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(PG_PORT),
                                     "-U", "postgres", "idp_faults"]), check=True)

    def start(self) -> None:
        subprocess.run(_as_postgres([_pg_bin("pg_ctl"), "-D", str(PG_DIR / "data"), "-w", "-t",
                                     "30", "-l", str(PG_DIR / "log"), "-o",
                                     f"-p {PG_PORT} -k /tmp -c listen_addresses=127.0.0.1",
                                     "start"]), check=True, stdout=subprocess.DEVNULL)

    def stop(self, quiet: bool = False) -> None:
        if not (PG_DIR / "data" / "postmaster.pid").exists():
            return
        subprocess.run(_as_postgres([_pg_bin("pg_ctl"), "-D", str(PG_DIR / "data"), "-w", "-m",
                                     "fast", "stop"]), check=not quiet,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def provider_env(cluster: Cluster, issuer: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "IDP_ENV": "production", "IDP_ISSUER": issuer, "IDP_DATABASE_URL": cluster.url,
        "IDP_SECRET_KEY": "faults-secret-key-" + "x" * 24, "IDP_DATA_KEY": DATA_KEY,
        "IDP_AUDIT_KEY": "faults-audit-key-" + "x" * 24,
        "IDP_LOG_LEVEL": "WARNING", "IDP_LOGOUT_RETRY_BASE": "1", "IDP_LOGOUT_RETRY_MAX": "2",
        "IDP_LOGOUT_IMMEDIATE": "false", "IDP_LOGOUT_INLINE_WORKER": "false",
        "IDP_LOCKOUT_THRESHOLD": "1000", "IDP_IP_THRESHOLD": "100000",
        "IDP_LOCKOUT_DELAY_AFTER": "1000", "IDP_RATELIMIT_ENABLED": "false", **extra,
    })
    env.pop("IDP_TEST_DATABASE_URL", None)
    return env


class Process:
    """A child in its own process group, so that SIGKILL takes the master and its workers."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path):
        self.name, self.argv, self.env, self.log = name, argv, env, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        handle = self.log.open("ab")
        self.proc = subprocess.Popen(self.argv, env=self.env, cwd=ROOT, stdout=handle,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(25)
            except subprocess.TimeoutExpired:
                self.kill()


def provider(port: int, env: dict[str, str], logs: Path) -> Process:
    return Process(f"provider:{port}", [str(VENV / "idp"), "serve", "--port", str(port),
                                        "--workers", "2"], env, logs / f"provider-{port}.log")


def worker(env: dict[str, str], logs: Path) -> Process:
    return Process("worker", [str(VENV / "idp"), "worker", "--interval", "0.5"], env,
                   logs / "worker.log")


def wait_ready(base: str, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/readyz", timeout=2).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.3)
    return False


class Receiver:
    """A relying party's back-channel logout endpoint; it can go down and come back."""

    def __init__(self, port: int):
        self.port, self.received, self.server = port, [], None
        self._lock = threading.Lock()

    def up(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with owner._lock:
                    owner.received.append(body.decode())
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def seed(env: dict[str, str]) -> dict[str, str]:
    """Migrate, make keys, and register one staff member and two clients (JSON on stdout)."""
    subprocess.run([str(VENV / "idp"), "init"], env=env, cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    code = (
        "import json\nfrom idp import create_app\nfrom idp.services import users, clients\n"
        "app = create_app()\nwith app.app_context():\n"
        "    d = users.create_department('BO', 'Bộ')\n"
        "    for i in range(8):\n"
        "        users.create_user(f'load{i}', email=f'load{i}@example.gov.vn', full_name=f'Tải {i}',"
        " password='Mật khẩu tải thử 2026', department='BO')\n"
        "    c, s = clients.create_client('Tải', client_id='load', trusted=True,"
        " redirect_uris=['http://127.0.0.1:56199/cb'], post_logout_redirect_uris=['http://127.0.0.1:56199/'],"
        " scope='openid profile offline_access')\n"
        "    b, t = clients.create_client('Nhận đăng xuất', client_id='bc', trusted=True,"
        " redirect_uris=['http://127.0.0.1:56199/cb'], backchannel_logout_uri='http://127.0.0.1:56100/bc',"
        " scope='openid profile')\n"
        "    print(json.dumps({'load': s, 'bc': t}))\n")
    out = subprocess.run([str(VENV / "python"), "-c", code], env=env, cwd=ROOT, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])
