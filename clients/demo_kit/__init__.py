"""What the three demo apps share: env config, the layout, strings in two languages, SQLite.

Not part of the adapter: an app integrating with the provider needs only ``idp_client``.
"""
from __future__ import annotations

import argparse
import os
import sqlite3
from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint, Flask, g, redirect, request, url_for
from werkzeug.wrappers import Response

from ..idp_client import SSO, local_path

# The public base URL of each demo app; the nav links use them and each app derives its
# own redirect URI from its own one. Override with DOCS_URL, WEBMAIL_URL, ONESTOP_URL.
APP_URLS = {
    "DOCS_URL": "http://127.0.0.2:5001",
    "WEBMAIL_URL": "http://127.0.0.3:5002",
    "ONESTOP_URL": "http://127.0.0.4:5003",
}
COMMON_STRINGS = {
    "vi": {
        "docs": "Quản lý văn bản và điều hành", "webmail": "Thư điện tử", "onestop": "Một cửa",
        "sign_in": "Đăng nhập", "sign_out": "Đăng xuất", "department": "Đơn vị", "roles": "Vai trò",
        "no_roles": "(không có)", "signed_in_as": "Đang đăng nhập", "please_sign_in":
        "Vui lòng đăng nhập bằng tài khoản một lần (SSO) của Bộ để tiếp tục.",
        "error": "Có lỗi", "forbidden": "Không có quyền", "error_code": "Mã lỗi",
        "required_roles": "Vai trò cần có", "home": "Trang chủ", "language": "English", "save": "Lưu",
        "not_found": "Không tìm thấy",
    },
    "en": {
        "docs": "Documents and executive management", "webmail": "Webmail", "onestop": "One-stop shop",
        "sign_in": "Sign in", "sign_out": "Sign out", "department": "Department", "roles": "Roles",
        "no_roles": "(none)", "signed_in_as": "Signed in as", "please_sign_in":
        "Please sign in with the ministry's single sign-on account to continue.",
        "error": "Something went wrong", "forbidden": "Forbidden", "error_code": "Error code",
        "required_roles": "Required role", "home": "Home", "language": "Tiếng Việt", "save": "Save",
        "not_found": "Not found",
    },
}
LANGS = ("vi", "en")


def load_config(prefix: str, client_id: str, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Read ``<PREFIX>_ISSUER``, ``_CLIENT_ID``, ``_CLIENT_SECRET``, ``_SCOPE``, ``_DATABASE`` and the app URLs."""
    env = os.environ if env is None else env
    config: dict[str, Any] = {key: env.get(key, default).rstrip("/") for key, default in APP_URLS.items()}
    config["SSO_ISSUER"] = env.get(f"{prefix}_ISSUER") or env.get("SSO_ISSUER") or "http://127.0.0.1:5000"
    config["SSO_CLIENT_ID"] = env.get(f"{prefix}_CLIENT_ID", client_id)
    config["SSO_CLIENT_SECRET"] = env.get(f"{prefix}_CLIENT_SECRET") or None
    for name in ("SCOPE", "DATABASE"):
        if env.get(f"{prefix}_{name}"):
            config["SSO_SCOPE" if name == "SCOPE" else "DATABASE"] = env[f"{prefix}_{name}"]
    return config


def get_db() -> sqlite3.Connection:
    """The request's connection to the app's SQLite file (closed at teardown)."""
    if "db" not in g:
        from flask import current_app

        g.db = sqlite3.connect(current_app.config["DATABASE"], timeout=10)
        g.db.row_factory = sqlite3.Row
    return g.db


def _close_db(_: BaseException | None = None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.close()


def lang() -> str:
    """The UI language: the ``lang`` cookie, Vietnamese by default."""
    value = request.cookies.get("lang", "vi")
    return value if value in LANGS else "vi"


def create_demo_app(key: str, import_name: str, strings: Mapping[str, Mapping[str, str]],
                    config: Mapping[str, Any], schema: str, seed: Callable[[sqlite3.Connection], None]) -> Flask:
    """A demo app named ``key`` ("docs", "webmail", "onestop") wired to the provider via ``idp_client``."""
    # Each demo app keeps its SQLite under clients/instance/<key>/, apart from the provider's.
    instance = os.path.join(os.path.dirname(os.path.dirname(__file__)), "instance", key)
    app = Flask(import_name, instance_path=instance)
    own_url = config.get(f"{key.upper()}_URL") or APP_URLS[f"{key.upper()}_URL"]
    app.config.update(
        DATABASE=os.path.join(app.instance_path, f"{key}.sqlite3"),
        SSO_SESSION_COOKIE=f"{key}_session",
        SSO_REDIRECT_URI=f"{own_url}/auth/callback",
        SSO_POST_LOGOUT_REDIRECT_URI=f"{own_url}/auth/logged-out",
        # The demo apps are first-party clients the provider trusts: it grants them offline_access
        # without prompt=consent (OIDC Core 11 "other conditions"), and prompt=consent would show
        # its consent page at every sign-in, even in the middle of single sign-on.
        SSO_OFFLINE_ACCESS_CONSENT=False,
    )
    app.config.update(config)
    app.config["SSO_SESSION_DB"] = app.config["DATABASE"]  # sessions live in the app's own SQLite
    os.makedirs(app.instance_path, exist_ok=True)
    SSO(app)
    _init_db(app, schema, seed)
    app.teardown_appcontext(_close_db)
    app.register_blueprint(_kit_blueprint(key, strings))
    return app


def _init_db(app: Flask, schema: str, seed: Callable[[sqlite3.Connection], None]) -> None:
    with sqlite3.connect(app.config["DATABASE"]) as db:
        db.row_factory = sqlite3.Row
        db.executescript(schema)
        seed(db)


def _kit_blueprint(key: str, strings: Mapping[str, Mapping[str, str]]) -> Blueprint:
    bp = Blueprint("kit", __name__, template_folder="templates", static_folder="static",
                   static_url_path="/kit/static")
    table = {code: {**COMMON_STRINGS[code], **strings.get(code, {})} for code in LANGS}

    @bp.app_context_processor
    def _inject() -> dict[str, Any]:
        from flask import current_app

        current = lang()
        return {
            "t": lambda name: table[current].get(name, name), "lang": current, "app_key": key,
            "nav": [(k, current_app.config[f"{k.upper()}_URL"]) for k in ("docs", "webmail", "onestop")],
        }

    @bp.route("/lang/<code>")
    def set_lang(code: str) -> Response:
        response = redirect(local_path(request.args.get("next")))  # no open redirector
        response.set_cookie("lang", code if code in LANGS else "vi", max_age=365 * 86400, samesite="Lax")
        return response

    return bp


def run(create_app: Callable[[], Flask], host: str, port: int) -> None:
    """``python -m clients.<app> --host ... --port ...``: the development server."""
    parser = argparse.ArgumentParser(description="Run a demo app of the ministry's SSO.")
    parser.add_argument("--host", default=host)
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args()
    create_app().run(host=args.host, port=args.port, debug=args.debug)


__all__ = ["APP_URLS", "create_demo_app", "get_db", "lang", "load_config", "run", "url_for"]
