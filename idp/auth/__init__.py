"""Sign-in pages: password, second factor, forced password change, forgotten password."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("auth", __name__)

from . import reset, views  # noqa: E402,F401  (routes)
