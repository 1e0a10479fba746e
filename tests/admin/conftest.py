"""Fixtures for the administrators' side (staff per role, CSRF, service tokens: in
tests/support/fixtures.py, shared with the security tests): the admin API caller."""

from __future__ import annotations

import pytest


@pytest.fixture
def api(client, client_credentials):
    """Call the admin API with a bearer token carrying ``scope``."""
    def call(method: str, path: str, scope: str = "admin.clients admin.staff admin.audit", **kwargs):
        headers = {"Authorization": f"Bearer {client_credentials(scope)}", **kwargs.pop("headers", {})}
        return client.open(f"/api/admin{path}", method=method, headers=headers, **kwargs)

    return call
