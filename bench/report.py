"""Render the benchmark's figures as bench/RESULTS.md: context, the table, the targets."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from rows import TITLES
from targets import PEER_DIR, ROOT

MIB = 1024 * 1024


def _cmd(*argv: str) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"


def machine() -> list[str]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    return [f"nproc {os.cpu_count()}, CPU {cpu}, memory {mem:.1f} GiB, {platform.system()} {platform.release()}",
            f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
            "(the machine is shared; see 'How to read it' in bench/README.md)"]


def versions() -> list[str]:
    def dist(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "?"

    peer = json.loads((PEER_DIR / "node_modules" / "oidc-provider" / "package.json").read_text())["version"]
    argon2_node = json.loads((PEER_DIR / "node_modules" / "argon2" / "package.json").read_text())["version"]
    commit = _cmd("git", "-C", str(ROOT), "rev-parse", "--short", "HEAD")
    return [
        f"IDP {commit} (Python {platform.python_version()}, Flask {dist('flask')}, Authlib {dist('authlib')}, "
        f"gunicorn {dist('gunicorn')}, SQLAlchemy {dist('sqlalchemy')}, argon2-cffi {dist('argon2-cffi')}, "
        f"psycopg {dist('psycopg')})",
        f"peer: oidc-provider {peer} on Node.js {_cmd('node', '--version')}, npm argon2 {argon2_node}",
        f"{_cmd('wrk', '--version')}; {_cmd('psql', '--version')}; SQLite {__import__('sqlite3').sqlite_version}",
    ]


def _num(value, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _ratio(ours, peer) -> str:
    return "—" if ours is None or not peer else f"{ours / peer:.2f}×"


def table(data: dict, names: list[str]) -> list[str]:
    ours = [n for n in names if n != "peer"]
    head = ["row", *ours, "peer", *(f"{n} / peer" for n in ours)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def add(label: str, values: dict, digits: int = 1) -> None:
        cells = [_num(values.get(n), digits) for n in [*ours, "peer"]]
        ratios = [_ratio(values.get(n), values.get("peer")) for n in ours]
        lines.append("| " + " | ".join([label, *cells, *ratios]) + " |")

    for row, by_target in data.get("rows", {}).items():
        add(f"**{TITLES[row]}**", {n: m.rate for n, m in by_target.items()})
        add("  p50 latency ms", {n: m.p50_ms for n, m in by_target.items()}, 2)
        add("  p99 latency ms", {n: m.p99_ms for n, m in by_target.items()}, 2)
        add("  server CPU ms / op", {n: m.cpu_ms_per_op for n, m in by_target.items()}, 2)
    rest, loaded = data.get("rss_rest", {}), data.get("rss_loaded", {})
    add("**RSS per worker at rest, MiB** (largest worker)",
        {n: max(v["worker_rss"]) / MIB for n, v in rest.items()})
    add("  RSS of the whole server at rest, MiB", {n: v["total_rss"] / MIB for n, v in rest.items()})
    add("  RSS per worker after the load rows, MiB", {n: max(v["worker_rss"]) / MIB for n, v in loaded.items()})
    sessions = data.get("rss_sessions", {})
    if sessions:
        count = data["args"]["sessions"]
        add(f"**RSS per worker with {count:,} active sessions, MiB**",
            {n: max(v["worker_rss"]) / MIB for n, v in sessions.items()})
        add("  RSS of the whole server with them, MiB", {n: v["total_rss"] / MIB for n, v in sessions.items()})
        add("  session store growth, MiB (ours: database on disk; peer: process RSS)",
            _store_growth(data, names))
    return lines


def _store_growth(data: dict, names: list[str]) -> dict:
    out = {}
    for name in names:
        if name == "peer":
            out[name] = (data["rss_sessions"][name]["total_rss"] - data["rss_loaded"][name]["total_rss"]) / MIB
        else:
            info = data["sessions"][name]
            out[name] = (info["bytes_after"] - info["bytes_before"]) / MIB
    return out


def targets_section(data: dict, names: list[str]) -> list[str]:
    lines = ["## Targets (ratios from this run)", ""]
    results = data.get("rows", {})
    for row in ("client_credentials", "refresh", "discovery", "jwks"):
        if row not in results:
            continue
        peer = results[row].get("peer")
        for name in (n for n in names if n != "peer"):
            ours = results[row].get(name)
            if ours and ours.ok and peer and peer.ok:
                ratio = ours.rate / peer.rate
                lines.append(f"- {TITLES[row]}, {name}: {ratio:.2f}× the peer (target ≥ 1.00×): "
                             f"{'met' if ratio >= 1 else 'NOT met'}")
            else:
                reason = (ours.error if ours else None) or (peer.error if peer else None) or "not measured"
                lines.append(f"- {TITLES[row]}, {name}: no figure ({reason})")
    cores = os.cpu_count() or 1
    for side, ms in data.get("argon2_ms", {}).items():
        ceiling = cores * 1000 / ms
        lines.append(f"- argon2id ceiling ({side}): {cores} cores / {ms:.1f} ms CPU per hash = "
                     f"{ceiling:.1f} sign-ins/s")
        for row in ("signin_c1", "signin_c4"):
            for name in ([n for n in names if n != "peer"] if side == "ours" else ["peer"]):
                got = results.get(row, {}).get(name)
                if got and got.ok:
                    share = got.rate / ceiling
                    verdict = ("met" if share >= 0.85 else "NOT met") if row == "signin_c4" else "c=1: for reference"
                    lines.append(f"  - {TITLES[row]}, {name}: {got.rate:.1f}/s = {share:.0%} of the ceiling "
                                 f"(target ≥ 85%): {verdict}")
    for name, info in data.get("rss_rest", {}).items():
        if name != "peer":
            worst = max(info["worker_rss"]) / MIB
            lines.append(f"- RSS per worker at rest, {name}: {worst:.1f} MiB (target < 100 MiB): "
                         f"{'met' if worst < 100 else 'NOT met'}")
    return lines


def errors_section(data: dict) -> list[str]:
    lines = []
    for row, by_target in data.get("rows", {}).items():
        for name, m in by_target.items():
            if m.error or m.errors:
                lines.append(f"- {row} / {name}: {m.errors} failed operations; first: {m.error}")
    return (["## Errors seen", "", *lines, ""]) if lines else []


def render(data: dict, names: list[str]) -> str:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    args = data["args"]
    out = [
        "# Benchmark results: IDP against oidc-provider", "",
        f"Date: {now}  ", f"Command: `{data['command']}`  ",
        f"Each row: {args['duration']} s per target, best of {args['rounds']} rounds (order alternated); "
        f"ours runs {args['workers']} gunicorn workers, the peer one Node.js process.", "",
        "Machine: " + "; ".join(machine()), "", "Versions:", "", *(f"- {v}" for v in versions()), "",
        f"argon2id parameters (both sides): m={data['argon2']['memoryCost']} KiB, "
        f"t={data['argon2']['timeCost']}, p={data['argon2']['parallelism']}; CPU per hash: "
        + ", ".join(f"{k} {v:.1f} ms" for k, v in data.get("argon2_ms", {}).items()), "",
        "## Figures", "", *table(data, names), "",
        "Ratios are ours / peer: above 1 is better for throughput, below 1 is better for latency, "
        "CPU and memory. See bench/README.md for what each row measures.", "",
        *targets_section(data, names), "", *errors_section(data),
    ]
    return "\n".join(out) + "\n"
