"""idp export / import / backup: move the directory between databases, copy SQLite."""

from __future__ import annotations

import json
import os
import sqlite3
import stat

import pytest

from idp import create_app
from idp.cli import main
from idp.extensions import db
from idp.models import Client, OrgUnit, User
from idp.services import clients, passwords, transfer, users
from tests.support.config import base_config
from tests.support.constants import PASSWORD


def _invoke(app, args, **kwargs):
    return app.test_cli_runner().invoke(main, args, catch_exceptions=False, **kwargs)


@pytest.fixture
def directory(app, user, admin_user, confidential_client, public_client, service_client):
    """A populated source: departments, global and client roles, staff, clients."""
    docs = confidential_client.row
    user.roles = [*user.roles, next(r for r in docs.roles if r.name == "clerk")]
    db.session.commit()
    return {"docs": confidential_client.client_secret, "hr-sync": service_client.client_secret}


def test_round_trip_keeps_passwords_and_client_secrets(app, other_app, directory, tmp_path):
    path = tmp_path / "idp-export.json"
    exported = _invoke(app, ["export", str(path)])
    assert exported.exit_code == 0, exported.output
    assert "Exported 2 departments, 1 roles, 3 clients, 2 users." in exported.output
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600  # it holds hashes
    document = json.loads(path.read_text())
    assert (document["format"], document["version"]) == ("idp-export", 1)
    assert PASSWORD not in path.read_text() and directory["docs"] not in path.read_text()
    source_subs = {u.username: u.sub for u in User.query}

    with other_app.app_context():
        imported = _invoke(other_app, ["import", str(path)])
        assert imported.exit_code == 0, imported.output
        assert "Imported 2 departments, 1 roles, 3 clients, 2 staff; skipped 0 existing." \
            in imported.output
        an = users.get_user("an.nguyen")
        assert passwords.verify_password(an.password_hash, PASSWORD)
        assert not passwords.verify_password(an.password_hash, PASSWORD + "!")
        assert {u.username: u.sub for u in User.query} == source_subs
        assert an.department.code == "VP" and an.department.parent.code == "BO"
        docs = clients.get_client("docs")
        assert clients.check_secret(docs, directory["docs"])
        assert clients.check_secret(clients.get_client("hr-sync"), directory["hr-sync"])
        assert not clients.check_secret(docs, directory["hr-sync"])
        assert an.client_roles(docs.id) == ["clerk"]
        assert users.get_user("binh.tran").global_roles() == ["admin"]
        assert docs.redirect_uris == ["http://127.0.0.2:5001/callback"] and docs.trusted
        spa = clients.get_client("spa")
        assert spa.is_public and spa.secret_hash is None


def test_import_refuses_another_format_or_version(app, runner, tmp_path):
    for document, message in (
        ({"format": "keycloak-realm", "version": 1}, 'This is not an IDP export: its "format" is not "idp-export".'),
        ({"format": "idp-export", "version": 2}, "This export has version 2; this provider reads version 1 only."),
    ):
        path = tmp_path / "doc.json"
        path.write_text(json.dumps(document))
        result = runner.invoke(["import", str(path)])
        assert result.exit_code == 1
        assert message in result.output
        assert "Traceback" not in result.output
    path.write_text("{not json")
    result = runner.invoke(["import", str(path)])
    assert result.exit_code == 1 and "is not JSON" in result.output


def test_conflicts_fail_the_whole_import_or_are_skipped(app, other_app, directory):
    document = transfer.export_document()
    with other_app.app_context():
        users.create_department("VP", "Văn phòng (already here)")
        db.session.commit()
        before = {m.__name__: m.query.count() for m in (OrgUnit, Client, User)}
        with pytest.raises(Exception) as refused:
            transfer.import_document(document, on_conflict="fail")
        assert "A department with the code VP exists already." in str(refused.value)
        assert "Nothing was imported" in str(refused.value)
        assert {m.__name__: m.query.count() for m in (OrgUnit, Client, User)} == before

        counts = transfer.import_document(document, on_conflict="skip")
        db.session.commit()
        assert counts == {"departments": 1, "roles": 1, "clients": 3, "users": 2, "skipped": 1}
        assert users.get_department("VP").name == "Văn phòng (already here)"
        assert users.get_user("an.nguyen").department.code == "VP"

        again = transfer.import_document(document, on_conflict="skip")
        assert again == {"departments": 0, "roles": 0, "clients": 0, "users": 0, "skipped": 7}


def test_import_is_all_or_nothing(app, other_app, directory):
    document = transfer.export_document()
    document["users"][-1]["roles"] = ["docs:no-such-role"]
    with other_app.app_context():
        with pytest.raises(transfer.ImportRefused, match="the role docs:no-such-role does not exist"):
            transfer.import_document(document)
        assert OrgUnit.query.count() == 0 and Client.query.count() == 0
        assert User.query.count() == 0


def test_backup_copies_a_live_sqlite_database(tmp_path, config):
    app = create_app({**config, "DATABASE_URL": f"sqlite:///{tmp_path / 'live.sqlite3'}"})
    with app.app_context():
        db.create_all()
        users.create_department("BO", "Bộ Nội vụ")
        db.session.commit()
        writer = sqlite3.connect(tmp_path / "live.sqlite3")
        writer.execute("BEGIN IMMEDIATE")  # a write in progress while the backup runs
        writer.execute("INSERT INTO org_units (code, name, mfa_required, created_at) "
                       "VALUES ('UNCOMMITTED', 'x', 0, '2026-01-01 00:00:00')")
        result = _invoke(app, ["backup", str(tmp_path / "copy.sqlite3")])
        writer.rollback()
        writer.close()
        assert result.exit_code == 0, result.output
        assert "integrity ok" in result.output
        copy = sqlite3.connect(tmp_path / "copy.sqlite3")
        assert copy.execute("SELECT code FROM org_units").fetchall() == [("BO",)]
        copy.close()
        assert stat.S_IMODE(os.stat(tmp_path / "copy.sqlite3").st_mode) == 0o600
        again = _invoke(app, ["backup", str(tmp_path / "copy.sqlite3")])
        assert again.exit_code == 1 and "exists already; give --force" in again.output
        db.session.remove()
        db.engine.dispose()


def test_backup_refuses_postgresql_and_suggests_pg_dump(tmp_path):
    config = base_config("postgresql+psycopg://idp@127.0.0.1:1/idp", str(tmp_path))
    app = create_app(config)
    result = _invoke(app, ["backup", str(tmp_path / "copy")])
    assert result.exit_code == 1
    assert "For PostgreSQL use pg_dump" in result.output
    assert not (tmp_path / "copy").exists()
