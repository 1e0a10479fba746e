"""The Python load driver for the rows that are flows rather than one fixed request.

Each virtual user (VU) is its own process with its own ``requests.Session`` (keep-alive,
its own cookie jar), so that the driver is not limited by one interpreter's GIL.  Every
loop stops at a deadline and after a maximum count, whichever comes first.

Flows:
  signin   authorize -> sign-in form -> code -> token -> userinfo, a fresh browser each time
  refresh  each VU signs in once, then spends its own rotating refresh token chain

Usable on its own, e.g.::

    python bench/driver.py signin --target target.json --concurrency 4 --duration 10
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import multiprocessing
import secrets
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlencode, urlsplit

import requests

TIMEOUT = 30  # seconds for any one request
MAX_HOPS = 10  # redirects followed within one authorization


@dataclass
class Target:
    """One provider as the driver sees it (see bench/bench.py for how it is filled)."""

    name: str
    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str
    username: str
    password: str
    scope: str = "openid profile email offline_access"
    refresh_params: dict = field(default_factory=dict)  # extra authorize params, refresh row

    def discover(self) -> dict:
        response = requests.get(f"{self.issuer}/.well-known/openid-configuration", timeout=TIMEOUT)
        response.raise_for_status()
        return response.json()


@dataclass
class Result:
    ops: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    first_error: str | None = None

    @property
    def rate(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float | None:
        if not self.latencies_ms:
            return None
        if len(self.latencies_ms) == 1:
            return self.latencies_ms[0]
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[int(q) - 1]

    def summary(self) -> dict:
        return {"ops": self.ops, "errors": self.errors, "seconds": round(self.seconds, 3),
                "rate": round(self.rate, 2), "p50_ms": self.percentile(50),
                "p99_ms": self.percentile(99), "first_error": self.first_error}


class FlowError(Exception):
    """A step of a flow did not answer as a relying party expects."""


class _Forms(HTMLParser):
    """Collects each <form>'s action, method and inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action") or "", "method": (a.get("method") or "get").lower(),
                               "inputs": []})
        elif tag in {"input", "button"} and self.forms and a.get("name"):
            self.forms[-1]["inputs"].append((a["name"], (a.get("type") or "text").lower(), a.get("value") or ""))


def fill_login_form(html: str, username: str, password: str) -> tuple[str, dict]:
    """The sign-in form's action and the fields a person would submit."""
    parser = _Forms()
    parser.feed(html)
    for form in parser.forms:
        if any(kind == "password" for _, kind, _ in form["inputs"]):
            data = {}
            for name, kind, value in form["inputs"]:
                if kind == "password":
                    data[name] = password
                elif kind in {"text", "email"} and not value:
                    data[name] = username
                elif kind in {"hidden", "text", "email"}:
                    data[name] = value
            return form["action"], data
    raise FlowError("no sign-in form with a password field on the page")


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    return verifier, challenge.decode()


def _code_from(location: str, redirect_uri: str, state: str) -> str:
    query = parse_qs(urlsplit(location).query)
    if "error" in query:
        raise FlowError(f"authorization error {query['error'][0]}: {query.get('error_description', [''])[0]}")
    if query.get("state", [None])[0] != state:
        raise FlowError("state mismatch in the authorization response")
    return query["code"][0]


def authorize(http: requests.Session, target: Target, meta: dict, extra: dict | None = None) -> tuple[str, str]:
    """Run the browser part of the code flow; returns (code, code_verifier)."""
    verifier, challenge = pkce_pair()
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    params = {"response_type": "code", "client_id": target.client_id, "redirect_uri": target.redirect_uri,
              "scope": target.scope, "state": state, "nonce": nonce, "code_challenge": challenge,
              "code_challenge_method": "S256", **(extra or {})}
    url = f"{meta['authorization_endpoint']}?{urlencode(params)}"
    response = http.get(url, allow_redirects=False, timeout=TIMEOUT)
    posted = False
    for _ in range(MAX_HOPS):
        if response.is_redirect:
            location = urljoin(response.url, response.headers["Location"])
            if location.startswith(target.redirect_uri):
                return _code_from(location, target.redirect_uri, state), verifier
            response = http.get(location, allow_redirects=False, timeout=TIMEOUT)
            continue
        if response.status_code != 200 or posted:
            raise FlowError(f"{response.status_code} at {urlsplit(response.url).path}: {response.text[:200]}")
        action, data = fill_login_form(response.text, target.username, target.password)
        response = http.post(urljoin(response.url, action), data=data, allow_redirects=False,
                             timeout=TIMEOUT, headers={"Referer": response.url})
        posted = True
    raise FlowError("too many redirects in the authorization flow")


def token(http: requests.Session, target: Target, meta: dict, data: dict) -> dict:
    response = http.post(meta["token_endpoint"], data=data, auth=(target.client_id, target.client_secret),
                         timeout=TIMEOUT)
    if response.status_code != 200:
        raise FlowError(f"token endpoint {response.status_code}: {response.text[:200]}")
    return response.json()


def sign_in_round_trip(target: Target, meta: dict) -> None:
    """One whole sign-in as a new browser would do it, ending with a userinfo call."""
    with requests.Session() as http:
        code, verifier = authorize(http, target, meta)
        tokens = token(http, target, meta, {"grant_type": "authorization_code", "code": code,
                                            "redirect_uri": target.redirect_uri, "code_verifier": verifier})
        if "id_token" not in tokens:
            raise FlowError("no id_token in the token response")
        response = http.get(meta["userinfo_endpoint"], timeout=TIMEOUT,
                            headers={"Authorization": f"Bearer {tokens['access_token']}"})
        if response.status_code != 200 or "sub" not in response.json():
            raise FlowError(f"userinfo {response.status_code}: {response.text[:200]}")


def first_refresh_token(target: Target, meta: dict) -> str:
    """Sign in once and return the refresh token that starts a VU's chain."""
    with requests.Session() as http:
        code, verifier = authorize(http, target, meta, target.refresh_params)
        tokens = token(http, target, meta, {"grant_type": "authorization_code", "code": code,
                                            "redirect_uri": target.redirect_uri, "code_verifier": verifier})
    if "refresh_token" not in tokens:
        raise FlowError(f"no refresh_token in the token response (keys: {sorted(tokens)})")
    return tokens["refresh_token"]


def _vu(job: dict) -> dict:
    """One virtual user: loop the flow between start_at and end_at, at most max_ops times."""
    target, meta = Target(**job["target"]), job["meta"]
    latencies, errors, first_error = [], 0, None
    http = requests.Session()
    refresh = job.get("refresh_token")
    delay = job["start_at"] - time.time()
    if delay > 0:
        time.sleep(delay)
    ops = 0
    while time.time() < job["end_at"] and ops + errors < job["max_ops"]:
        began = time.perf_counter()
        try:
            if refresh is None:
                sign_in_round_trip(target, meta)
            else:
                refresh = token(http, target, meta, {"grant_type": "refresh_token",
                                                     "refresh_token": refresh})["refresh_token"]
            latencies.append((time.perf_counter() - began) * 1000)
            ops += 1
        except (FlowError, requests.RequestException, KeyError, ValueError) as exc:
            errors += 1
            first_error = first_error or f"{type(exc).__name__}: {exc}"
            if refresh is not None:
                break  # a broken chain cannot go on
    return {"ops": ops, "errors": errors, "latencies": latencies, "first_error": first_error,
            "finished": time.time()}


def run(flow: str, target: Target, concurrency: int, duration: float, max_ops: int = 100_000,
        on_start=None) -> Result:
    """Run a flow with `concurrency` VUs for `duration` seconds; on_start() is called at t0."""
    meta = target.discover()
    chains = [first_refresh_token(target, meta) for _ in range(concurrency)] if flow == "refresh" else []
    start_at = time.time() + 1.5  # room for the VU processes to start and import
    jobs = [{"target": asdict(target), "meta": meta, "start_at": start_at, "end_at": start_at + duration,
             "max_ops": max_ops, "refresh_token": chains[i] if chains else None} for i in range(concurrency)]
    context = multiprocessing.get_context("fork")
    with context.Pool(concurrency) as pool:
        pending = pool.map_async(_vu, jobs)
        if on_start:
            while time.time() < start_at:
                time.sleep(0.005)
            on_start()
        parts = pending.get(timeout=duration + 2 * TIMEOUT + 10)
    seconds = max(p["finished"] for p in parts) - start_at
    return Result(ops=sum(p["ops"] for p in parts), errors=sum(p["errors"] for p in parts), seconds=seconds,
                  latencies_ms=[x for p in parts for x in p["latencies"]],
                  first_error=next((p["first_error"] for p in parts if p["first_error"]), None))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("flow", choices=["signin", "refresh"])
    parser.add_argument("--target", required=True, help="JSON file with the Target fields")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--max-ops", type=int, default=100_000)
    args = parser.parse_args(argv)
    with open(args.target) as handle:
        target = Target(**json.load(handle))
    result = run(args.flow, target, args.concurrency, min(args.duration, 300), args.max_ops)
    print(json.dumps(result.summary(), indent=2))
    return 0 if result.ops and not result.errors else 1


if __name__ == "__main__":
    sys.exit(main())
