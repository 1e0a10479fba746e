"""Helpers of the hostile-input tests: a relying party's side of the code flow, CSRF
tokens, a live threaded server, and a way to release many requests at once."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import threading
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from werkzeug.serving import make_server

TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token of the first form of a page."""
    match = TOKEN_RE.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def pkce() -> tuple[str, str]:
    """A fresh (verifier, S256 challenge) pair (RFC 7636 §4.1, §4.2)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@dataclass
class Flow:
    """What a relying party does: ask for a code, redeem it, refresh, call userinfo."""

    client: object
    rp: object

    def authorize(self, **params):
        verifier, challenge = pkce()
        query = {"client_id": self.rp.client_id, "redirect_uri": self.rp.redirect_uri,
                 "response_type": "code", "scope": "openid profile offline_access",
                 "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8),
                 "code_challenge": challenge, "code_challenge_method": "S256", **params}
        query = {k: v for k, v in query.items() if v is not None}
        return self.client.get("/authorize", query_string=query), verifier

    def code(self, **params) -> tuple[str, str]:
        response, verifier = self.authorize(**params)
        assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
        values = query_of(response.headers["Location"])
        assert "code" in values, values
        return values["code"], verifier

    def auth(self) -> dict:
        if self.rp.client_secret:
            return {"auth": (self.rp.client_id, self.rp.client_secret)}
        return {}

    def token_form(self, code: str, verifier: str) -> dict:
        form = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": self.rp.redirect_uri, "code_verifier": verifier}
        if not self.rp.client_secret:
            form["client_id"] = self.rp.client_id
        return form

    def tokens(self) -> dict:
        code, verifier = self.code()
        response = self.client.post("/token", data=self.token_form(code, verifier), **self.auth())
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    def refresh(self, refresh_token: str):
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        if not self.rp.client_secret:
            form["client_id"] = self.rp.client_id
        return self.client.post("/token", data=form, **self.auth())




class LiveServer:
    """The app on 127.0.0.1:<free port>, one thread per request (werkzeug threaded)."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.thread.join(10)



def run_at_once(count: int, work) -> list:
    """Run ``work(i)`` in ``count`` threads released together; return results in order."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(index: int) -> None:
        barrier.wait(30)
        try:
            results[index] = work(index)
        except Exception as exc:  # noqa: BLE001  (reported by the test's assertions)
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results
