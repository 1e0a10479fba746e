"""Fixtures for the operations tests: a metrics scrape, a second database (log and metric
readers are in tests/support/observe.py)."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text

from idp import create_app
from idp.extensions import db
from tests.support.config import base_config, worker_database_url


@pytest.fixture
def scrape(client):
    """Read /metrics as Prometheus would, from loopback."""

    def read() -> str:
        response = client.get("/metrics")
        assert response.status_code == 200, response.data
        return response.get_data(as_text=True)

    return read


@pytest.fixture
def other_app(tmp_path, database_url, worker_id):
    """A second provider on its own empty database (the target of an import)."""
    if database_url:
        url = worker_database_url(os.environ["IDP_TEST_DATABASE_URL"], f"{worker_id}_other")
    else:
        url = f"sqlite:///{tmp_path / 'other.sqlite3'}"
    app = create_app(base_config(url, str(tmp_path / "other")))
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
