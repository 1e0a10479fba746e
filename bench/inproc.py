"""CPU ms and SQL statements per operation, in-process (Flask test client), no sockets.

    .venv/bin/python bench/inproc.py --count 200                  # SQLite file
    .venv/bin/python bench/inproc.py --db postgresql+psycopg://postgres@127.0.0.1:5432/idp_inproc
    .venv/bin/python bench/inproc.py --only client_credentials --profile 30

The figures are process CPU time (``time.process_time``) per operation, so they hold on
a busy machine; they include the test client's own small cost (building a WSGI environ),
which is the same before and after a change.  ``--profile N`` prints the N hottest
functions (cProfile, cumulative) of the ``--only`` operation.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/profile.py would shadow the standard library's profile module (used by cProfile).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import base64  # noqa: E402
import cProfile  # noqa: E402
import hashlib  # noqa: E402
import os  # noqa: E402
import pstats  # noqa: E402
import secrets  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from urllib.parse import parse_qs, urlencode, urlsplit  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, event, text  # noqa: E402

from idp import create_app  # noqa: E402
from idp.extensions import db  # noqa: E402

PASSWORD = "Sông Hồng chảy mãi 2026"
REDIRECT = "http://127.0.0.1:9999/cb"


class Counter:
    statements = 0
    show = False  # --sql: print each statement of the last operation measured

    @classmethod
    def count(cls, _conn, _cursor, statement, *_args) -> None:
        cls.statements += 1
        if cls.show:
            print("   SQL", " ".join(statement.split())[:160])


def _fresh_postgres(url: str) -> None:
    parts = urlsplit(url)
    admin = create_engine(parts._replace(path="/postgres").geturl(), isolation_level="AUTOCOMMIT")
    name = parts.path.lstrip("/")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def setup(db_url: str | None, argon2_owasp: bool):
    instance = tempfile.mkdtemp(prefix="idp-inproc-")
    if db_url and db_url.startswith("postgresql"):
        _fresh_postgres(db_url)
    config = {"ENV": "development", "INSTANCE_PATH": instance,
              "DATABASE_URL": db_url or f"sqlite:///{instance}/idp.sqlite3",
              "SECRET_KEY": "bench", "DATA_KEY": "5cJ9gHk8bX6p4Q1vM2zR7tW0yA3sD5fG8hJ1kL4nP6o=",
              "LOG_LEVEL": "WARNING",  # as bench/targets.py runs ours
              }
    if not argon2_owasp:
        config.update(ARGON2_MEMORY_KIB=1024, ARGON2_TIME_COST=1)
    app = create_app(config)
    from idp.services import clients, database, keys, users

    with app.app_context():
        db.create_all()
    with app.app_context(), database.unit_of_work():  # the seed data, committed once
        keys.ensure_keys()
        users.create_user("bench.user", email="bench@example.gov.vn", full_name="Bench User",
                          password=PASSWORD)
        web, web_secret = clients.create_client(
            "bench-web", client_id="bench-web", redirect_uris=[REDIRECT], trusted=True,
            scope="openid profile email offline_access")
        cc, cc_secret = clients.create_client("bench-cc", client_type="service",
                                              client_id="bench-cc", scope="staff.read")
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", Counter.count)
    return app, ("bench-web", web_secret), ("bench-cc", cc_secret)


def _basic(pair) -> dict:
    raw = f"{pair[0]}:{pair[1]}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def _authorize_params() -> tuple[dict, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    return {"response_type": "code", "client_id": "bench-web", "redirect_uri": REDIRECT,
            "scope": "openid profile email offline_access", "state": secrets.token_urlsafe(8),
            "nonce": secrets.token_urlsafe(8), "code_challenge": challenge.decode(),
            "code_challenge_method": "S256"}, verifier


def _code(location: str) -> str:
    query = parse_qs(urlsplit(location).query)
    if "code" not in query:
        raise SystemExit(f"no code in {location}")
    return query["code"][0]


def _csrf(html: str) -> str:
    marker = 'name="csrf_token" type="hidden" value="'
    at = html.find(marker)
    if at < 0:
        marker = 'name="csrf_token" value="'
        at = html.find(marker)
    return html[at + len(marker):html.find('"', at + len(marker))]


class Flows:
    """Each method is one operation; state (cookies, chains) is kept between calls."""

    def __init__(self, app, web, cc) -> None:
        self.app, self.web, self.cc = app, web, cc
        self.http = app.test_client()
        self.browser = app.test_client()
        self.chain = None
        self.code = None
        self.access = None

    def _check(self, response, status=200):
        if response.status_code != status:
            raise SystemExit(f"{response.request.path}: {response.status_code} {response.data[:300]!r}")
        return response

    def healthz(self):
        self._check(self.http.get("/healthz"))

    def discovery(self):
        self._check(self.http.get("/.well-known/openid-configuration"))

    def jwks(self):
        self._check(self.http.get("/jwks"))

    def client_credentials(self):
        self._check(self.http.post("/token", data={"grant_type": "client_credentials"},
                                   headers=_basic(self.cc)))

    def sign_in(self):
        """A new browser: authorize -> form -> password POST -> resume -> code."""
        browser = self.app.test_client()
        params, verifier = _authorize_params()
        response = browser.get(f"/authorize?{urlencode(params)}")
        for _ in range(5):
            if response.status_code == 302 and response.location.startswith(REDIRECT):
                self.code = (_code(response.location), verifier)
                return
            if response.status_code == 302:
                response = browser.get(response.location)
                continue
            html = response.get_data(as_text=True)
            response = browser.post(response.request.full_path, data={
                "csrf_token": _csrf(html), "username": "bench.user", "password": PASSWORD})
        raise SystemExit(f"sign-in did not end at the redirect URI: {response.status_code} "
                         f"{response.location} {response.get_data(as_text=True)[:400]}")

    def code_issue(self):
        """/authorize with a live SSO session: answers with a code at once."""
        params, verifier = _authorize_params()
        response = self._check(self.browser.get(f"/authorize?{urlencode(params)}"), 302)
        self.code = (_code(response.location), verifier)

    def code_exchange(self):
        code, verifier = self.code
        data = self._check(self.http.post("/token", headers=_basic(self.web), data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "code_verifier": verifier})).get_json()
        self.access, self.chain = data["access_token"], data["refresh_token"]

    def userinfo(self):
        self._check(self.http.get("/userinfo", headers={"Authorization": f"Bearer {self.access}"}))

    def refresh(self):
        data = self._check(self.http.post("/token", headers=_basic(self.web), data={
            "grant_type": "refresh_token", "refresh_token": self.chain})).get_json()
        self.chain = data["refresh_token"]


OPS = ["healthz", "discovery", "jwks", "client_credentials", "sign_in", "code_exchange",
       "code_issue", "userinfo", "refresh"]


def measure(flows: Flows, op: str, count: int, profile: int) -> tuple[float, float]:
    """CPU ms and SQL statements per operation: the best of five batches (a busy machine
    only ever adds CPU time, through cache and core sharing)."""
    fn = getattr(flows, op)
    needs_code = op == "code_exchange"
    batches, statements = [], 0
    profiler = cProfile.Profile() if profile else None
    per_batch = max(1, count // 5)
    for _ in range(5):
        total = 0.0
        for _ in range(per_batch):
            if needs_code:
                flows.code_issue()
            before_sql = Counter.statements
            began = time.process_time()
            if profiler:
                profiler.enable()
            fn()
            if profiler:
                profiler.disable()
            total += time.process_time() - began
            statements += Counter.statements - before_sql
        batches.append(total * 1000 / per_batch)
    if profiler:
        pstats.Stats(profiler).sort_stats(os.environ.get("SORT", "cumulative")).print_stats(profile)
    return min(batches), statements / (5 * per_batch)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--only", action="append", choices=OPS)
    parser.add_argument("--profile", type=int, default=0)
    parser.add_argument("--sql", action="store_true", help="print the SQL of one more run of each")
    parser.add_argument("--owasp", action="store_true", help="argon2id at the OWASP parameters")
    args = parser.parse_args()
    app, web, cc = setup(args.db, args.owasp)
    flows = Flows(app, web, cc)
    flows.sign_in()  # a first chain, and a browser with an SSO session for code_issue
    browser = app.test_client()
    params, verifier = _authorize_params()
    response = browser.get(f"/authorize?{urlencode(params)}")
    while response.status_code == 200 or not response.location.startswith(REDIRECT):
        if response.status_code == 302:
            response = browser.get(response.location)
            continue
        response = browser.post(response.request.full_path, data={
            "csrf_token": _csrf(response.get_data(as_text=True)), "username": "bench.user",
            "password": PASSWORD})
    flows.browser = browser
    flows.code = (_code(response.location), verifier)
    flows.code_exchange()
    for op in ["healthz", "discovery"]:  # warm-up
        measure(flows, op, 5, 0)
    print(f"{'operation':<20} {'CPU ms/op':>10} {'SQL/op':>7}   (count {args.count}, "
          f"{app.config['DATABASE_URL'].split(':')[0]})")
    for op in args.only or OPS:
        count = max(10, args.count // 5) if op == "sign_in" else args.count
        cpu, sql = measure(flows, op, count, args.profile)
        print(f"{op:<20} {cpu:>10.2f} {sql:>7.1f}")
        if args.sql:
            if op == "code_exchange":
                flows.code_issue()
            Counter.show = True
            getattr(flows, op)()
            Counter.show = False
    return 0


if __name__ == "__main__":
    sys.exit(main())
