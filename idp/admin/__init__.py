"""The administrators' side: the console (``/admin``) and its JSON API (``/api/admin``)."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("admin", __name__, url_prefix="/admin")
api = Blueprint("admin_api", __name__, url_prefix="/api/admin")


def init_app(app: Flask) -> None:
    from ..extensions import csrf
    from . import (api_clients, api_staff, openapi, views_audit, views_clients,  # noqa: F401
                   views_org, views_staff)

    # The API is called with bearer tokens, never cookies: no CSRF token applies.
    csrf.exempt(api)
    app.register_blueprint(bp)
    app.register_blueprint(api)
