"""Fixtures of the hostile-input tests: a signed-in relying party flow, an admin API
token and a live threaded server (helpers in kit.py)."""

from __future__ import annotations

import pytest

from tests.support.flow import Flow
from tests.support.net import LiveServer


@pytest.fixture
def flow(client, confidential_client, user, sso_login) -> Flow:
    """A signed-in browser and the document system (a trusted confidential client)."""
    sso_login(user)
    return Flow.broad(client, confidential_client)


@pytest.fixture
def admin_api_token(app) -> str:
    """A live access token with every admin scope, as a service client would get."""
    from idp.extensions import db
    from idp.services import clients, tokens
    from idp.services.tokens import AuthContext

    row, _secret = clients.create_client(
        "Công cụ quản trị", client_type="service", client_id="admin-tool",
        scope="admin.clients admin.staff admin.audit")
    response, _row = tokens.new_token_row(row, None, "admin.clients admin.staff admin.audit",
                                          "client_credentials", AuthContext(), refresh=False)
    db.session.commit()
    return response["access_token"]


@pytest.fixture
def live_server(app):
    with LiveServer(app) as server:
        yield server
