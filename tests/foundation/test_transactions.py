"""One unit of work per request, command and worker step (issue 12 §2).

Services flush and never commit; the boundaries in ``idp.services.database`` commit once
or roll everything back. These tests pin the list of places that end a transaction, so
that a commit added inside a service later fails here (docs/adr/0001, "Transaction
boundaries", says why each one is there).
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

from idp.extensions import db
from idp.models import AuditEvent, OrgUnit
from idp.services import audit, database

ROOT = Path(__file__).resolve().parents[2]

# Where ``db.session.commit()`` may appear, and why (module, function).
COMMITS = {
    ("idp/services/database.py", "unit_of_work"),  # a CLI command, a worker step
    ("idp/services/database.py", "_end_request"),  # each request, after the view
    ("idp/services/database.py", "commit_before_error"),  # a refusal an error response rolls back
    # Throttle counters and locks survive the rollback of the request that failed.
    ("idp/services/throttle_store.py", "incr"),
    ("idp/services/throttle_store.py", "hold"),
    ("idp/services/throttle.py", "_mirror_lock"),
    # The audit sealer (idp worker, idp audit seal) runs outside any request: each batch of
    # links, each checkpoint and the lease hand-over is its own transaction, so that another
    # node's sealer sees the lease and the chain as soon as they are written.
    ("idp/services/audit.py", "_seal_batch"),
    ("idp/services/audit.py", "_checkpoint"),
    ("idp/services/audit.py", "release"),
}

# Every refusal that must outlive the error response raised right after it.
REFUSALS = {
    ("idp/oidc/assertions.py", "_remember_jti"),  # RFC 7523 §3: a jti is used once
    ("idp/oidc/client_auth.py", "_record"),  # ASVS 7.2.1: failed client authentication
    # RFC 6749 §4.1.2 code reuse and RFC 9700 §4.14.2 refresh token reuse: the revocation
    # stays although the invalid_grant answer rolls back (grants._kept, both callers).
    ("idp/oidc/grants.py", "_kept"),
    ("idp/services/admin_audit.py", "bearer_refused"),  # a refused bearer token
    ("idp/services/admin_clients.py", "guard"),  # an admin client is not the console's
    ("idp/services/admin_users.py", "guard"),  # nor is a global role's account
}

# The units of work besides the request's: CLI commands, and worker steps that must not
# hold a transaction open across a network call or a long purge.
UNITS = {
    ("idp/cli/base.py", "wrapper"),  # every ``idp`` subcommand made with ``command``
    ("idp/cli/demo.py", "demo"),
    ("idp/ops/worker.py", "run_once"),
    ("idp/services/backchannel.py", "deliver"),
    ("idp/services/outbox.py", "claim_due"),  # back-channel logouts and mail
    ("idp/services/mail.py", "_deliver"),
    ("idp/services/housekeeping.py", "_purge"),
    ("idp/services/housekeeping.py", "_purge_sessions"),
    ("idp/services/housekeeping.py", "_purge_counters"),
}


def _grep(pattern: str) -> set[tuple[str, str]]:
    """(module, innermost function) of each line of ``grep -rn pattern idp/``."""
    out = subprocess.run(["grep", "-rn", "--include=*.py", pattern, "idp/"], cwd=ROOT,
                         capture_output=True, text=True, check=False).stdout
    found = set()
    for line in out.splitlines():
        path, number, _ = line.split(":", 2)
        found.add((path, _function_at(ROOT / path, int(number))))
    return found


def _function_at(path: Path, line: int) -> str:
    best, name = None, "<module>"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if node.lineno <= line <= node.end_lineno and (best is None or node.lineno > best):
                best, name = node.lineno, node.name
    return name


def test_only_the_boundaries_commit():
    assert _grep(re.escape("db.session.commit")) == COMMITS


def test_every_kept_refusal_is_named():
    callers = _grep(r"commit_before_error()") - {("idp/services/database.py", "commit_before_error")}
    assert callers == REFUSALS


def test_every_unit_of_work_is_named():
    callers = {c for c in _grep(r"unit_of_work()") if c[0] != "idp/services/database.py"}
    assert callers == UNITS


def test_services_take_no_commit_flag():
    assert _grep(r"commit: bool\|commit=") == set()


def test_a_unit_of_work_commits_once_or_keeps_nothing(app):
    with pytest.raises(RuntimeError):
        with database.unit_of_work():
            db.session.add(OrgUnit(code="X1", name="Phòng thử"))
            audit.record("test.event", actor="pytest")
            raise RuntimeError("half-way")
    assert db.session.query(OrgUnit).filter_by(code="X1").count() == 0
    assert AuditEvent.query.filter_by(event_type="test.event").count() == 0
    with database.unit_of_work():
        db.session.add(OrgUnit(code="X2", name="Phòng thử"))
        audit.record("test.event", actor="pytest")
    db.session.remove()  # a fresh session reads what was committed
    assert db.session.query(OrgUnit).filter_by(code="X2").count() == 1
    assert AuditEvent.query.filter_by(event_type="test.event").count() == 1


def test_an_audit_event_joins_the_callers_transaction(app):
    audit.record("test.event", actor="pytest")
    db.session.rollback()
    assert AuditEvent.query.filter_by(event_type="test.event").count() == 0


def test_a_failed_command_keeps_nothing(app, runner, monkeypatch):
    """A command that fails after writing rolls all of it back (here: a crash after
    the user row and its audit event were added)."""
    from idp.services import users

    real = users.create_user

    def create_then_fail(*args, **kwargs):
        real(*args, **kwargs)
        raise RuntimeError("half-way")

    monkeypatch.setattr(users, "create_user", create_then_fail)
    with pytest.raises(RuntimeError):
        runner.invoke(["user", "create", "ha.le", "--email", "ha.le@example.gov.vn",
                       "--name", "Lê Thu Hà", "--temporary-password"])
    db.session.remove()
    assert users.find_user("ha.le") is None
