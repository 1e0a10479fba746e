"""The load driver: staff who sign in, get tokens, refresh, read userinfo and sign out, over
two provider nodes as a load balancer would spread them. It records what it saw succeed, so
the database can be compared with it afterwards."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import requests

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
REDIRECT = "http://127.0.0.1:56199/cb"
PASSWORD = "Mật khẩu tải thử 2026"


def jti_of(token: str) -> str:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"]


class Unknown(Exception):
    """The request may or may not have been processed (the node died mid-request)."""


@dataclass
class Seen:
    statuses: Counter = field(default_factory=Counter)
    by_node: Counter = field(default_factory=Counter)
    signins: int = 0
    jtis: list[str] = field(default_factory=list)  # access tokens the driver received
    logouts: int = 0
    unknown: int = 0  # requests whose outcome the driver cannot know
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, node: str, status: int) -> None:
        with self.lock:
            self.statuses[status] += 1
            if status < 500:
                self.by_node[node] += 1


class Driver:
    def __init__(self, nodes: list[str], secret: str, seen: Seen | None = None):
        self.nodes, self.secret, self.seen = nodes, secret, seen or Seen()
        self.stop = threading.Event()

    def _send(self, http: requests.Session, method: str, path: str, **kwargs):
        order = random.sample(self.nodes, len(self.nodes))
        for node in order:
            try:
                response = http.request(method, node + path, timeout=20, allow_redirects=False,
                                        **kwargs)
            except requests.ConnectionError as exc:
                if "refused" in str(exc).lower():
                    continue  # never reached the node: a load balancer tries the next one
                with self.seen.lock:
                    self.seen.unknown += 1
                raise Unknown from None
            except requests.Timeout:
                with self.seen.lock:
                    self.seen.unknown += 1
                raise Unknown from None
            self.seen.add(node, response.status_code)
            return response
        raise ConnectionError("no node answered")

    def one_journey(self, index: int) -> None:
        http = requests.Session()
        page = self._send(http, "GET", "/login")
        if page.status_code != 200:
            return
        signin = self._send(http, "POST", "/login", data={
            "username": f"load{index % 8}", "password": PASSWORD,
            "csrf_token": CSRF.search(page.text).group(1)},
            headers={"Referer": page.url})
        if signin.status_code not in (302, 303):
            return
        with self.seen.lock:
            self.seen.signins += 1
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()) \
            .rstrip(b"=").decode()
        auth = self._send(http, "GET", "/authorize", params={
            "client_id": "load", "redirect_uri": REDIRECT, "response_type": "code",
            "scope": "openid profile offline_access", "state": "s", "code_challenge": challenge,
            "code_challenge_method": "S256"})
        if auth.status_code != 302 or not auth.headers["Location"].startswith(REDIRECT):
            return
        code = parse_qs(urlsplit(auth.headers["Location"]).query)["code"][0]
        tokens = self._tokens(http, {"grant_type": "authorization_code", "code": code,
                                     "redirect_uri": REDIRECT, "code_verifier": verifier})
        if tokens is None:
            return
        info = self._send(http, "GET", "/userinfo",
                          headers={"Authorization": f"Bearer {tokens['access_token']}"})
        if info.status_code != 200:
            return
        refreshed = self._tokens(http, {"grant_type": "refresh_token",
                                        "refresh_token": tokens["refresh_token"]})
        if refreshed is None:
            return
        out = self._send(http, "GET", "/end_session", params={
            "id_token_hint": refreshed.get("id_token") or tokens["id_token"],
            "post_logout_redirect_uri": "http://127.0.0.1:56199/"})
        if out.status_code in (302, 303):
            with self.seen.lock:
                self.seen.logouts += 1

    def _tokens(self, http, form: dict) -> dict | None:
        response = self._send(http, "POST", "/token", data=form, auth=("load", self.secret))
        if response.status_code != 200:
            return None
        body = response.json()
        with self.seen.lock:
            self.seen.jtis.append(jti_of(body["access_token"]))
        return body

    def run(self, threads: int, max_seconds: float) -> None:
        deadline = time.monotonic() + max_seconds

        def loop(n: int) -> None:
            i = n
            while not self.stop.is_set() and time.monotonic() < deadline:
                try:
                    self.one_journey(i)
                except (Unknown, ConnectionError, requests.RequestException, KeyError,
                        AttributeError, ValueError):
                    time.sleep(0.1)
                i += threads

        self.threads = [threading.Thread(target=loop, args=(n,), daemon=True)
                        for n in range(threads)]
        for thread in self.threads:
            thread.start()

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)
