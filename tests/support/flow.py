"""A relying party's side of the code flow, driven through the Flask test client."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field

from tests.support.urls import query


def pkce_pair() -> tuple[str, str]:
    """A fresh (verifier, S256 challenge) pair (RFC 7636 §4.1, §4.2)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def basic(client_id: str, secret: str) -> dict[str, str]:
    """The Authorization header of client_secret_basic (RFC 6749 §2.3.1)."""
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def decode_jwt(token: str) -> tuple[dict, dict]:
    """Header and claims of a JWT, verified against the provider's published keys."""
    from joserfc import jwt

    from idp.services import keys

    decoded = jwt.decode(token, keys.public_keyset(), algorithms=["RS256", "ES256"])
    return dict(decoded.header), dict(decoded.claims)


@dataclass
class Flow:
    """A relying party driving the test browser through the code flow.

    ``defaults`` are the /authorize parameters it sends unless a call overrides them;
    :meth:`broad` is the RP of the hostile-input tests (every usual scope, a random state and
    nonce).
    """

    client: object  # Flask test client (the browser and the RP's back channel at once)
    rp: object  # tests.support.clients.RegisteredClient
    defaults: dict = field(default_factory=lambda: {"scope": "openid", "state": "st-123"})
    verifiers: dict = field(default_factory=dict)  # code -> the PKCE verifier sent for it

    @classmethod
    def broad(cls, client, rp) -> "Flow":
        return cls(client, rp, {"scope": "openid profile offline_access",
                                "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8)})

    def authorize(self, method: str = "GET", **params):
        """/authorize; with PKCE (RFC 9700 §2.1.1) unless the test passes code_challenge or
        code_challenge_method itself (None: send none) or the client is registered without."""
        base = {"response_type": "code", "client_id": self.rp.client_id,
                "redirect_uri": self.rp.redirect_uri, **self.defaults}
        verifier = None
        if "code_challenge" not in params and "code_challenge_method" not in params and (
                self.rp.row.is_public or self.rp.row.pkce_required):
            verifier, challenge = pkce_pair()
            base.update(code_challenge=challenge, code_challenge_method="S256")
        base.update({k: v for k, v in params.items() if v is not None})
        for k in [k for k, v in params.items() if v is None]:
            base.pop(k, None)
        if method == "POST":
            response = self.client.post("/authorize", data=base)
        else:
            response = self.client.get("/authorize", query_string=base)
        location = response.headers.get("Location", "")
        # The code may come later (after sign-in or consent): the last verifier serves then.
        self.verifiers[query(location).get("code") if "code=" in location else None] = verifier
        return response

    def start(self, **params):
        """/authorize with PKCE always (unless the test passes its own); (response, verifier)."""
        verifier = None
        if "code_challenge" not in params and "code_challenge_method" not in params:
            verifier, challenge = pkce_pair()
            params.update(code_challenge=challenge, code_challenge_method="S256")
        return self.authorize(**params), verifier

    def code(self, **params) -> tuple[str, str]:
        """Run /authorize with PKCE; returns (code, verifier)."""
        response, verifier = self.start(**params)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        got = query(response.headers["Location"])
        assert "code" in got, got
        return got["code"], verifier

    def auth(self) -> dict:
        """The test client's ``auth=`` keyword for a confidential client (client_secret_basic)."""
        if self.rp.client_secret:
            return {"auth": (self.rp.client_id, self.rp.client_secret)}
        return {}

    def token_form(self, code: str, verifier: str) -> dict:
        form = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": self.rp.redirect_uri, "code_verifier": verifier}
        if not self.rp.client_secret:
            form["client_id"] = self.rp.client_id
        return form

    def token(self, data: dict, auth: bool = True):
        headers = {}
        if auth and self.rp.client_secret:
            headers = basic(self.rp.client_id, self.rp.client_secret)
        elif not self.rp.client_secret:
            data = {"client_id": self.rp.client_id, **data}
        return self.client.post("/token", data=data, headers=headers)

    def exchange(self, code: str, verifier: str | None):
        """Redeem a code; ``None`` sends the verifier ``authorize`` added itself, if any."""
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.rp.redirect_uri}
        verifier = verifier or self.verifiers.get(code, self.verifiers.get(None))
        if verifier:
            data["code_verifier"] = verifier
        return self.token(data)

    def tokens(self, **params) -> dict:
        """The whole code flow: the token response (asserted successful)."""
        code, verifier = self.code(**params)
        response = self.exchange(code, verifier)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    def refresh(self, refresh_token: str, **extra):
        return self.token({"grant_type": "refresh_token", "refresh_token": refresh_token, **extra})
