"""Side-by-side benchmark: IDP (SQLite and PostgreSQL) against panva's oidc-provider.

Run through ``bench/run``, which installs what is needed first.  This script starts the
three servers, runs every row for each (alternating the order each round and keeping
each target's best round, since the machine is shared), measures memory, stops every
server it started, and writes bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import report
import rows
import targets
from harness import Server

HERE = Path(__file__).resolve().parent


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per row and target (max 60)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per row; the best is kept (max 5)")
    parser.add_argument("--sessions", type=int, default=100_000, help="sessions for the memory row")
    parser.add_argument("--backends", default="sqlite,postgres", help="ours: sqlite, postgres or both")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="gunicorn workers")
    parser.add_argument("--rows", default=",".join(rows.ROWS), help="which rows to run")
    parser.add_argument("--out", default=str(HERE / "RESULTS.md"))
    args = parser.parse_args(argv)
    args.duration = max(1, min(args.duration, 60))
    args.rounds = max(1, min(args.rounds, 5))
    args.sessions = max(0, min(args.sessions, 1_000_000))
    return args


def best(a: rows.Measurement | None, b: rows.Measurement) -> rows.Measurement:
    if a is None or not a.ok:
        return b
    return b if b.ok and b.rate > a.rate else a


def run_rows(prepared: dict, names: list[str], args) -> dict:
    """Each row for each target, rounds times, alternating the order; best round kept."""
    results: dict = {row: {} for row in names}
    order = list(prepared)
    for row in names:
        for round_no in range(args.rounds):
            for name in order if round_no % 2 == 0 else reversed(order):
                got = rows.measure(row, prepared[name], args.duration)
                results[row][name] = best(results[row].get(name), got)
                shown = f"{got.rate:8.1f}/s" if got.ok else f"error: {got.error}"
                print(f"  {row:20} {name:16} round {round_no + 1}: {shown}", flush=True)
    return results


def memory(server: Server) -> dict:
    m = server.memory()
    return {"total_rss": m.total_rss, "worker_rss": m.worker_rss, "total_pss": m.total_pss}


def fill_sessions(prepared: dict, count: int, admin_port: int) -> dict:
    """100,000 active sessions: DB rows for ours, Session saves in the peer's adapter."""
    out: dict = {}
    for name, item in prepared.items():
        began = time.monotonic()
        if name == "peer":
            request = urllib.request.Request(f"http://127.0.0.1:{admin_port}/sessions?count={count}",
                                             method="POST")
            with urllib.request.urlopen(request, timeout=600) as response:
                out[name] = json.loads(response.read())
        else:
            done = subprocess.run([str(targets.VENV / "python"), str(HERE / "seed_sessions.py"), str(count)],
                                  env=item.env, capture_output=True, text=True, timeout=600, check=True)
            out[name] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"  sessions {name:16} {count} in {time.monotonic() - began:.1f} s", flush=True)
    return out


def settle(prepared: dict, seconds: int = 3) -> None:
    """A short sign-in load so that each server touches its session store after filling it."""
    for item in prepared.values():
        try:
            rows.driver.run("signin", item.target, 1, seconds)
        except Exception as exc:  # noqa: BLE001 (reported, not fatal: the row still has RSS)
            print(f"  settle {item.target.name}: {exc}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    argon2 = targets.argon2_settings()
    creds = targets.Credentials.new(argon2)
    work = Path(tempfile.mkdtemp(prefix="idp-bench-"))
    ports = {"sqlite": 5711, "postgres": 5712}
    prepared: dict = {}
    for backend in [b for b in args.backends.split(",") if b]:
        print(f"preparing ours on {backend}", flush=True)
        prepared[f"ours-{backend}"] = targets.prepare_ours(backend, ports[backend], args.workers, creds,
                                                           work / backend)
    prepared["peer"] = targets.prepare_peer(5713, 5714, creds, work / "peer")
    data: dict = {"args": vars(args), "argon2": argon2, "work": str(work)}
    try:
        for item in prepared.values():
            item.server.start()
        time.sleep(2)
        for item in prepared.values():  # one request each: imports and caches warm
            urllib.request.urlopen(f"{item.target.issuer}/.well-known/openid-configuration", timeout=10).read()
        data["rss_rest"] = {name: memory(item.server) for name, item in prepared.items()}
        data["argon2_ms"] = {"ours": rows.argon2_python_ms(argon2), "peer": rows.argon2_node_ms(argon2)}
        print(f"argon2id CPU ms per hash: {data['argon2_ms']}", flush=True)
        names = [r for r in args.rows.split(",") if r in rows.ROWS]
        data["rows"] = run_rows(prepared, names, args)
        data["rss_loaded"] = {name: memory(item.server) for name, item in prepared.items()}
        if args.sessions:
            data["sessions"] = fill_sessions(prepared, args.sessions, 5714)
            settle(prepared)
            data["rss_sessions"] = {name: memory(item.server) for name, item in prepared.items()}
    finally:
        for item in prepared.values():
            item.server.stop()
    data["command"] = " ".join(["bench/run", shlex.join(argv if argv is not None else sys.argv[1:])]).strip()
    text = report.render(data, list(prepared))
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
