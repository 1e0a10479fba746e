"""The measured rows: one function per row, each returning a Measurement for one target.

Server CPU per operation is read from /proc around the load (the whole process tree of
the server: gunicorn master and workers, or node with its libuv threads), divided by
the operations that succeeded.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass

import driver
import wrk
from targets import PEER_DIR, Prepared

ROWS = ("discovery", "jwks", "client_credentials", "refresh", "signin_c1", "signin_c4")
TITLES = {
    "discovery": "discovery GET/s (wrk, c=8)",
    "jwks": "JWKS GET/s (wrk, c=8)",
    "client_credentials": "client_credentials tokens/s (wrk, c=8)",
    "refresh": "refresh-token grants/s (driver, c=8)",
    "signin_c1": "sign-in round trips/s (driver, c=1)",
    "signin_c4": "sign-in round trips/s (driver, c=4)",
}


@dataclass
class Measurement:
    rate: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    cpu_ms_per_op: float | None = None
    ops: int = 0
    errors: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.rate is not None and self.ops > 0


def _measure(prepared: Prepared, load) -> Measurement:
    """Run load() between two CPU readings of the server's process tree."""
    marks: dict[str, float] = {}

    def start() -> None:
        marks["cpu"] = prepared.server.cpu()

    try:
        result = load(start)
    except (RuntimeError, driver.FlowError, OSError, ValueError, KeyError) as exc:
        return Measurement(error=f"{type(exc).__name__}: {exc}"[:300])
    used = prepared.server.cpu() - marks.get("cpu", prepared.server.cpu())
    ops = result.ops
    percentile = getattr(result, "percentile", None)
    return Measurement(
        rate=result.rate if ops else None,
        p50_ms=percentile(50) if percentile else result.p50_ms,
        p99_ms=percentile(99) if percentile else result.p99_ms,
        cpu_ms_per_op=used * 1000 / ops if ops else None,
        ops=ops, errors=result.errors, error=result.first_error,
    )


def _wrk(prepared: Prepared, path: str, duration: int, **kwargs) -> Measurement:
    def load(start):
        start()
        return wrk.run(f"{prepared.target.issuer}{path}", duration=duration, **kwargs)

    return _measure(prepared, load)


def _flow(prepared: Prepared, flow: str, concurrency: int, duration: int) -> Measurement:
    def load(start):
        return driver.run(flow, prepared.target, concurrency, duration, on_start=start)

    return _measure(prepared, load)


def token_path(prepared: Prepared) -> str:
    meta = prepared.target.discover()
    return meta["token_endpoint"].removeprefix(prepared.target.issuer)


def measure(row: str, prepared: Prepared, duration: int) -> Measurement:
    if row == "discovery":
        return _wrk(prepared, "/.well-known/openid-configuration", duration)
    if row == "jwks":
        meta = prepared.target.discover()
        return _wrk(prepared, meta["jwks_uri"].removeprefix(prepared.target.issuer), duration)
    if row == "client_credentials":
        try:
            path = token_path(prepared)
        except (OSError, ValueError, KeyError) as exc:
            return Measurement(error=f"no token endpoint in discovery: {exc}")
        return _wrk(prepared, path, duration, method="POST", body="grant_type=client_credentials",
                    auth=wrk.basic(*prepared.cc))
    if row == "refresh":
        return _flow(prepared, "refresh", 8, duration)
    if row.startswith("signin_c"):
        return _flow(prepared, "signin", int(row.removeprefix("signin_c")), duration)
    raise ValueError(row)


# --- argon2id: CPU time of one hash at the configured parameters ------------------------

def argon2_python_ms(params: dict, count: int = 10) -> float:
    """CPU milliseconds of one argon2-cffi hash (what our sign-in pays per password check)."""
    from argon2 import PasswordHasher, Type

    hasher = PasswordHasher(time_cost=params["timeCost"], memory_cost=params["memoryCost"],
                            parallelism=params["parallelism"], type=Type.ID)
    hasher.hash("warm-up password")
    began = time.process_time()
    for i in range(count):
        hasher.hash(f"benchmark password {i}")
    return (time.process_time() - began) * 1000 / count


NODE_ARGON2 = """
const argon2 = require('argon2');
const p = JSON.parse(process.argv[1]);
(async () => {
  const o = { type: argon2.argon2id, ...p };
  await argon2.hash('warm-up password', o);
  const before = process.cpuUsage();
  for (let i = 0; i < %d; i += 1) await argon2.hash('benchmark password ' + i, o);
  const used = process.cpuUsage(before);
  console.log((used.user + used.system) / 1000 / %d);
})();
"""


def argon2_node_ms(params: dict, count: int = 10) -> float:
    """CPU milliseconds of one hash with the npm argon2 package (what the peer pays)."""
    out = subprocess.run(["node", "-e", NODE_ARGON2 % (count, count), json.dumps(params)],
                         cwd=PEER_DIR, capture_output=True, text=True, timeout=120, check=True)
    return float(out.stdout.strip())
