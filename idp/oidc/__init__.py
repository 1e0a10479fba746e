"""The OpenID Connect protocol surface: Authlib's server, grants and the endpoints."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from .discovery import bp as discovery_bp

    app.register_blueprint(discovery_bp)
    from .logout import bp as logout_bp
    app.register_blueprint(logout_bp)
