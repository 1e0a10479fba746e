"""/healthz answers without the database; /readyz checks the database and the signing key."""

from __future__ import annotations

from sqlalchemy import event

from idp import create_app
from idp.extensions import db
from idp.models import SigningKey
from idp.services import keys
from tests.support.config import base_config


def test_healthz_is_ok_without_touching_the_database(app, client):
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        response = client.get("/healthz")
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"
    assert statements == []


def test_healthz_and_readyz_when_the_database_is_unreachable(tmp_path):
    # A SQLite file in a folder that does not exist cannot be opened.
    config = base_config(f"sqlite:///{tmp_path / 'missing' / 'idp.sqlite3'}", str(tmp_path))
    app = create_app(config)
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert "database unreachable (OperationalError)" in body["reasons"]
    assert response.headers["Retry-After"] == "5"


def test_readyz_is_ready_with_a_database_and_an_active_key(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready"}


def test_readyz_is_unavailable_without_an_active_signing_key(app, client):
    SigningKey.query.filter_by(state="active").delete()
    db.session.commit()
    keys.invalidate_cache()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {
        "error": "temporarily_unavailable",
        "error_description": "The provider is not ready: no active RS256 signing key can be loaded.",
        "status": "unavailable", "reasons": ["no active RS256 signing key can be loaded"],
    }


def test_readyz_is_unavailable_when_the_data_key_cannot_decrypt_the_key(config, app):
    other = create_app({**config, "DATA_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="})
    keys.invalidate_cache()
    with other.app_context():
        response = other.test_client().get("/readyz")
        db.session.remove()
        db.engine.dispose()
    keys.invalidate_cache()
    assert response.status_code == 503
    assert response.get_json()["reasons"] == ["no active RS256 signing key can be loaded"]
