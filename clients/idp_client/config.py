"""Every adapter setting in one place: its default, its ``SSO_*`` config key, and what it affects."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Any, Mapping

# OIDC Core 3.1.2.1: "openid" is required; "roles" and "department" are this provider's
# custom scopes, "offline_access" (OIDC Core 11) asks for a refresh token.
DEFAULT_SCOPE = "openid profile email roles department offline_access"


@dataclass
class Settings:
    """Adapter settings; each field ``x`` is read from the Flask config key ``SSO_X``."""

    issuer: str = ""                  # the OP's issuer identifier, compared exactly, a trailing "/" too (Discovery 4.3)
    client_id: str = ""               # registered client_id; the expected `aud` of every token
    client_secret: str | None = None  # None makes this a public client (auth method "none")
    scope: str = DEFAULT_SCOPE        # scopes asked for at /authorize; another OP: e.g. "openid profile email offline_access"
    authorize_params: dict[str, str] = field(default_factory=dict)  # extra /authorize parameters (acr_values, ui_locales...)
    offline_access_consent: bool = True  # send prompt=consent with offline_access (OIDC Core 11); False for
    #                                      a client the OP trusts to get refresh tokens without a consent page
    roles_claim: str = "roles"        # claim holding this client's roles, a list or a string; "a.b" reads a nested member
    department_claim: str = "department"  # claim holding the department: {"code", "name"} or a string
    title_claim: str = "title"        # claim holding the job title
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
        if not isinstance(self.authorize_params, dict):
            raise ValueError("SSO_AUTHORIZE_PARAMS must be a mapping of /authorize parameter names to values.")
        reserved = {"response_type", "client_id", "redirect_uri", "state", "nonce", "code_challenge",
                    "code_challenge_method", "scope"} & set(self.authorize_params)
        if reserved:
            raise ValueError(f"SSO_AUTHORIZE_PARAMS cannot set {', '.join(sorted(reserved))}: the adapter sets them.")
        if self.client_secret is None:
            self.token_endpoint_auth_method = "none"
        if not self.redirect_path.startswith("/"):
            raise ValueError("SSO_REDIRECT_PATH must start with '/'.")

    @property
    def discovery_url(self) -> str:
        """OIDC Discovery 1.0 §4.1: the issuer, any terminating "/" removed, plus the well-known path.

        Only the URL drops the slash; every comparison uses the issuer exactly as configured.
        """
        return f"{self.issuer.rstrip('/')}/.well-known/openid-configuration"

    def authorization_params(self) -> dict[str, str]:
        """The extra /authorize parameters, with prompt=consent when asking for offline_access."""
        params = dict(self.authorize_params)
        if "offline_access" in self.scope.split() and self.offline_access_consent:
            # OIDC Core 11: "prompt parameter value of consent MUST be used" with offline_access,
            # or a provider rightly drops offline_access and issues no refresh token.
            prompts = params.get("prompt", "").split()
            if "consent" not in prompts:
                params["prompt"] = " ".join([*prompts, "consent"])
        return params

    def cookie_name(self) -> str:
        """Each app gets its own cookie name so apps on one host do not overwrite each other."""
        return self.session_cookie or f"{self.client_id}_session"

    def session_path(self, instance_path: str) -> str:
        """The SQLite file holding sessions and seen logout-token ids."""
        return self.session_db or os.path.join(instance_path, "sso_sessions.sqlite3")
