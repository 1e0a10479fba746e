"""Every adapter setting in one place: its default, its ``SSO_*`` config key, and what it affects."""
from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import Any, Mapping

# OIDC Core 3.1.2.1: "openid" is required; "roles" and "department" are this provider's
# custom scopes, "offline_access" (OIDC Core 11) asks for a refresh token.
DEFAULT_SCOPE = "openid profile email roles department offline_access"


@dataclass
class Settings:
    """Adapter settings; each field ``x`` is read from the Flask config key ``SSO_X``."""

    issuer: str = ""                  # the OP's issuer identifier, compared exactly (OIDC Discovery 4.3)
    client_id: str = ""               # registered client_id; the expected `aud` of every token
    client_secret: str | None = None  # None makes this a public client (auth method "none")
    scope: str = DEFAULT_SCOPE        # scopes asked for at /authorize
    redirect_path: str = "/auth/callback"  # path of the redirection endpoint (RFC 6749 §3.1.2)
    redirect_uri: str | None = None   # absolute redirect URI; default: built from the request host
    url_prefix: str = "/auth"         # prefix of login, logout and the logout notification endpoints
    post_logout_redirect_uri: str | None = None  # OIDC RP-Initiated Logout 1.0 §2; default: our logged-out page
    after_logout_path: str = "/"      # where the logged-out page sends the browser
    session_db: str | None = None     # SQLite file of the server-side sessions; default: instance folder
    session_cookie: str | None = None  # cookie name; default "<client_id>_session"
    session_lifetime: int = 8 * 3600  # absolute lifetime of a local session, seconds (ASVS V3.3)
    refresh_leeway: int = 60          # refresh the access token this many seconds before it expires
    clock_leeway: int = 60            # tolerated clock skew for exp/iat, seconds
    logout_token_max_age: int = 300   # reject logout tokens issued longer ago (Back-Channel Logout §2.6)
    metadata_ttl: int = 3600          # re-read discovery this often, seconds (JWKS also on an unknown kid)
    fetch_userinfo: bool = True       # merge /userinfo claims after sign-in (OIDC Core 5.3)
    http_timeout: float = 10.0        # timeout of every call to the OP, seconds
    token_endpoint_auth_method: str = "client_secret_basic"  # OIDC Core 9

    @classmethod
    def load(cls, config: Mapping[str, Any], overrides: Mapping[str, Any]) -> "Settings":
        """Build settings from ``SSO_*`` config keys, then explicit keyword overrides.

        Unknown override names are rejected so a typo does not silently fall back to a default.
        """
        names = {f.name for f in fields(cls)}
        unknown = set(overrides) - names
        if unknown:
            raise TypeError(f"Unknown SSO setting(s): {', '.join(sorted(unknown))}.")
        values: dict[str, Any] = {}
        for name in names:
            key = f"SSO_{name.upper()}"
            if key in config:
                values[name] = config[key]
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse to start without the settings that have no safe default."""
        for name in ("issuer", "client_id"):
            if not getattr(self, name):
                raise ValueError(f"SSO_{name.upper()} is required: set it in the app config or pass {name}=.")
        self.issuer = self.issuer.rstrip("/")
        if self.client_secret is None:
            self.token_endpoint_auth_method = "none"
        if not self.redirect_path.startswith("/"):
            raise ValueError("SSO_REDIRECT_PATH must start with '/'.")

    @property
    def discovery_url(self) -> str:
        """OIDC Discovery 1.0 §4: the issuer plus /.well-known/openid-configuration."""
        return f"{self.issuer}/.well-known/openid-configuration"

    def cookie_name(self) -> str:
        """Each app gets its own cookie name so apps on one host do not overwrite each other."""
        return self.session_cookie or f"{self.client_id}_session"

    def session_path(self, instance_path: str) -> str:
        """The SQLite file holding sessions and seen logout-token ids."""
        return self.session_db or os.path.join(instance_path, "sso_sessions.sqlite3")
