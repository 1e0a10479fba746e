"""The identity provider: an OpenID Connect provider for a ministry's internal systems."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Mapping

from flask import Flask

__version__ = "0.1.0"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the provider: settings, extensions, blueprints and error handlers."""
    from . import config as settings
    from .extensions import babel, csrf, db, migrate

    values = settings.load(os.environ, dict(config or {}))
    instance = values["INSTANCE_PATH"] or str(Path(__file__).resolve().parent.parent / "instance")
    app = Flask(
        __name__,
        instance_path=os.path.abspath(instance),
        template_folder=str(Path(__file__).resolve().parent.parent / "templates"),
    )
    _apply_settings(app, values)

    from . import models  # noqa: F401  (the tables, for Alembic and the app)

    db.init_app(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        from .services.database import tune_sqlite

        with app.app_context():
            tune_sqlite(db.engine)
    migrate.init_app(app, db, directory=str(Path(__file__).resolve().parent.parent / "migrations"))
    csrf.init_app(app)
    from . import errors, i18n, web
    from .services import database

    database.init_app(app)  # one commit per request, after the view (services never commit)

    babel.init_app(
        app,
        locale_selector=i18n.select_locale,
        default_translation_directories=";".join(i18n.translation_directories()),
    )
    i18n.init_app(app)
    errors.init_app(app)
    web.init_app(app)
    _register_blueprints(app)
    from . import ratelimits

    ratelimits.init_app(app)  # IDP_RATELIMIT_*: wraps the guarded views registered above
    _wire_side_effects(app)
    return app


def _wire_side_effects(app: Flask) -> None:
    """Everything that happens besides a request's or command's own work, in one place."""
    from .ops import worker
    from .services import audit, logout, metrics, sessions

    # However an SSO session ends (logout, timeout, admin, password reset), the transaction
    # that ends it queues its back-channel logouts and writes the session.ended audit event.
    sessions.init_app(app, on_end=[logout.queue_backchannel, logout.audit_session_end])
    # Every recorded audit event feeds the Prometheus counters (sign-ins, tokens issued).
    audit.init_app(app, on_record=[metrics.count_audit_event])
    # IDP_LOGOUT_IMMEDIATE: right after such a commit, a thread tries the queued logouts.
    logout.init_app(app)
    # IDP_LOGOUT_INLINE_WORKER: the worker runs as a thread, from the first request on.
    worker.init_app(app)


def _apply_settings(app: Flask, values: dict[str, Any]) -> None:
    from .config import instance_secret, new_data_key

    app.config.update(values)
    dev = values["ENV"] == "development"
    if not values["DATABASE_URL"]:
        os.makedirs(app.instance_path, exist_ok=True)
        values["DATABASE_URL"] = f"sqlite:///{os.path.join(app.instance_path, 'idp.sqlite3')}"
        app.config["DATABASE_URL"] = values["DATABASE_URL"]
    if not values["SECRET_KEY"] and dev:
        app.config["SECRET_KEY"] = instance_secret(
            app.instance_path, "secret_key", lambda: new_data_key()
        )
        logging.getLogger("idp").info("development: secret key kept in the instance folder")
    if not values["DATA_KEY"] and dev:
        app.config["DATA_KEY"] = instance_secret(app.instance_path, "data_key", new_data_key)
        logging.getLogger("idp").info("development: data key kept in the instance folder")
    if not values["AUDIT_KEY"] and dev:
        app.config["AUDIT_KEY"] = instance_secret(app.instance_path, "audit_key", new_data_key)
        logging.getLogger("idp").info("development: audit key kept in the instance folder")
    app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", _engine_options(app.config["DATABASE_URL"]))
    app.config["MAX_CONTENT_LENGTH"] = values["MAX_CONTENT_LENGTH"]
    app.config["WTF_CSRF_TIME_LIMIT"] = None  # the SSO session bounds a form's life
    app.config["BABEL_DEFAULT_LOCALE"] = values["DEFAULT_LOCALE"]
    https = values["ISSUER"].startswith("https://")
    app.config["SESSION_COOKIE_SECURE"] = https
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_NAME"] = "__Host-idp_flash" if https else "idp_flash"
    app.config["SSO_COOKIE_NAME"] = (
        f"__Host-{values['SESSION_COOKIE_NAME']}" if https else values["SESSION_COOKIE_NAME"]
    )


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        # Several threads of a dev server share the file; wait for a lock rather than fail.
        return {"connect_args": {"timeout": 30}}
    return {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 10}


def _register_blueprints(app: Flask) -> None:
    from .oidc import init_app as init_oidc
    from .ops import init_app as init_ops

    init_oidc(app)
    init_ops(app)
    from .account import bp as account_bp
    from .auth import bp as auth_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(account_bp)
    from .admin import init_app as init_admin

    init_admin(app)
