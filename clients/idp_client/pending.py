"""Authorization requests in flight, kept in the browser's server-side session.

Each ``state`` (RFC 6749 §10.12) maps to what the callback needs: the PKCE ``code_verifier``
(RFC 7636 §4.5), the ``nonce`` (OIDC Core 3.1.2.1), the ``redirect_uri`` sent, and the local
path to return to. A few may be in flight at once (several tabs); each is used once.
"""
from __future__ import annotations

import hmac
import time
from typing import Any

from flask import session

from .state import PENDING_KEY

MAX_AGE = 600      # seconds a sign-in may take at the provider
MAX_IN_FLIGHT = 5  # the oldest requests beyond this many are forgotten


def _live() -> dict[str, dict[str, Any]]:
    now = time.time()
    requests = session.get(PENDING_KEY) or {}
    return {state: data for state, data in requests.items() if now - data.get("at", 0) < MAX_AGE}


def remember(state: str, data: dict[str, Any]) -> None:
    """Keep ``data`` for the callback that brings ``state`` back."""
    requests = _live()
    requests[state] = {**data, "at": time.time()}
    newest = sorted(requests.items(), key=lambda item: item[1]["at"])[-MAX_IN_FLIGHT:]
    session[PENDING_KEY] = dict(newest)


def take(state: str | None) -> dict[str, Any] | None:
    """The data of ``state`` (and forget it), or None for a state this session never sent."""
    requests = _live()
    found = None
    for sent in list(requests):
        if state and hmac.compare_digest(sent.encode(), state.encode()):
            found = requests.pop(sent)
    if requests:
        session[PENDING_KEY] = requests
    else:
        session.pop(PENDING_KEY, None)
    return found
