"""Fixtures of the OpenID Connect area: a relying party's helpers, the code flow, bad tokens."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

ISSUER = "http://127.0.0.1:5000"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def query(location: str) -> dict[str, str]:
    """The parameters of a redirect, one value each (asserting none is repeated)."""
    parsed = parse_qs(urlsplit(location).query, keep_blank_values=True)
    assert all(len(v) == 1 for v in parsed.values()), parsed
    return {k: v[0] for k, v in parsed.items()}


def basic(client_id: str, secret: str) -> dict[str, str]:
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
    """A relying party driving the test browser through the code flow."""

    client: object  # Flask test client (the browser and the RP's back channel at once)
    rp: object  # RegisteredClient
    verifiers: dict = field(default_factory=dict)  # code -> the PKCE verifier sent for it

    def authorize(self, method: str = "GET", **params):
        """/authorize; with PKCE (RFC 9700 §2.1.1) unless the test passes code_challenge or
        code_challenge_method itself (None: send none) or the client is registered without."""
        base = {"response_type": "code", "client_id": self.rp.client_id,
                "redirect_uri": self.rp.redirect_uri, "scope": "openid", "state": "st-123"}
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

    def code(self, **params) -> tuple[str, str]:
        """Run /authorize with PKCE; returns (code, verifier)."""
        verifier, challenge = pkce_pair()
        response = self.authorize(code_challenge=challenge, code_challenge_method="S256", **params)
        assert response.status_code == 302, response.get_data(as_text=True)
        got = query(response.headers["Location"])
        assert "code" in got, got
        return got["code"], verifier

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

    def refresh(self, refresh_token: str, **extra):
        return self.token({"grant_type": "refresh_token", "refresh_token": refresh_token, **extra})


@pytest.fixture
def flow(client, confidential_client) -> Flow:
    return Flow(client, confidential_client)


@pytest.fixture
def public_flow(client, public_client, user) -> Flow:
    """The public (untrusted) client, which ``user`` already allowed the openid scope."""
    from idp.services import consent

    consent.grant_consent(user, public_client.row, ["openid"])
    return Flow(client, public_client)


@pytest.fixture
def signed_in(user, sso_login):
    """The test browser holds an SSO session for ``user`` (password only)."""
    return sso_login(user)


@pytest.fixture
def tokens(flow, signed_in) -> dict:
    """The whole code flow with PKCE for the trusted client: the token response."""
    code, verifier = flow.code(scope="openid profile email offline_access roles department",
                               nonce="n-0S6_WzA2Mj")
    response = flow.exchange(code, verifier)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.fixture
def expired_code(flow, signed_in, app) -> tuple[str, str]:
    """A code whose lifetime (IDP_TOKEN_CODE_TTL) has passed."""
    from idp.extensions import db
    from idp.services import codes

    code, verifier = flow.code()
    row = codes.find_code(code)
    row.expires_at = row.created_at - timedelta(seconds=1)
    db.session.commit()
    return code, verifier


@pytest.fixture
def id_token_wrong_aud(app, user) -> str:
    """A genuine ID token of this provider, issued to another client."""
    import time

    from idp.services import keys

    now = int(time.time())
    return keys.sign({"iss": app.config["ISSUER"], "sub": user.sub, "aud": "another-app",
                      "iat": now, "exp": now + 600})


@pytest.fixture
def rsa_client_key():
    from joserfc.jwk import RSAKey

    return RSAKey.generate_key(2048, parameters={"kid": "rp-key-1", "alg": "RS256", "use": "sig"},
                               private=True)


@pytest.fixture
def jwt_client(app, rsa_client_key):
    """A confidential client that authenticates with private_key_jwt (keys registered inline)."""
    from tests.conftest import _register

    return _register("Một cửa", client_type="web", client_id="one-stop",
                     redirect_uris=["http://127.0.0.4:5003/callback"], auth_method="private_key_jwt",
                     scope="openid profile", jwks={"keys": [rsa_client_key.as_dict(private=False)]})
