"""Fault runs against real processes: a provider node killed with SIGKILL under load, the
database stopped under load, a relying party down during back-channel logout (across a
provider restart), then the audit chain. Prints PASS/FAIL lines and a summary; exit 1 on
any FAIL. Run with bench/faults/run (a few minutes)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from driver import REDIRECT, Driver, Seen  # noqa: E402
from procs import (PG_PORT, ROOT, VENV, Cluster, Receiver, provider, provider_env,  # noqa: E402
                   seed, wait_ready, worker)

PORTS = (56001, 56002)
NODES = [f"http://127.0.0.1:{p}" for p in PORTS]
RESULTS: list[tuple[bool, str]] = []


def check(ok: bool, what: str) -> bool:
    RESULTS.append((bool(ok), what))
    print(f"{'PASS' if ok else 'FAIL'}  {what}", flush=True)
    return bool(ok)


def _sql(engine, query: str, **params):
    with engine.connect() as conn:
        return conn.execute(text(query), params).all()


def _counts(engine) -> dict[str, int]:
    return {
        "sessions": _sql(engine, "SELECT count(*) FROM sso_sessions")[0][0],
        "issued": _sql(engine, "SELECT count(*) FROM audit_events "
                               "WHERE event_type = 'token.issued'")[0][0],
    }


def _compare(engine, seen: Seen, before: dict[str, int], label: str) -> None:
    """What the driver saw succeed is in the database exactly once; nothing else appeared
    beyond the requests whose outcome the driver could not know."""
    after = _counts(engine)
    jtis = list(seen.jtis)
    rows = dict(_sql(engine, "SELECT access_jti, count(*) FROM tokens WHERE access_jti = "
                             "ANY(:j) GROUP BY access_jti", j=jtis)) if jtis else {}
    events = dict(_sql(engine, "SELECT details->>'jti', count(*) FROM audit_events WHERE "
                               "event_type = 'token.issued' AND details->>'jti' = ANY(:j) "
                               "GROUP BY 1", j=jtis)) if jtis else {}
    check(jtis and all(rows.get(j) == 1 for j in jtis),
          f"{label}: all {len(jtis)} grants the driver received are stored exactly once")
    check(jtis and all(events.get(j) == 1 for j in jtis),
          f"{label}: each has exactly one token.issued audit event")
    extra = after["issued"] - before["issued"] - len(jtis)
    check(0 <= extra <= seen.unknown,
          f"{label}: {extra} issued beyond what the driver saw (<= {seen.unknown} "
          "requests cut off by the fault)")
    new_sessions = after["sessions"] - before["sessions"]
    check(seen.signins <= new_sessions <= seen.signins + seen.unknown,
          f"{label}: {new_sessions} SSO sessions stored for {seen.signins} sign-ins seen "
          f"(+{seen.unknown} cut off)")
    check(seen.statuses.get(500, 0) == 0, f"{label}: no 500 in {sum(seen.statuses.values())} "
          f"responses ({dict(seen.statuses)})")


def scenario_kill(env, secret, engine, logs) -> None:
    nodes = [provider(p, env, logs) for p in PORTS]
    for node in nodes:
        node.start()
    check(all(wait_ready(n) for n in NODES), "two provider nodes start in production mode")
    before = _counts(engine)
    driver = Driver(NODES, secret)
    driver.run(threads=4, max_seconds=120)
    time.sleep(8)
    nodes[0].kill()
    killed_at = dict(driver.seen.by_node)
    time.sleep(8)
    survivor = driver.seen.by_node[NODES[1]] - killed_at.get(NODES[1], 0)
    check(survivor > 0, f"after SIGKILL of node 1 the other node keeps serving "
          f"({survivor} answers in 8 s)")
    nodes[0].start()
    check(wait_ready(NODES[0]), "the killed node restarts and is ready")
    restarted_from = driver.seen.by_node[NODES[0]]
    time.sleep(8)
    driver.join()
    check(driver.seen.by_node[NODES[0]] > restarted_from, "the restarted node serves again")
    _compare(engine, driver.seen, before, "kill -9")
    for node in nodes:
        node.stop()


def _signed_in(base: str, secret: str) -> tuple[requests.Session, str, str]:
    """A browser with a live SSO session, a CSRF token of a fresh sign-in page, and an
    access token: the inputs with which each endpoint has to reach the database."""
    import re

    form = re.compile(r'name="csrf_token" value="([^"]+)"')
    browser = requests.Session()
    page = browser.get(base + "/login", timeout=20)
    browser.post(base + "/login", timeout=20, allow_redirects=False,
                 headers={"Referer": page.url},
                 data={"username": "load2", "password": "Mật khẩu tải thử 2026",
                       "csrf_token": form.search(page.text).group(1)})
    csrf = form.search(browser.get(base + "/password/forgot", timeout=20).text).group(1)
    import base64
    import hashlib
    import secrets
    from urllib.parse import parse_qs, urlsplit

    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()) \
        .rstrip(b"=").decode()
    auth = browser.get(base + "/authorize", allow_redirects=False, timeout=20, params={
        "client_id": "load", "redirect_uri": REDIRECT, "response_type": "code",
        "scope": "openid", "code_challenge": challenge, "code_challenge_method": "S256"})
    code = parse_qs(urlsplit(auth.headers["Location"]).query)["code"][0]
    token = requests.post(base + "/token", auth=("load", secret), timeout=20, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
        "code_verifier": verifier}).json()["access_token"]
    return browser, csrf, token


def _probes(base: str, browser: requests.Session, csrf: str, token: str) -> list:
    bearer = {"Authorization": f"Bearer {token}"}
    basic = ("load", "x")
    authorize = {"client_id": "load", "redirect_uri": REDIRECT, "response_type": "code",
                 "scope": "openid", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                 "code_challenge_method": "S256"}
    return [
        ("GET /authorize", lambda: browser.get(base + "/authorize", params=authorize)),
        ("POST /token", lambda: requests.post(base + "/token", auth=basic,
                                              data={"grant_type": "refresh_token",
                                                    "refresh_token": "x"})),
        ("GET /userinfo", lambda: requests.get(base + "/userinfo", headers=bearer)),
        ("POST /revoke", lambda: requests.post(base + "/revoke", auth=basic, data={"token": "x"})),
        ("POST /introspect", lambda: requests.post(base + "/introspect", auth=basic,
                                                   data={"token": "x"})),
        ("POST /login", lambda: browser.post(base + "/login", headers={"Referer": base},
                                             data={"username": "load3", "password": "x",
                                                   "csrf_token": csrf})),
        ("POST /password/forgot", lambda: browser.post(
            base + "/password/forgot", headers={"Referer": base},
            data={"email": "load3@example.gov.vn", "csrf_token": csrf})),
        ("GET /account", lambda: browser.get(base + "/account")),
        ("GET /end_session", lambda: browser.get(base + "/end_session")),
        ("GET /api/admin/users", lambda: requests.get(base + "/api/admin/users", headers=bearer)),
        ("POST /register", lambda: requests.post(base + "/register", headers=bearer,
                                                 json={"redirect_uris": [REDIRECT]})),
        ("GET /readyz", lambda: requests.get(base + "/readyz")),
    ]


def scenario_database_down(env, secret, cluster, engine, logs) -> None:
    node = provider(PORTS[0], env, logs)
    node.start()
    check(wait_ready(NODES[0]), "provider node ready before the database stop")
    driver = Driver(NODES[:1], secret)
    driver.run(threads=3, max_seconds=120)
    time.sleep(5)
    browser, csrf, token = _signed_in(NODES[0], secret)
    engine.dispose()
    cluster.stop()
    time.sleep(1)
    bad = []
    for label, send in _probes(NODES[0], browser, csrf, token):
        response = send()
        if response.status_code != 503 or "Retry-After" not in response.headers \
                or "Traceback" in response.text:
            bad.append(f"{label}: {response.status_code}")
    check(not bad, "with the database stopped every endpoint answers 503 + Retry-After"
          + ("" if not bad else ": " + "; ".join(bad)))
    time.sleep(3)
    cluster.start()
    deadline, recovered = time.monotonic() + 30, False
    while time.monotonic() < deadline and not recovered:
        recovered = requests.get(NODES[0] + "/readyz", timeout=10).status_code == 200
        time.sleep(0.5)
    check(recovered, "the provider recovers by itself when the database is back (no restart)")
    journeys = driver.seen.signins
    time.sleep(6)
    driver.join()
    check(driver.seen.signins > journeys, "sign-ins succeed again after the recovery")
    check(driver.seen.statuses.get(500, 0) == 0,
          f"no 500 during the outage ({dict(driver.seen.statuses)})")
    node.stop()


def scenario_backchannel(env, secret, bc_secret, engine, logs) -> None:
    receiver = Receiver(56100)
    node, runner = provider(PORTS[0], env, logs), worker(env, logs)
    node.start()
    runner.start()
    check(wait_ready(NODES[0]), "provider and worker up for the back-channel run")
    driver = Driver(NODES[:1], bc_secret)
    http = requests.Session()
    import base64
    import hashlib
    import re
    import secrets

    page = http.get(NODES[0] + "/login", timeout=20)
    http.post(NODES[0] + "/login", timeout=20, allow_redirects=False, headers={
        "Referer": page.url}, data={"username": "load1", "password": "Mật khẩu tải thử 2026",
                                    "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"',
                                                            page.text).group(1)})
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()) \
        .rstrip(b"=").decode()
    auth = http.get(NODES[0] + "/authorize", allow_redirects=False, timeout=20, params={
        "client_id": "bc", "redirect_uri": REDIRECT, "response_type": "code", "scope": "openid",
        "code_challenge": challenge, "code_challenge_method": "S256"})
    code = auth.headers["Location"].split("code=")[1].split("&")[0]
    tokens = http.post(NODES[0] + "/token", auth=("bc", bc_secret), timeout=20, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
        "code_verifier": verifier}).json()
    out = http.get(NODES[0] + "/end_session", params={"id_token_hint": tokens["id_token"]},
                   timeout=20, allow_redirects=False)
    check(out.status_code in (200, 302, 303), f"sign-out with the relying party down "
          f"({out.status_code})")
    time.sleep(4)
    row = _sql(engine, "SELECT status, attempts FROM logout_deliveries ORDER BY id DESC LIMIT 1")
    check(row and row[0][0] != "delivered" and row[0][1] >= 1,
          f"the delivery failed and is kept for retry ({row[0] if row else None})")
    node.kill()
    runner.kill()
    receiver.up()
    node.start()
    runner.start()
    check(wait_ready(NODES[0]), "provider and worker restarted (SIGKILL) while a logout is pending")
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and not receiver.received:
        time.sleep(0.5)
    check(bool(receiver.received) and "logout_token=" in receiver.received[0],
          "the relying party gets its logout token after it comes back, across the restart")
    check(len(receiver.received) == 1, f"delivered once ({len(receiver.received)})")
    del driver
    receiver.down()
    node.stop()
    runner.stop()


def main() -> int:
    cluster = Cluster()
    logs = Path(tempfile.mkdtemp(prefix="idp-faults-"))
    print(f"# own PostgreSQL cluster on 127.0.0.1:{PG_PORT}; logs in {logs}", flush=True)
    cluster.init()
    env = provider_env(cluster, NODES[0])
    try:
        secrets_ = seed(env)
        engine = create_engine(cluster.url, pool_pre_ping=True)
        scenario_kill(env, secrets_["load"], engine, logs)
        scenario_database_down(env, secrets_["load"], cluster, engine, logs)
        scenario_backchannel(env, secrets_["load"], secrets_["bc"], engine, logs)
        verify = subprocess.run([str(VENV / "idp"), "audit", "verify"], env=env, cwd=ROOT,
                                capture_output=True, text=True)
        check(verify.returncode == 0, "idp audit verify: the audit chain is intact "
              f"({(verify.stdout or verify.stderr).strip().splitlines()[-1:]})")
    finally:
        cluster.stop(quiet=True)
    failed = [what for ok, what in RESULTS if not ok]
    print(f"\n{len(RESULTS) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
