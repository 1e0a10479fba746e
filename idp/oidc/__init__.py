"""The OpenID Connect protocol surface: Authlib's server, grants and the endpoints."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from ..extensions import csrf
    from .authorize import bp as authorize_bp
    from .authorize.views import authorize
    from .discovery import bp as discovery_bp
    from .endpoints_views import bp as token_bp
    from .server import build_server
    from .userinfo import bp as userinfo_bp

    app.extensions["idp.oidc.server"] = build_server(app)
    app.register_blueprint(discovery_bp)
    app.register_blueprint(authorize_bp)
    app.register_blueprint(token_bp)
    app.register_blueprint(userinfo_bp)
    # Protocol endpoints are called by programs (or, for /authorize, by a relying party's
    # cross-site form), never by our own forms: Flask-WTF's CSRF check does not apply.
    csrf.exempt(token_bp)
    csrf.exempt(userinfo_bp)
    csrf.exempt(authorize)
    from .registration import bp as registration_bp
    app.register_blueprint(registration_bp)  # RFC 7591/7592
    from .logout import bp as logout_bp
    app.register_blueprint(logout_bp)
