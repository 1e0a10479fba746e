"""What the adapter keeps: the names of its session keys, and one app's state at request time
(settings, the Authlib client, the session store, the provider's metadata and keys, refresh).

Every other module imports from here; this module imports none of them but ``config``,
``sessions`` and ``tokens``, so there is no import cycle.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

import requests
from authlib.integrations.base_client import OAuthError
from flask import Flask, current_app, g, session

from .config import Settings
from .sessions import SID_KEY, SUB_KEY, SessionStore
from .tokens import TokenError, verify_signature

log = logging.getLogger(__name__)
EXTENSION_KEY = "idp_client"

# Session keys, all owned here.
TOKEN_KEY = "_sso_token"      # the token response parts kept (see storable())
USER_KEY = "_sso_user"        # the claims of the ID token merged with userinfo
PENDING_KEY = "_sso_pending"  # authorization requests in flight: state → verifier, nonce, next
LOGOUT_STATE_KEY = "_sso_logout_state"
CSRF_KEY = "_csrf"            # the synchronizer token of the app's own forms (csrf.py)
# SID_KEY and SUB_KEY come from sessions: the store indexes its rows by them.

REFRESHED_FLAG = "_sso_refreshed"  # g: at most one refresh per request
USER_CACHE = "_sso_current_user"   # g: the User built from USER_KEY


class AppState:
    """What one Flask app needs at request time: settings, the Authlib client, the store."""

    def __init__(self, settings: Settings, client: Any, store: SessionStore) -> None:
        self.settings = settings
        self.client = client
        self.store = store
        self._metadata: dict[str, Any] | None = None
        self._loaded_at = 0.0
        self._lock = threading.Lock()

    def metadata(self) -> dict[str, Any]:
        """Discovery metadata, re-read after ``metadata_ttl`` seconds (OIDC Discovery 1.0 §4)."""
        with self._lock:
            if self._metadata is None or time.time() - self._loaded_at > self.settings.metadata_ttl:
                self._metadata = self._load_metadata()
                self._loaded_at = time.time()
                # Authlib reads the endpoints (and caches the JWKS) in its client's public
                # server_metadata; replace the contents without ever leaving it empty.
                known = self.client.server_metadata
                known.update(self._metadata)
                for stale in set(known) - set(self._metadata):  # the old JWKS too: re-fetched
                    known.pop(stale, None)
            return self._metadata

    def _load_metadata(self) -> dict[str, Any]:
        response = requests.get(self.settings.discovery_url, timeout=self.settings.http_timeout)
        response.raise_for_status()
        metadata = response.json()
        if not isinstance(metadata, dict):
            raise OAuthError("invalid_metadata", "The provider's metadata is not a JSON object.")
        # OIDC Discovery 1.0 §4.3: the issuer in the metadata MUST be identical to the
        # configured one, character for character (a trailing "/" included).
        if metadata.get("issuer") != self.settings.issuer:
            raise OAuthError("invalid_issuer", "The provider's metadata names another issuer.")
        # OIDC Discovery 1.0 §3: these are REQUIRED; without them no sign-in can start.
        missing = [k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri") if not metadata.get(k)]
        if missing:
            raise OAuthError("invalid_metadata", f"The provider's metadata lacks {', '.join(missing)}.")
        return metadata

    def jwks(self, force: bool = False) -> dict[str, Any]:
        """The OP's JWKS, cached with the metadata and re-fetched when ``force`` (unknown kid)."""
        self.metadata()
        return self.client.fetch_jwk_set(force=force)

    def signing_algorithms(self, member: str = "id_token_signing_alg_values_supported") -> list[str]:
        algs = self.metadata().get(member) or ["RS256"]
        return [alg for alg in algs if alg != "none"]

    def keep_session_alive(self) -> bool:
        """Refresh the access token shortly before it expires; False when the local session ended.

        RFC 6749 §6: the refresh_token grant. A refused refresh (invalid_grant) means the
        grant was revoked or the SSO session ended; a refreshed ID token that fails its
        checks means the same (OIDC Core 12.2). Either way the local session ends.
        """
        token = session.get(TOKEN_KEY) or {}
        expires_at = token.get("expires_at")
        if g.get(REFRESHED_FLAG):
            return True  # at most one refresh per request, even for very short-lived tokens
        if not expires_at or expires_at - self.settings.refresh_leeway > time.time():
            return True
        if not token.get("refresh_token"):
            return True  # nothing to refresh with; API calls will be refused by the resource
        try:
            self.refresh(token)
        except OAuthError as error:
            log.info("Refresh refused (%s: %s); ending the local session.", error.error, error.description)
            return self._end_local_session()
        except TokenError as error:
            log.warning("Refreshed ID token rejected (%s); ending the local session.", error.description)
            return self._end_local_session()
        except (requests.RequestException, ValueError) as error:
            log.warning("Could not refresh the access token: %s", error)
        return True

    def _end_local_session(self) -> bool:
        session.clear()
        g.pop(USER_CACHE, None)
        return False

    def refresh(self, token: dict[str, Any]) -> dict[str, Any]:
        """Run the refresh_token grant and store the new token set in the session."""
        self.metadata()
        # RFC 6749 §6: the scope MUST NOT exceed what was granted, and the provider may have
        # granted less than asked (§3.3); send the granted scope, or none (= the same grant).
        new = dict(self.client.fetch_access_token(
            grant_type="refresh_token", refresh_token=token["refresh_token"], scope=token.get("scope") or ""))
        # RFC 6749 §6: the OP may rotate the refresh token or keep the old one.
        new.setdefault("refresh_token", token["refresh_token"])
        new.setdefault("scope", token.get("scope"))
        # OIDC Core 12.2: a refreshed ID token must keep iss and sub; keep the old one otherwise.
        if "id_token" in new:
            self._check_refreshed_id_token(new["id_token"])
        else:
            new["id_token"] = token.get("id_token")
        session[TOKEN_KEY] = storable(new)
        g.setdefault(REFRESHED_FLAG, True)
        return new

    def _check_refreshed_id_token(self, id_token: str) -> None:
        """OIDC Core 12.2: same iss and sub as the first ID token, this client in aud; signed."""
        claims = verify_signature(id_token, self.jwks, self.signing_algorithms()).claims
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        user = session.get(USER_KEY) or {}
        if claims.get("iss") != self.settings.issuer:
            raise TokenError("The refreshed ID token names another issuer.")
        if self.settings.client_id not in audiences:
            raise TokenError("The refreshed ID token is for another client.")
        if claims.get("sub") != user.get("sub"):
            raise TokenError("The refreshed ID token is about another user.")

    def access_token(self) -> str | None:
        """A current access token for the signed-in user, refreshed if needed."""
        self.keep_session_alive()
        token = session.get(TOKEN_KEY) or {}
        return token.get("access_token")


def storable(token: dict[str, Any]) -> dict[str, Any]:
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


__all__ = ["AppState", "CSRF_KEY", "EXTENSION_KEY", "LOGOUT_STATE_KEY", "PENDING_KEY", "SID_KEY", "SUB_KEY",
           "TOKEN_KEY", "USER_KEY", "sso_state", "storable"]
