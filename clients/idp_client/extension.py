"""The ``SSO`` Flask extension: wires Authlib's Flask client, the session store and the views."""
from __future__ import annotations

import os
from typing import Any

import requests
from authlib.integrations.flask_client import OAuth
from flask import Flask

from . import csrf
from .config import Settings
from .sessions import SessionStore, SqliteSessionInterface
from .state import EXTENSION_KEY, AppState, sso_state
from .user import current_user
from .views import build_blueprint


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
        conf = Settings.load(app.config, settings)
        oauth = OAuth(app)
        # No server_metadata_url: AppState.metadata() reads discovery, checks it and hands it over.
        client = oauth.register(
            "sso_op",
            client_id=conf.client_id,
            client_secret=conf.client_secret,
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
