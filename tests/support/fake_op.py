"""A tiny OpenID Connect provider for the adapter's tests, served for real over HTTP.

It speaks just enough of the protocol (discovery, /authorize, /token, /userinfo, /jwks,
/end_session, one protected API) and has knobs to misbehave in the ways an RP must catch.
"""
from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from flask import Flask, abort, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from werkzeug.serving import make_server

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
DROP = object()  # an override value that removes the claim


def _key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"}, private=True)


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class FakeOP:
    """A provider with one signed-in user whose claims tests set in ``self.user``."""

    def __init__(self) -> None:
        self.key = _key("k1")
        self.rogue_key = _key("k1")  # same kid, different key: a forged signature
        self.clients: dict[str, str] = {}
        self.user: dict[str, Any] = {}
        self.sid = "sid-1"
        self.reset()
        self.app = self._build_app()
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.issuer = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def reset(self) -> None:
        """Back to a well-behaved provider."""
        self.id_token_overrides: dict[str, Any] = {}
        self.sign_with_rogue_key = False
        self.iss_param: Any = None  # None: the real issuer; DROP: omit it
        self.access_token_ttl = 3600
        self.refuse_refresh = False
        self.authorize_requests: list[dict[str, str]] = []
        self.end_session_requests: list[dict[str, str]] = []
        self.refresh_count = 0
        self.codes: dict[str, dict[str, Any]] = {}
        self.access_tokens: dict[str, str] = {}
        self.access_clients: dict[str, str] = {}
        self.refresh_tokens: dict[str, str] = {}
        self.metadata_drop: set[str] = set()  # discovery members to leave out
        self.granted_scope = "openid profile email roles department offline_access"
        self.refresh_requests: list[dict[str, str]] = []
        self.refresh_id_token_overrides: dict[str, Any] = {}
        self.refresh_rogue = False  # sign the refreshed ID token with the rogue key
        self.userinfo_status = 200
        self.userinfo_signed = False  # answer application/jwt (OIDC Core 5.3.2)
        self.userinfo_rogue = False   # ... signed with a key that is not in the JWKS
        self.userinfo_raw: str | None = None  # a body to send as is (with text/html)

    def start(self) -> "FakeOP":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()

    # Tokens

    def sign(self, claims: dict[str, Any], header: dict[str, Any] | None = None, rogue: bool = False) -> str:
        key = self.rogue_key if rogue else self.key
        return jwt.encode({"alg": "RS256", "kid": key.kid, **(header or {})}, claims, key)

    def id_token(self, client_id: str, nonce: str | None) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer, "aud": client_id, "sub": self.user["sub"], "iat": now, "exp": now + 300,
            "auth_time": now, "sid": self.sid, "nonce": nonce, **self._profile(),
        }
        return self.sign(_apply(claims, self.id_token_overrides), rogue=self.sign_with_rogue_key)

    def logout_token(self, client_id: str, header: dict[str, Any] | None = None, rogue: bool = False,
                     **overrides: Any) -> str:
        """A valid logout token for ``client_id`` (Back-Channel Logout 1.0 §2.4), with overrides."""
        now = int(time.time())
        claims = {
            "iss": self.issuer, "aud": client_id, "iat": now, "exp": now + 120, "jti": uuid.uuid4().hex,
            "sub": self.user.get("sub", "u-1"), "sid": self.sid, "events": {BACKCHANNEL_EVENT: {}},
        }
        return self.sign(_apply(claims, overrides), {"typ": "logout+jwt", **(header or {})}, rogue)

    def _profile(self) -> dict[str, Any]:
        return {k: v for k, v in self.user.items() if k != "sub"}

    def _tokens(self, client_id: str, nonce: str | None, refreshed: bool = False) -> dict[str, Any]:
        access, refresh = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        self.access_tokens[access] = self.user["sub"]
        self.access_clients[access] = client_id
        self.refresh_tokens[refresh] = client_id
        if refreshed:
            now = int(time.time())
            claims = {"iss": self.issuer, "aud": client_id, "sub": self.user["sub"], "iat": now, "exp": now + 300,
                      **self.refresh_id_token_overrides}
            id_token = self.sign(_apply(claims, {}), rogue=self.refresh_rogue)
        else:
            id_token = self.id_token(client_id, nonce)
        return {"access_token": access, "token_type": "Bearer", "expires_in": self.access_token_ttl,
                "refresh_token": refresh, "id_token": id_token, "scope": self.granted_scope}

    # The HTTP side

    def _build_app(self) -> Flask:
        app = Flask("fake_op")
        app.add_url_rule("/.well-known/openid-configuration", view_func=self.discovery)
        app.add_url_rule("/jwks", view_func=lambda: jsonify(KeySet([self.key]).as_dict(private=False)))
        app.add_url_rule("/authorize", view_func=self.authorize)
        app.add_url_rule("/token", view_func=self.token, methods=["POST"])
        app.add_url_rule("/userinfo", view_func=self.userinfo)
        app.add_url_rule("/api/whoami", view_func=self.userinfo)
        app.add_url_rule("/end_session", view_func=self.end_session)
        return app

    def discovery(self) -> Any:
        base = self.issuer
        return jsonify({k: v for k, v in self._metadata(base).items() if k not in self.metadata_drop})

    def _metadata(self, base: str) -> dict[str, Any]:
        return ({
            "issuer": base, "authorization_endpoint": f"{base}/authorize", "token_endpoint": f"{base}/token",
            "userinfo_endpoint": f"{base}/userinfo", "jwks_uri": f"{base}/jwks",
            "end_session_endpoint": f"{base}/end_session", "response_types_supported": ["code"],
            "id_token_signing_alg_values_supported": ["RS256"], "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": True,
            "backchannel_logout_supported": True, "backchannel_logout_session_supported": True,
        })

    def authorize(self) -> Any:
        args = request.args.to_dict()
        self.authorize_requests.append(args)
        code = secrets.token_urlsafe(16)
        self.codes[code] = args
        params = {"code": code, "state": args.get("state")}
        if self.iss_param is not DROP:
            params["iss"] = self.iss_param or self.issuer
        return redirect(f"{args['redirect_uri']}?{urlencode(params)}")

    def _client_id(self) -> str:
        auth = request.authorization
        if not auth or self.clients.get(auth.username) != auth.password:
            abort(401)
        return str(auth.username)

    def token(self) -> Any:
        client_id = self._client_id()
        form = request.form
        if form.get("grant_type") == "refresh_token":
            self.refresh_requests.append(form.to_dict())
            # RFC 6749 §6: not beyond the original grant (a strict provider, as node-oidc-provider).
            if not set(form.get("scope", "").split()) <= set(self.granted_scope.split()):
                return jsonify(error="invalid_scope", error_description="Beyond the grant."), 400
            if self.refuse_refresh or self.refresh_tokens.pop(form.get("refresh_token", ""), None) != client_id:
                return jsonify(error="invalid_grant", error_description="Refresh token refused."), 400
            self.refresh_count += 1
            return jsonify(self._tokens(client_id, None, refreshed=True))
        req = self.codes.pop(form.get("code", ""), None)
        # RFC 7636 §4.6: the verifier must hash to the challenge sent at /authorize.
        if (not req or req["client_id"] != client_id or req["redirect_uri"] != form.get("redirect_uri")
                or _s256(form.get("code_verifier", "")) != req.get("code_challenge")):
            return jsonify(error="invalid_grant", error_description="Bad code or verifier."), 400
        return jsonify(self._tokens(client_id, req.get("nonce")))

    def userinfo(self) -> Any:
        header = request.headers.get("Authorization", "")
        access = header.removeprefix("Bearer ")
        sub = self.access_tokens.get(access)
        if not sub or self.userinfo_status == 401:
            return jsonify(error="invalid_token"), 401, {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        if self.userinfo_status != 200:
            return "unavailable", self.userinfo_status
        if self.userinfo_raw is not None:
            return self.userinfo_raw, 200, {"Content-Type": "text/html"}
        if self.userinfo_signed:
            claims = {"sub": sub, "iss": self.issuer, "aud": self.access_clients[access], **self._profile()}
            return self.sign(claims, rogue=self.userinfo_rogue), 200, {"Content-Type": "application/jwt"}
        return jsonify({"sub": sub, **self._profile()})

    def end_session(self) -> Any:
        args = request.args.to_dict()
        self.end_session_requests.append(args)
        return redirect(f"{args['post_logout_redirect_uri']}?{urlencode({'state': args.get('state', '')})}")


def _apply(claims: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    out = {**claims, **overrides}
    return {k: v for k, v in out.items() if v is not DROP and not (k == "nonce" and v is None)}
