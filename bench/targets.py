"""Prepare and start the two providers: ours (gunicorn via `idp serve`) and the peer.

Both get the same staff member, the same two clients with the same secrets, and the
same argon2id parameters: ``bench-web`` (first-party web app: code flow with PKCE,
rotating refresh tokens, no consent page) and ``bench-cc`` (service: client_credentials).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from driver import Target
from harness import Server

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv" / "bin"
PEER_DIR = ROOT / "bench" / "peer"
REDIRECT_URI = "http://127.0.0.1:9/cb"  # never contacted: the driver stops at the redirect
USERNAME = "bench.user"
SCOPE_WEB = "openid profile email offline_access"


@dataclass
class Credentials:
    password: str
    web_secret: str
    cc_secret: str
    argon2: dict

    @classmethod
    def new(cls, argon2: dict) -> "Credentials":
        return cls(password=f"Qv7-{secrets.token_urlsafe(18)}", web_secret=secrets.token_urlsafe(32),
                   cc_secret=secrets.token_urlsafe(32), argon2=argon2)


@dataclass
class Prepared:
    server: Server
    target: Target
    cc: tuple[str, str]
    env: dict[str, str]


def argon2_settings() -> dict:
    """IDP's configured argon2id parameters (IDP_ARGON2_*), used for both providers."""
    sys.path.insert(0, str(ROOT))
    from idp import config

    values = config.load(os.environ, None)
    return {"memoryCost": values["ARGON2_MEMORY_KIB"], "timeCost": values["ARGON2_TIME_COST"],
            "parallelism": values["ARGON2_PARALLELISM"]}


def _idp(env: dict, *args: str) -> str:
    out = subprocess.run([str(VENV / "idp"), *args], env=env, capture_output=True, text=True,
                         timeout=120)
    if out.returncode:
        raise RuntimeError(f"idp {' '.join(args[:2])} failed: {out.stderr.strip() or out.stdout.strip()}")
    return out.stdout


def database_url(backend: str, work: Path) -> str:
    if backend == "sqlite":
        path = work / "idp.sqlite3"
        path.unlink(missing_ok=True)
        return f"sqlite:///{path}"
    recreate_postgres("idp_bench")
    return "postgresql+psycopg://postgres@127.0.0.1:5432/idp_bench"


def recreate_postgres(name: str) -> None:
    """Drop and create the bench database (loopback, trust auth)."""
    base = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qc"]
    subprocess.run(base + [f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=True, timeout=60)
    subprocess.run(base + [f"CREATE DATABASE {name}"], check=True, timeout=60)


def prepare_ours(backend: str, port: int, workers: int, creds: Credentials, work: Path) -> Prepared:
    """A fresh database, `idp init`, the staff member and clients, then `idp serve`."""
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "IDP_ENV": "production", "IDP_SECRET_KEY": secrets.token_urlsafe(32),
           "IDP_DATA_KEY": _idp(dict(os.environ), "keys", "gen-data-key").strip(),
           "IDP_AUDIT_KEY": secrets.token_urlsafe(32),
           "IDP_DATABASE_URL": database_url(backend, work), "IDP_ALLOW_SQLITE": "true",
           "IDP_ISSUER": f"http://127.0.0.1:{port}", "IDP_INSTANCE_PATH": str(work),
           "IDP_LOG_LEVEL": "WARNING",
           "IDP_RATELIMIT_ENABLED": "false"}  # one load generator: any per-address limit trips
    if os.environ.get("BENCH_IDP_SRC"):
        # Measure another copy of the provider (e.g. with a proposal from bench/proposals applied).
        env["PYTHONPATH"] = os.environ["BENCH_IDP_SRC"]
    _idp(env, "init")
    _idp(env, "user", "create", USERNAME, "--email", "bench.user@example.test", "--name", "Bench User",
         "--password", creds.password)
    web = json.loads(_idp(env, "client", "create", "--name", "Bench web", "--client-id", "bench-web",
                          "--type", "web", "--redirect-uri", REDIRECT_URI, "--grant-type",
                          "authorization_code", "--grant-type", "refresh_token", "--auth-method",
                          "client_secret_basic", "--trusted", "--scope", SCOPE_WEB, "--json"))
    cc = json.loads(_idp(env, "client", "create", "--name", "Bench service", "--client-id", "bench-cc",
                         "--type", "service", "--grant-type", "client_credentials", "--auth-method",
                         "client_secret_basic", "--json"))
    server = Server(name=f"ours-{backend}", env=env, log=work / "server.log", cwd=str(ROOT),
                    argv=[str(VENV / "idp"), "serve", "--port", str(port), "--workers", str(workers)],
                    ready_url=f"http://127.0.0.1:{port}/.well-known/openid-configuration")
    target = Target(name=f"ours-{backend}", issuer=env["IDP_ISSUER"], client_id="bench-web",
                    client_secret=web["client_secret"], redirect_uri=REDIRECT_URI, username=USERNAME,
                    password=creds.password, scope=SCOPE_WEB)
    return Prepared(server=server, target=target, cc=("bench-cc", cc["client_secret"]), env=env)


def prepare_peer(port: int, admin_port: int, creds: Credentials, work: Path) -> Prepared:
    """The peer's settings file, then `node bench/peer/server.js`."""
    work.mkdir(parents=True, exist_ok=True)
    settings = {
        "port": port, "adminPort": admin_port, "argon2": creds.argon2, "firstParty": ["bench-web"],
        "users": [{"username": USERNAME, "password": creds.password, "sub": secrets.token_urlsafe(16),
                   "email": "bench.user@example.test", "name": "Bench User"}],
        "clients": [
            {"client_id": "bench-web", "client_secret": creds.web_secret, "redirect_uris": [REDIRECT_URI],
             "grant_types": ["authorization_code", "refresh_token"]},
            {"client_id": "bench-cc", "client_secret": creds.cc_secret, "redirect_uris": [],
             "grant_types": ["client_credentials"]},
        ],
    }
    path = work / "peer.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(settings, handle)
    env = {**os.environ, "PEER_CONFIG": str(path), "NODE_ENV": "production"}
    server = Server(name="peer", env=env, log=work / "peer.log", cwd=str(PEER_DIR),
                    argv=["node", "--expose-gc", "server.js"],
                    ready_url=f"http://127.0.0.1:{port}/.well-known/openid-configuration")
    target = Target(name="peer", issuer=f"http://127.0.0.1:{port}", client_id="bench-web",
                    client_secret=creds.web_secret, redirect_uri=REDIRECT_URI, username=USERNAME,
                    password=creds.password, scope=SCOPE_WEB,
                    refresh_params={"resource": "urn:bench:api"})
    return Prepared(server=server, target=target, cc=("bench-cc", creds.cc_secret), env=env)
