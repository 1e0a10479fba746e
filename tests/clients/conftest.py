"""Fixtures for the client adapter and demo apps: a running fake OP and a browser helper."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.support.fake_op import FakeOP
from tests.support.relying_party import STAFF, AppBrowser, build_rp


@pytest.fixture(scope="session")
def _op_server() -> Iterator[FakeOP]:
    op = FakeOP().start()
    yield op
    op.stop()


@pytest.fixture
def op(_op_server: FakeOP) -> FakeOP:
    """The fake provider, well-behaved and with the default staff member signed in."""
    _op_server.reset()
    _op_server.user = dict(STAFF)
    _op_server.clients = {"rp": "rp-secret", "docs": "docs-secret", "webmail": "webmail-secret",
                          "onestop": "onestop-secret"}
    return _op_server


@pytest.fixture
def rp(op: FakeOP, tmp_path: Path) -> Flask:
    return build_rp(op, tmp_path)


@pytest.fixture
def browser(rp: Flask, op: FakeOP) -> AppBrowser:
    return AppBrowser(rp.test_client(), op=op)
