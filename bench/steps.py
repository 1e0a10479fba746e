"""Server CPU per HTTP request, step by step, for one sign-in and one refresh (c=1).

    .venv/bin/python bench/steps.py --count 20

Starts ours (SQLite, one gunicorn worker) and the peer, runs the flows one request at
a time, and charges the server's CPU time between two answers to the request that was
answered: a table of CPU ms per step (authorize, sign-in form, password POST, token,
userinfo, refresh, client_credentials, discovery, JWKS) for each side.  Loopback only;
bounded by --count.
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
import tempfile
from pathlib import Path

import requests

import driver
import targets
from harness import run_seconds

STEP = re.compile(r"/[0-9A-Za-z_-]{16,}")  # ids in paths (the peer's interaction uid)


class Meter:
    """Charges server CPU to each answered request, keyed by method and path."""

    current: "Meter | None" = None

    def __init__(self, server) -> None:
        self.server = server
        self.cpu: dict[str, list[float]] = collections.defaultdict(list)
        self.last = run_seconds(server.pid)
        Meter.current = self

    def reset(self) -> None:
        self.last = run_seconds(self.server.pid)

    def hook(self, response: requests.Response, *args, **kwargs) -> None:
        now = run_seconds(self.server.pid)
        path = STEP.sub("/:id", requests.utils.urlparse(response.request.url).path)
        body = response.request.body
        if path.endswith("/token") and body:
            text = body.decode() if isinstance(body, bytes) else body
            path += " " + next((p for p in text.split("&") if p.startswith("grant_type=")), "")
        self.cpu[f"{response.request.method} {path}"].append((now - self.last) * 1000)
        self.last = now


def instrument() -> None:
    """Every requests.Session made from now on reports to the current meter."""
    original = requests.Session.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.hooks["response"].append(lambda response, *a, **k: Meter.current.hook(response))

    requests.Session.__init__ = init


def walk(prepared: targets.Prepared, meter: Meter, count: int) -> None:
    target = prepared.target
    meta = target.discover()
    chain = driver.first_refresh_token(target, meta)
    meter.reset()
    meter.cpu.clear()
    http = requests.Session()
    for _ in range(count):
        driver.sign_in_round_trip(target, meta)
        chain = driver.token(http, target, meta, {"grant_type": "refresh_token", "refresh_token": chain})[
            "refresh_token"]
        http.post(meta["token_endpoint"], data={"grant_type": "client_credentials"}, auth=prepared.cc,
                  timeout=driver.TIMEOUT).raise_for_status()
        http.get(f"{target.issuer}/.well-known/openid-configuration", timeout=driver.TIMEOUT)
        http.get(meta["jwks_uri"], timeout=driver.TIMEOUT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres"])
    args = parser.parse_args(argv)
    count = max(1, min(args.count, 200))
    creds = targets.Credentials.new(targets.argon2_settings())
    work = Path(tempfile.mkdtemp(prefix="idp-steps-"))
    sides = {"ours": targets.prepare_ours(args.backend, 5731, 1, creds, work / "ours"),
             "peer": targets.prepare_peer(5733, 5734, creds, work / "peer")}
    tables: dict[str, dict[str, list[float]]] = {}
    instrument()
    for name, prepared in sides.items():
        prepared.server.start()
        try:
            meter = Meter(prepared.server)
            walk(prepared, meter, count)
            tables[name] = dict(meter.cpu)
        finally:
            prepared.server.stop()
    for name, table in tables.items():
        print(f"\n{name}: server CPU ms per request (mean and median of {count} rounds)")
        for step, values in table.items():
            middle = sorted(values)[len(values) // 2]
            print(f"  {sum(values) / len(values):8.2f}  {middle:8.2f}  {step}  (n={len(values)})")
        print(f"  {sum(sum(v) for v in table.values()) / count:8.2f}  total per round")
    return 0


if __name__ == "__main__":
    sys.exit(main())
