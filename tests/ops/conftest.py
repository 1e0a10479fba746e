"""Fixtures for the operations tests: log capture, metric samples, a second database."""

from __future__ import annotations

import json
import os
import re

import pytest
from sqlalchemy import text

from idp import create_app
from idp.extensions import db
from tests.support.config import base_config, worker_database_url


def json_lines(err: str) -> list[dict]:
    """The JSON log lines in captured stderr (other output is ignored)."""
    lines = []
    for line in err.splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def sample(body: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus text exposition (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in body.splitlines():
        match = re.match(r"^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = ",".join(sorted((match.group(3) or "").split(","))) if match.group(3) else ""
        if found == wanted:
            return float(match.group(4))
    return 0.0


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
