"""Fixtures of the scale-out test: a PostgreSQL database of its own, seeded with the
``idp`` command, and pairs of provider processes started on it.

PostgreSQL: the server of IDP_TEST_DATABASE_URL when set, else the machine's at
127.0.0.1:5432; the test's database is ``<name>_scale`` (created, or emptied if it exists).
Unreachable, the tests are skipped (failed when CI=true). Logs are kept under
tests/artifacts/scale/ and printed when a test fails.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy.exc import OperationalError

from tests.scale.cluster import Cluster, Node, fresh_database
from tests.support.constants import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
FALLBACK_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# Redis: a database number of its own, so that only this test's keys are touched.
REDIS_URL = "redis://127.0.0.1:6379/13"
REDIRECT_URI = "http://127.0.0.2:5001/callback"
POST_LOGOUT_URI = "http://127.0.0.2:5001/"
USERS = ("an.nguyen", "locked.database", "locked.redis")


def _unavailable(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"scale_{report.when}", report)


@dataclass
class Seed:
    client_id: str
    client_secret: str
    redirect_uri: str = REDIRECT_URI
    post_logout_uri: str = POST_LOGOUT_URI


@pytest.fixture(scope="module")
def cluster(worker_id) -> Cluster:
    base = os.environ.get("IDP_TEST_DATABASE_URL") or FALLBACK_DATABASE_URL
    name = urlsplit(base).path.lstrip("/") or "idp"
    suffix = "scale" if worker_id == "master" else f"scale_{worker_id}"
    try:
        url = fresh_database(base, f"{name}_{suffix}")
    except OperationalError as exc:
        _unavailable(f"PostgreSQL is not reachable at {urlsplit(base).netloc}: "
                     f"{exc.orig.__class__.__name__}; the scale-out test needs it.")
    run_dir = ROOT / "tests" / "artifacts" / "scale" / worker_id
    shutil.rmtree(run_dir, ignore_errors=True)
    cluster = Cluster(run_dir, url)
    try:
        yield cluster
    finally:
        cluster.stop()


class Pairs:
    """Pairs of nodes by counter store ("database", "redis"), started once per module."""

    def __init__(self, cluster: Cluster):
        self.cluster = cluster
        self.running: dict[str, tuple[Node, Node]] = {}

    def spawn(self, store: str, redis_url: str | None = None) -> tuple[Node, Node]:
        if store not in self.running:
            self.running[store] = self.cluster.spawn_pair(store, redis_url)
        return self.running[store]

    def get(self, store: str, redis_url: str | None = None) -> tuple[Node, Node]:
        nodes = self.spawn(store, redis_url)
        self.cluster.wait_ready(*nodes)
        return nodes


def _redis_error() -> str | None:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        return f"Redis is not reachable at 127.0.0.1:6379: {exc}"
    finally:
        client.close()
    return None


@pytest.fixture(scope="module")
def pairs(cluster) -> Pairs:
    return Pairs(cluster)


@pytest.fixture(scope="module")
def seed(cluster, pairs) -> Seed:
    """The database migrated, signing keys made, staff and one client registered — by the CLI.

    The pairs of nodes boot meanwhile (a node reads the database only when asked).
    """
    pairs.spawn("database")
    if _redis_error() is None:
        pairs.spawn("redis", REDIS_URL)
    cluster.idp("init")
    users = [["user", "create", name, "--email", f"{name}@example.gov.vn",
              "--name", "Nguyễn Văn An", "--password", PASSWORD] for name in USERS]
    client = ["client", "create", "--json", "--name", "Quản lý văn bản", "--client-id", "docs",
              "--type", "web", "--redirect-uri", REDIRECT_URI,
              "--post-logout-redirect-uri", POST_LOGOUT_URI,
              "--scope", "openid profile email offline_access",
              "--grant-type", "authorization_code", "--grant-type", "refresh_token", "--trusted"]
    created = json.loads(cluster.idp_all([client, *users])[0])
    return Seed(created["client_id"], created["client_secret"])


@pytest.fixture
def redis_url() -> str:
    error = _redis_error()
    if error:
        _unavailable(error)
    return REDIS_URL


@pytest.fixture(autouse=True)
def _print_logs_on_failure(request):
    yield
    if "cluster" not in request.fixturenames:
        return
    reports = (getattr(request.node, f"scale_{when}", None) for when in ("setup", "call"))
    if any(report is not None and report.failed for report in reports):
        try:
            cluster = request.getfixturevalue("cluster")
        except BaseException:  # the cluster itself did not come up: nothing was logged
            return
        print(f"\n===== scale-out logs ({cluster.run_dir}) =====\n{cluster.logs()}")
