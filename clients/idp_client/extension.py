"""The ``SSO`` Flask extension: wires Authlib's Flask client, the session store and the views."""
from __future__ import annotations

import logging
import os
import time
from typing import Any

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app, g, session

from . import csrf
from .config import Settings
from .sessions import SessionStore, SqliteSessionInterface
from .user import USER_KEY

log = logging.getLogger(__name__)
TOKEN_KEY = "_sso_token"
EXTENSION_KEY = "idp_client"


class AppState:
    """What one Flask app needs at request time: settings, the Authlib client, the store."""

    def __init__(self, settings: Settings, client: Any, store: SessionStore) -> None:
        self.settings = settings
        self.client = client
        self.store = store

    def metadata(self) -> dict[str, Any]:
        """Discovery metadata, re-read after ``metadata_ttl`` seconds (OIDC Discovery 1.0 §4)."""
        loaded_at = self.client.server_metadata.get("_loaded_at", 0)
        if time.time() - loaded_at > self.settings.metadata_ttl:
            self.client.server_metadata.clear()
        metadata = self.client.load_server_metadata()
        # OIDC Discovery 1.0 §4.3: the issuer in the metadata MUST equal the configured one.
        if metadata.get("issuer") != self.settings.issuer:
            self.client.server_metadata.clear()
            raise OAuthError("invalid_issuer", "The provider's metadata names another issuer.")
        # OIDC Discovery 1.0 §3: these are REQUIRED; without them no sign-in can start.
        missing = [k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri")
                   if not metadata.get(k)]
        if missing:
            self.client.server_metadata.clear()
            raise OAuthError("invalid_metadata", f"The provider's metadata lacks {', '.join(missing)}.")
        return metadata

    def jwks(self, force: bool = False) -> dict[str, Any]:
        """The OP's JWKS, cached with the metadata and re-fetched when ``force`` (unknown kid)."""
        self.metadata()
        return self.client.fetch_jwk_set(force=force)

    def signing_algorithms(self) -> list[str]:
        algs = self.metadata().get("id_token_signing_alg_values_supported") or ["RS256"]
        return [alg for alg in algs if alg != "none"]

    def keep_session_alive(self) -> bool:
        """Refresh the access token shortly before it expires; False when the OP refused.

        RFC 6749 §6: the refresh_token grant. A refused refresh (invalid_grant) means the
        grant was revoked or the SSO session ended, so the local session ends too.
        """
        token = session.get(TOKEN_KEY) or {}
        expires_at = token.get("expires_at")
        if g.get("_sso_refreshed"):
            return True  # at most one refresh per request, even for very short-lived tokens
        if not expires_at or expires_at - self.settings.refresh_leeway > time.time():
            return True
        if not token.get("refresh_token"):
            return True  # nothing to refresh with; API calls will be refused by the resource
        try:
            self.refresh(token)
        except OAuthError as error:
            log.info("Refresh refused (%s); ending the local session.", error.error)
            session.clear()
            return False
        except (requests.RequestException, ValueError) as error:
            log.warning("Could not refresh the access token: %s", error)
        return True

    def refresh(self, token: dict[str, Any]) -> dict[str, Any]:
        """Run the refresh_token grant and store the new token set in the session."""
        self.metadata()
        new = dict(self.client.fetch_access_token(
            grant_type="refresh_token", refresh_token=token["refresh_token"]))
        # RFC 6749 §6: the OP may rotate the refresh token or keep the old one.
        new.setdefault("refresh_token", token["refresh_token"])
        # OIDC Core 12.2: a refreshed ID token must keep iss and sub; keep the old one otherwise.
        if "id_token" in new:
            self._check_refreshed_id_token(new["id_token"])
        else:
            new["id_token"] = token.get("id_token")
        session[TOKEN_KEY] = _storable(new)
        g._sso_refreshed = True
        return new

    def _check_refreshed_id_token(self, id_token: str) -> None:
        from .tokens import TokenError, verify_signature

        claims = verify_signature(id_token, self.jwks, self.signing_algorithms()).claims
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        user = session.get(USER_KEY) or {}
        if (claims.get("iss") != self.settings.issuer or self.settings.client_id not in audiences
                or claims.get("sub") != user.get("sub")):
            raise OAuthError("invalid_grant", str(TokenError("The refreshed ID token does not match.")))

    def access_token(self) -> str | None:
        """A current access token for the signed-in user, refreshed if needed."""
        self.keep_session_alive()
        token = session.get(TOKEN_KEY) or {}
        return token.get("access_token")


def _storable(token: dict[str, Any]) -> dict[str, Any]:
    """The parts of a token response kept in the session."""
    keep = ("access_token", "token_type", "refresh_token", "expires_at", "id_token", "scope")
    return {key: token[key] for key in keep if token.get(key) is not None}


def sso_state(app: Flask | None = None) -> AppState:
    """The adapter state of ``app`` (default: the current app)."""
    app = app or current_app
    try:
        return app.extensions[EXTENSION_KEY]
    except KeyError:
        raise RuntimeError("SSO is not initialised on this app: call SSO().init_app(app).") from None


class SSO:
    """Flask extension for signing in with the ministry's OpenID Connect provider.

    ``SSO(app, issuer=..., client_id=..., client_secret=...)`` or ``sso.init_app(app)`` with
    ``SSO_*`` keys in ``app.config``; see :class:`~idp_client.config.Settings`.
    """

    def __init__(self, app: Flask | None = None, **settings: Any) -> None:
        if app is not None:
            self.init_app(app, **settings)

    def init_app(self, app: Flask, **settings: Any) -> None:
        """Register the Authlib client, the server-side sessions and the sign-in routes."""
        from .views import build_blueprint

        conf = Settings.load(app.config, settings)
        oauth = OAuth(app)
        client = oauth.register(
            "sso_op",
            client_id=conf.client_id,
            client_secret=conf.client_secret,
            server_metadata_url=conf.discovery_url,
            client_kwargs={
                "scope": conf.scope,
                "code_challenge_method": "S256",  # RFC 7636 §4.2; RFC 9700 §2.1.1
                "token_endpoint_auth_method": conf.token_endpoint_auth_method,
                "default_timeout": conf.http_timeout,
            },
        )
        os.makedirs(app.instance_path, exist_ok=True)
        store = SessionStore(conf.session_path(app.instance_path))
        app.session_interface = SqliteSessionInterface(store, conf.cookie_name(), conf.session_lifetime)
        app.extensions[EXTENSION_KEY] = AppState(conf, client, store)
        app.register_blueprint(build_blueprint(conf))
        csrf.init_app(app, exempt={"sso.backchannel_logout"})

        @app.context_processor
        def _inject() -> dict[str, Any]:
            from .user import current_user

            return {"current_user": current_user, "csrf_token": csrf.csrf_token}

    # Request-time helpers for views of the app.
    def state(self) -> AppState:
        return sso_state()

    def access_token(self) -> str | None:
        """The current user's access token, refreshed before it expires."""
        return sso_state().access_token()

    def api(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """Call a protected API with the user's access token (RFC 6750 §2.1 bearer header)."""
        token = self.access_token()
        if not token:
            raise RuntimeError("No signed-in user: call api() from a login_required view.")
        headers = dict(kwargs.pop("headers", None) or {})
        headers["Authorization"] = f"Bearer {token}"
        kwargs.setdefault("timeout", sso_state().settings.http_timeout)
        return requests.request(method, url, headers=headers, **kwargs)

    @property
    def store(self) -> SessionStore:
        return sso_state().store
