"""The authorization request as the pipeline sees it, and the signed ticket that
carries it through sign-in, account selection and consent.

The ticket (itsdangerous, signed with the app's secret, time-limited) records when
the interaction started: a session whose ``auth_time`` is later satisfies
``prompt=login`` and ``max_age`` on resumption, so that they never loop.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ...models import Client, SsoSession

# The parameters the endpoint reads; anything else is ignored (OIDC Core §3.1.2.1).
PARAMETERS = (
    "response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "prompt",
    "max_age", "code_challenge", "code_challenge_method", "response_mode", "claims",
    "id_token_hint", "login_hint", "acr_values", "ui_locales", "claims_locales", "display",
    "request", "request_uri",
)
TICKET_TTL = 1800  # seconds a pending authorization request may wait for the user
MAX_PARAMETER = 4096  # longest value accepted for one parameter


@dataclass
class AuthRequest:
    params: dict[str, str]
    repeated: list[str] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
    done: set[str] = field(default_factory=set)  # interactions completed: consent, select_account
    resumed: bool = False
    decision: str | None = None  # "allow" or "deny", from the consent form
    # Filled in by the checks, in order:
    client: Client | None = None
    redirect_uri: str | None = None
    response_mode: str = "query"
    scopes: list[str] = field(default_factory=list)
    prompt: set[str] = field(default_factory=set)
    max_age: int | None = None
    claims: dict[str, Any] | None = None
    acr_values: list[str] = field(default_factory=list)
    hint_sub: str | None = None
    session: SsoSession | None = None

    def get(self, name: str) -> str | None:
        return self.params.get(name) or None

    @property
    def state(self) -> str | None:
        return self.get("state")


def from_values(values) -> AuthRequest:
    """Build the request from a MultiDict of query or form parameters."""
    params, repeated = {}, []
    for name in PARAMETERS:
        items = values.getlist(name)
        if items:
            params[name] = items[0][:MAX_PARAMETER]
            if len(items) > 1:
                repeated.append(name)
    return AuthRequest(params=params, repeated=repeated)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="idp.oidc.authorize")


def make_ticket(req: AuthRequest, *, started_at: float | None = None,
                done: set[str] | None = None) -> str:
    return _serializer().dumps({
        "p": req.params, "t": started_at if started_at is not None else req.started_at,
        "d": sorted(done if done is not None else req.done),
    })


def from_ticket(ticket: str) -> AuthRequest | None:
    """The pending request, or None when the ticket is forged, altered or too old."""
    try:
        data = _serializer().loads(ticket or "", max_age=TICKET_TTL)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("p"), dict):
        return None
    params = {k: str(v) for k, v in data["p"].items() if k in PARAMETERS}
    return AuthRequest(params=params, started_at=float(data.get("t", 0)),
                       done=set(data.get("d", [])), resumed=True)
