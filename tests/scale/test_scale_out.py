"""Scale-out: provider processes on different ports over one PostgreSQL database are one provider.

Each node is a real ``idp serve`` (gunicorn, IDP_ENV=production) with the same
IDP_SECRET_KEY and IDP_DATA_KEY. Both share ONE issuer, ``http://127.0.0.1:<port of
node A>``: the issuer is an identifier written into tokens and metadata, not the address
a request must reach, so requests to node B work (behind a load balancer every node has
the balancer's issuer). A browser's cookies ignore ports, so one ``requests.Session``
carries its SSO cookie to both nodes, as it would behind a balancer.

Two nodes on ONE SQLite file are not a supported production setup and are not tested.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from urllib.parse import urljoin

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from idp.services.keys import CACHE_SECONDS
from tests.scale.cluster import LOCKOUT_THRESHOLD, ClusterBrowser, Node
from tests.support.constants import PASSWORD
from tests.support.urls import query

pytestmark = pytest.mark.live

WRONG = "definitely not the password"
WRONG_VI = "Sai tên đăng nhập hoặc mật khẩu."
LOCKED_VI = "Tài khoản đang bị tạm khóa. Hãy thử lại sau hoặc liên hệ bộ phận hỗ trợ."
SSO_COOKIE = "idp_session"  # the issuer is plain-http loopback: no __Host- prefix


@pytest.fixture
def database_nodes(seed, pairs) -> tuple[Node, Node]:
    """Nodes A and B, counters in the database."""
    return pairs.get("database")


@pytest.fixture
def redis_nodes(seed, pairs, redis_url) -> tuple[Node, Node]:
    """Nodes A and B, counters in Redis (IDP_REDIS_URL, a database number of the test's own)."""
    import redis

    store = redis.Redis.from_url(redis_url)
    stale = list(store.scan_iter("idp:throttle:*"))
    if stale:
        store.delete(*stale)
    yield pairs.get("redis", redis_url)
    created = list(store.scan_iter("idp:throttle:*"))
    if created:
        store.delete(*created)
    store.close()


def _authorize_params(seed, **extra: str) -> dict[str, str]:
    return {"response_type": "code", "client_id": seed.client_id,
            "redirect_uri": seed.redirect_uri, "scope": "openid profile offline_access",
            "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8), **extra}


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _sign_in_for_code(browser: ClusterBrowser, node: Node, seed, params: dict[str, str]) -> dict:
    """/authorize → /login → POST the password → the redirect back with a code."""
    start = browser.get(node.url + "/authorize", params=params)
    assert start.status_code == 302, start.text[:500]
    login_url = urljoin(start.url, start.headers["Location"])
    assert "/login" in login_url
    callback = browser.follow(browser.sign_in(node, "an.nguyen", PASSWORD, path=login_url),
                              stop_at=seed.redirect_uri)
    assert callback.status_code == 302, callback.text[:500]
    assert callback.headers["Location"].startswith(seed.redirect_uri)
    return query(callback.headers["Location"])


def _token(node: Node, seed, **form: str) -> requests.Response:
    return node.post("/token", data=form, auth=(seed.client_id, seed.client_secret))


def _jwks(node: Node) -> dict[str, str]:
    """The published keys of ``node``: kid -> alg."""
    response = node.get("/jwks")
    assert response.status_code == 200
    return {key["kid"]: key["alg"] for key in response.json()["keys"]}


def test_sign_in_on_one_node_and_log_out_on_the_other(cluster, seed, database_nodes):
    a, b = database_nodes
    browser = ClusterBrowser()
    verifier, challenge = _pkce()
    params = _authorize_params(seed, code_challenge=challenge, code_challenge_method="S256")
    answer = _sign_in_for_code(browser, a, seed, params)
    # RFC 9207: the one shared issuer, whichever node answered.
    assert answer["state"] == params["state"] and answer["iss"] == cluster.issuer

    # The code made on node A is redeemed on node B (RFC 6749 §4.1.3).
    tokens = _token(b, seed, grant_type="authorization_code", code=answer["code"],
                    redirect_uri=seed.redirect_uri, code_verifier=verifier)
    assert tokens.status_code == 200, tokens.text
    tokens = tokens.json()
    assert tokens["token_type"] == "Bearer" and tokens["refresh_token"]
    # Node A's JWKS verifies what node B signed.
    claims = jwt.decode(tokens["id_token"], KeySet.import_key_set(a.get("/jwks").json())).claims
    assert claims["iss"] == cluster.issuer and claims["aud"] == seed.client_id
    assert claims["nonce"] == params["nonce"] and claims["sid"]

    refreshed = _token(b, seed, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    refreshed = refreshed.json()
    assert refreshed["refresh_token"] != tokens["refresh_token"]
    info = a.get("/userinfo", headers={"Authorization": f"Bearer {refreshed['access_token']}"})
    assert info.status_code == 200 and info.json()["sub"] == claims["sub"]

    # Single sign-on: node B knows the session node A made; no page is shown.
    silent = browser.get(b.url + "/authorize", params=_authorize_params(
        seed, prompt="none", code_challenge=challenge, code_challenge_method="S256"))
    assert "code" in query(silent.headers["Location"]), silent.headers["Location"]

    # RP-Initiated Logout 1.0 §2 on node B, with the ID token and the SSO cookie.
    sso_cookie = browser.cookie(SSO_COOKIE)
    assert sso_cookie
    logout = browser.get(b.url + "/end_session", params={
        "id_token_hint": tokens["id_token"], "post_logout_redirect_uri": seed.post_logout_uri,
        "state": "bye"})
    assert logout.status_code == 302, logout.text[:500]
    assert logout.headers["Location"] == f"{seed.post_logout_uri}?state=bye"
    assert browser.cookie(SSO_COOKIE) is None

    _assert_signed_out(a, seed, sso_cookie, [tokens["access_token"], refreshed["access_token"]])


def _assert_signed_out(node: Node, seed, sso_cookie: str, access_tokens: list[str]) -> None:
    """The session is gone on ``node`` even for its old cookie (replayed on purpose),
    and so are the access tokens issued in it."""
    _verifier, challenge = _pkce()
    params = _authorize_params(seed, prompt="none", code_challenge=challenge,
                               code_challenge_method="S256")
    silent = node.get("/authorize", params=params, cookies={SSO_COOKIE: sso_cookie})
    assert silent.status_code == 302
    # OIDC Core §3.1.2.6: prompt=none without a session answers login_required.
    error = query(silent.headers["Location"])
    assert error["error"] == "login_required" and error["state"] == params["state"]
    for access_token in access_tokens:
        info = node.get("/userinfo", headers={"Authorization": f"Bearer {access_token}"})
        # RFC 6750 §3.1: a token no longer valid is invalid_token, 401.
        assert info.status_code == 401
        assert 'error="invalid_token"' in info.headers["WWW-Authenticate"]
        assert info.json()["error"] == "invalid_token"
        # RFC 7662 §2.2: a token no longer active is just {"active": false}.
        status = node.post("/introspect", data={"token": access_token},
                           auth=(seed.client_id, seed.client_secret))
        assert status.status_code == 200 and status.json() == {"active": False}


def test_nodes_on_one_host_keep_no_shared_control_socket(database_nodes):
    """gunicorn 25.1+ would give every node of a user one control socket path
    (~/.gunicorn/gunicorn.ctl), each node taking it from the one before."""
    for node in database_nodes:
        log = node.log.read_text()
        assert "Booting worker" in log and "Control socket listening" not in log


def test_key_rotated_on_one_node_reaches_the_others_jwks_within_the_cache_time(
        cluster, database_nodes):
    a, b = database_nodes
    before = _jwks(b)
    for _ in range(2):  # both nodes have cached the current keys
        assert _jwks(a) == _jwks(b) == before
    # `idp keys rotate` in its own process, with the nodes' settings, on the shared database.
    promoted = re.findall(r"^(RS256|ES256): (\S+) is now active\.$",
                          cluster.idp("keys", "rotate", "--force"), re.M)
    # The keys that now sign were published before they signed (as next keys).
    assert sorted(alg for alg, _ in promoted) == ["ES256", "RS256"]
    assert all(before.get(kid) == alg for alg, kid in promoted)

    # Each node reads the keys again after keys.CACHE_SECONDS at the latest.
    deadline = time.monotonic() + CACHE_SECONDS + 2
    while True:
        samples = [_jwks(node) for node in (a, b)]
        if all(sample.keys() - before.keys() for sample in samples):
            break
        assert time.monotonic() < deadline, (
            f"{CACHE_SECONDS + 2} s after the rotation a node publishes no new key: {samples}")
        time.sleep(0.5)
    new_keys = {kid: alg for kid, alg in samples[-1].items() if kid not in before}
    # A new next key for each algorithm, the same on node A as on node B.
    assert sorted(new_keys.values()) == ["ES256", "RS256"]
    assert all(sample == samples[-1] for sample in samples)
    # The keys of before stay published: the old active ones sign no more but still verify.
    assert before.keys() <= samples[-1].keys()


@pytest.mark.parametrize("store", ["database", "redis"])
def test_failures_on_both_nodes_add_up_to_one_lock(request, store):
    """Wrong passwords alternating between nodes lock after IDP_LOCKOUT_THRESHOLD in total."""
    nodes = request.getfixturevalue(f"{store}_nodes")
    username = f"locked.{store}"
    for attempt in range(LOCKOUT_THRESHOLD - 1):
        # A fresh browser each time: the count lives on the server, not in a cookie.
        response = ClusterBrowser().sign_in(nodes[attempt % 2], username, WRONG)
        assert response.status_code == 401, response.text[:500]
        assert WRONG_VI in response.text
    locking = ClusterBrowser().sign_in(nodes[(LOCKOUT_THRESHOLD - 1) % 2], username, WRONG)
    assert locking.status_code == 403 and LOCKED_VI in locking.text

    browser = ClusterBrowser()
    refused = browser.sign_in(nodes[0], username, PASSWORD)
    assert refused.status_code == 403 and LOCKED_VI in refused.text
    assert browser.cookie(SSO_COOKIE) is None
    if store == "redis":
        import redis

        counters = redis.Redis.from_url(request.getfixturevalue("redis_url"))
        failures = [int(counters.hget(key, "failures"))
                    for key in counters.scan_iter("idp:throttle:user:*")]
        assert failures == [LOCKOUT_THRESHOLD]  # counted in Redis, not in the database
