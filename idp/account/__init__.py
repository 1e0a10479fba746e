"""Staff self-service ("my account"): profile, password, MFA, sessions, authorised apps."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("account", __name__, url_prefix="/account")

from . import views  # noqa: E402,F401  (routes)
