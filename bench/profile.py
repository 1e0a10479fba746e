"""Profile our provider under one row's load with py-spy, and summarise where time goes.

    .venv/bin/pip install py-spy          # a profiling tool: not a project dependency
    .venv/bin/python bench/profile.py client_credentials --seconds 10

Starts ours on SQLite with one gunicorn worker, samples that worker with py-spy while
the row's load runs, and prints the functions with the most samples (inclusive and
self).  The raw collapsed stacks are kept in bench/out/profile-<row>.txt.
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import rows
import targets
from harness import children

OUT = Path(__file__).resolve().parent / "out"


def summarise(collapsed: Path, top: int = 30) -> str:
    inclusive: collections.Counter = collections.Counter()
    own: collections.Counter = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    lines = [f"{total} samples", "", "inclusive:"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in inclusive.most_common(top)]
    lines += ["", "self:"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("row", choices=rows.ROWS)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres"])
    args = parser.parse_args(argv)
    seconds = max(1, min(args.seconds, 60))
    creds = targets.Credentials.new(targets.argon2_settings())
    work = Path(tempfile.mkdtemp(prefix="idp-profile-"))
    prepared = targets.prepare_ours(args.backend, 5721, 1, creds, work)
    OUT.mkdir(exist_ok=True)
    collapsed = OUT / f"profile-{args.row}.txt"
    prepared.server.start()
    try:
        worker = children(prepared.server.pid)[0]
        spy = subprocess.Popen([str(targets.VENV / "py-spy"), "record", "--pid", str(worker), "--format", "raw",
                                "--rate", "200", "--duration", str(seconds + 3), "--output", str(collapsed),
                                "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        result: dict = {}
        load = threading.Thread(target=lambda: result.update(m=rows.measure(args.row, prepared, seconds)))
        load.start()
        load.join(seconds + 120)
        spy.wait(seconds + 60)
    finally:
        prepared.server.stop()
    m = result.get("m")
    if m is not None:
        print(f"{args.row}: {m.rate or 0:.1f}/s, CPU {m.cpu_ms_per_op or 0:.2f} ms/op, errors {m.errors} {m.error or ''}")
    print(summarise(collapsed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
