"""Shared fixtures: an app per test on a fresh database, entities, and sign-in helpers.

The suite runs on SQLite by default and on PostgreSQL when IDP_TEST_DATABASE_URL
is set (each xdist worker gets its own database, created on first use).
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text

from idp import create_app
from idp.extensions import db
from tests.support.clients import RegisteredClient, register
from tests.support.config import base_config, worker_database_url
from tests.support.constants import PASSWORD

# Fixtures that tests of several areas use (helpers are plain modules in tests/support).
pytest_plugins = ["tests.support.fixtures"]

# Named configuration presets (django-oauth-toolkit style), applied with the ``preset`` marker.
PRESETS: dict[str, dict] = {
    "default": {},
    "https": {"ISSUER": "https://idp.example.gov.vn"},
    "short_sessions": {"SESSION_IDLE_TIMEOUT": 60, "SESSION_ABSOLUTE_TIMEOUT": 120},
    "owasp_argon2": {"ARGON2_MEMORY_KIB": 19456, "ARGON2_TIME_COST": 2, "ARGON2_PARALLELISM": 1},
    # Request rate limits on, with budgets a test can spend (per address; per client 3).
    "ratelimits": {"RATELIMIT_ENABLED": True, "RATELIMIT_LOGIN": "3/minute",
                   "RATELIMIT_LOGIN_OTP": "3/minute", "RATELIMIT_PASSWORD_FORGOT": "3/minute",
                   "RATELIMIT_TOKEN": "5/minute", "RATELIMIT_TOKEN_CLIENT": "3/minute",
                   "RATELIMIT_INTROSPECT": "5/minute", "RATELIMIT_INTROSPECT_CLIENT": "3/minute",
                   "RATELIMIT_REGISTER": "3/minute"},
}


@pytest.fixture(scope="session")
def database_url(tmp_path_factory, worker_id) -> str | None:
    base = os.environ.get("IDP_TEST_DATABASE_URL")
    if not base:
        return None
    return worker_database_url(base, worker_id)


@pytest.fixture(scope="session")
def _pg_schema(database_url):
    """Create the PostgreSQL schema once per session; tests then truncate."""
    if database_url is None:
        return None
    app = create_app(base_config(database_url, "/tmp/idp-pg-schema"))
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.create_all()
        db.engine.dispose()
    return True


@pytest.fixture(scope="session")
def _key_rows():
    """Signing keys generated once per session (RSA generation is slow) and reused."""
    app = create_app(base_config("sqlite://", "/tmp/idp-keys"))
    from idp.services import keys

    with app.app_context():
        rows = []
        for alg in keys.SUPPORTED_ALGS:
            for state in ("active", "next"):
                row = keys.create_key(alg, state)
                rows.append({c: getattr(row, c) for c in
                             ("kid", "alg", "state", "private_key_encrypted", "public_jwk",
                              "activated_at")})
        db.session.rollback()
    return rows


@pytest.fixture
def config(request, tmp_path, database_url) -> dict:
    cfg = base_config(database_url or f"sqlite:///{tmp_path / 'idp.sqlite3'}", str(tmp_path))
    marker = request.node.get_closest_marker("preset")
    for name in (marker.args if marker else ()):
        cfg.update(PRESETS[name])
    extra = request.node.get_closest_marker("config")
    if extra:
        cfg.update(extra.kwargs)
    return cfg


def pytest_configure(config):
    config.addinivalue_line("markers", "preset(*names): apply named config presets")
    config.addinivalue_line("markers", "config(**settings): per-test settings")


@pytest.fixture
def app(config, _pg_schema, _key_rows):
    from idp.models import SigningKey
    from idp.services import keys

    app = create_app(config)
    with app.app_context():
        if _pg_schema:
            tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
            with db.engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        else:
            db.create_all()
        for row in _key_rows:
            db.session.add(SigningKey(**row))
        db.session.commit()
        keys.invalidate_cache()
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    """Runs the ``idp`` command against the test app: runner.invoke(["user", "list"])."""
    from idp.cli import main

    cli_runner = app.test_cli_runner()

    class Runner:
        def invoke(self, args, **kwargs):
            return cli_runner.invoke(main, args, catch_exceptions=False, **kwargs)

    return Runner()


# --- entities --------------------------------------------------------------------------


@pytest.fixture
def department(app):
    from idp.services import users

    ministry = users.create_department("BO", "Bộ Nội vụ")
    unit = users.create_department("VP", "Văn phòng Bộ", parent_code=ministry.code)
    db.session.commit()  # the test is the boundary for what it sets up by hand
    return unit


@pytest.fixture
def user(app, department):
    from idp.services import users

    created, _ = users.create_user(
        "an.nguyen", email="an.nguyen@example.gov.vn", full_name="Nguyễn Văn An",
        password=PASSWORD, department=department.code, title="Chuyên viên",
        phone="+84 24 3823 0000", employee_number="NV-0001",
    )
    db.session.commit()
    return created


@pytest.fixture
def admin_user(app, department):
    from idp.services import users

    created, _ = users.create_user(
        "binh.tran", email="binh.tran@example.gov.vn", full_name="Trần Thị Bình",
        password=PASSWORD, department=department.code, roles=[users.global_role("admin")],
    )
    db.session.commit()
    return created


@pytest.fixture
def confidential_client(app) -> RegisteredClient:
    return register(
        "Quản lý văn bản", client_type="web", client_id="docs",
        redirect_uris=["http://127.0.0.2:5001/callback"],
        post_logout_redirect_uris=["http://127.0.0.2:5001/"],
        backchannel_logout_uri="http://127.0.0.2:5001/backchannel-logout",
        scope="openid profile email phone offline_access roles department",
        trusted=True, roles=["clerk", "leader"],
    )


@pytest.fixture
def public_client(app) -> RegisteredClient:
    return register(
        "Ứng dụng di động", client_type="spa", client_id="spa",
        redirect_uris=["http://127.0.0.1:8080/cb"], scope="openid profile email offline_access",
    )


@pytest.fixture
def service_client(app) -> RegisteredClient:
    return register("Đồng bộ nhân sự", client_type="service", client_id="hr-sync",
                     scope="staff.read")


# --- sign-in helpers ---------------------------------------------------------------------


@pytest.fixture
def sso_login(app, client):
    """Give the test browser a live SSO session for a user, as the sign-in page would."""
    from idp.services import sessions

    def login(user, amr=("pwd",), acr="urn:idp:acr:pwd"):
        session, cookie = sessions.create_session(user, amr=list(amr), acr=acr,
                                                  ip="127.0.0.1", user_agent="pytest")
        db.session.commit()
        client.set_cookie(app.config["SSO_COOKIE_NAME"], cookie, domain="localhost")
        return session

    return login
