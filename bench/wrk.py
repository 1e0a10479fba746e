"""Run wrk for one fixed request and read back its figures (see bench/wrk/request.lua)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "wrk" / "request.lua"


@dataclass
class WrkResult:
    ops: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    first_error: str | None = None

    @property
    def rate(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def run(url: str, *, connections: int = 8, threads: int = 2, duration: int = 10,
        method: str = "GET", body: str = "", auth: str = "") -> WrkResult:
    """wrk -c connections for duration seconds; errors count non-200 answers too."""
    env = {**os.environ, "BENCH_METHOD": method, "BENCH_BODY": body, "BENCH_AUTH": auth}
    argv = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s",
            "--timeout", "10s", "-s", str(SCRIPT), url]
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=duration + 60)
    line = next((x for x in out.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr or out.stdout}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    errors = data["errors"] + data["not_200"]
    return WrkResult(
        ops=data["requests"] - errors, errors=errors, seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000, p99_ms=data["p99_us"] / 1000,
        first_error=f"{errors} answers were not 200" if errors else None,
    )
