"""The `idp` command: each subcommand runs and has the effect it promises."""

import json

from sqlalchemy import text

from idp.extensions import db
from idp.models import Client, SigningKey, User
from idp.services import audit, clients, passwords
from tests.support.constants import PASSWORD


def test_init_creates_schema_and_keys_and_is_safe_to_rerun(app, runner):
    with db.engine.begin() as conn:
        db.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    first = runner.invoke(["init"])
    assert first.exit_code == 0, first.output
    from alembic.script import ScriptDirectory

    from idp.services import database

    head = ScriptDirectory.from_config(database.alembic_config()).get_current_head()
    assert f"Database at revision {head}." in first.output
    assert first.output.count("signing key") == 4
    kids = {k.kid for k in SigningKey.query.all()}
    second = runner.invoke(["init"])
    assert second.exit_code == 0
    assert "Signing keys present." in second.output
    assert {k.kid for k in SigningKey.query.all()} == kids


def test_user_create_with_password_and_roles(runner, department):
    result = runner.invoke(["user", "create", "Chi.Le", "--email", "chi.le@example.gov.vn",
                            "--name", "Lê Minh Chi", "--department", "VP", "--password",
                            PASSWORD, "--role", "helpdesk"])
    assert result.exit_code == 0, result.output
    row = User.query.filter_by(username="chi.le").one()
    assert row.department.code == "VP"
    assert row.global_roles() == ["helpdesk"]
    assert passwords.verify_password(row.password_hash, PASSWORD)
    assert row.password_hash.startswith("$argon2id$")
    assert not row.must_change_password


def test_user_create_with_temporary_password(runner):
    result = runner.invoke(["user", "create", "dung", "--email", "dung@example.gov.vn",
                            "--name", "Phạm Dũng", "--temporary-password"])
    assert result.exit_code == 0
    temporary = result.output.split("Temporary password (shown once): ")[1].strip()
    row = User.query.filter_by(username="dung").one()
    assert row.must_change_password
    assert passwords.verify_password(row.password_hash, temporary)


def test_user_create_refuses_duplicates_and_bad_input(runner, user):
    dup = runner.invoke(["user", "create", user.username, "--email", "x@example.gov.vn",
                         "--name", "X", "--password", PASSWORD])
    assert dup.exit_code == 1
    assert "exists already" in dup.output
    assert "Traceback" not in dup.output
    weak = runner.invoke(["user", "create", "e", "--email", "e@example.gov.vn", "--name", "E E",
                          "--password", "short"])
    assert weak.exit_code == 1
    assert "username" in weak.output or "at least 12" in weak.output
    common = runner.invoke(["user", "create", "em", "--email", "em@example.gov.vn", "--name",
                            "E M", "--password", "password1234"])
    assert common.exit_code == 1 and "too common" in common.output
    nodept = runner.invoke(["user", "create", "gia", "--email", "gia@example.gov.vn", "--name",
                            "G", "--password", PASSWORD, "--department", "NOPE"])
    assert nodept.exit_code == 1 and "NOPE" in nodept.output
    unknown = runner.invoke(["user", "create", "h", "--bogus"])
    assert unknown.exit_code == 2 and "No such option" in unknown.output


def test_user_list_and_disable(runner, user, sso_login):
    session = sso_login(user)
    listed = runner.invoke(["user", "list", "--json"])
    assert json.loads(listed.output.splitlines()[0])["username"] == "an.nguyen"
    result = runner.invoke(["user", "disable", "an.nguyen"])
    assert result.exit_code == 0
    assert "ended 1 session" in result.output
    db.session.refresh(user)
    db.session.refresh(session)
    assert user.status == "disabled" and session.end_reason == "disabled"
    missing = runner.invoke(["user", "disable", "nobody"])
    assert missing.exit_code == 1 and "nobody" in missing.output


def test_user_set_password(runner, user):
    new = "Một mật khẩu mới rất dài"
    result = runner.invoke(["user", "set-password", "an.nguyen"], input=f"{new}\n{new}\n")
    assert result.exit_code == 0, result.output
    db.session.refresh(user)
    assert passwords.verify_password(user.password_hash, new)


def test_client_create_json_and_show(runner):
    result = runner.invoke(["client", "create", "--name", "Thư điện tử", "--redirect-uri",
                            "https://mail.example.gov.vn/callback", "--backchannel-logout-uri",
                            "https://mail.example.gov.vn/bcl", "--scope", "openid profile",
                            "--trusted", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    row = Client.query.filter_by(client_id=data["client_id"]).one()
    assert clients.check_secret(row, data["client_secret"])
    assert row.secret_hash != data["client_secret"]  # only the hash is stored
    assert row.trusted and row.redirect_uris == ["https://mail.example.gov.vn/callback"]
    shown = json.loads(runner.invoke(["client", "show", data["client_id"]]).output)
    assert shown["name"] == "Thư điện tử" and "client_secret" not in shown
    assert data["client_id"] in runner.invoke(["client", "list"]).output


def test_client_create_public_has_no_secret(runner):
    result = runner.invoke(["client", "create", "--name", "SPA", "--type", "spa",
                            "--redirect-uri", "http://127.0.0.1:9000/cb", "--json"])
    data = json.loads(result.output)
    assert "client_secret" not in data
    assert data["token_endpoint_auth_method"] == "none"


def test_client_create_refuses_bad_redirect_uris(runner):
    for uri, reason in [("not a uri", "absolute"), ("https://a.example/cb#x", "fragment"),
                        ("http://a.example/cb", "https"), ("https://*.example/cb", "wildcard")]:
        result = runner.invoke(["client", "create", "--name", "X", "--redirect-uri", uri])
        assert result.exit_code == 1, uri
        assert reason in result.output


def test_client_rotate_secret_with_grace(runner, confidential_client):
    result = runner.invoke(["client", "rotate-secret", "docs", "--grace", "60", "--json"])
    new = json.loads(result.output)["client_secret"]
    row = clients.get_client("docs")
    assert clients.check_secret(row, new)
    assert clients.check_secret(row, confidential_client.client_secret)  # within the grace
    runner.invoke(["client", "rotate-secret", "docs"])
    assert not clients.check_secret(row, new)
    missing = runner.invoke(["client", "rotate-secret", "nope"])
    assert missing.exit_code == 1


def test_keys_list_and_rotate(runner, client):
    before = client.get("/jwks").get_json()["keys"]
    assert len(before) == 4
    listed = runner.invoke(["keys", "list"]).output
    assert listed.count("active") == 2 and listed.count("next") == 2
    too_soon = runner.invoke(["keys", "rotate"])
    assert too_soon.exit_code == 1 and "IDP_KEYS_JWKS_CACHE" in too_soon.output
    next_rs = SigningKey.query.filter_by(alg="RS256", state="next").one().kid
    result = runner.invoke(["keys", "rotate", "--alg", "RS256", "--force"])
    assert result.exit_code == 0
    assert SigningKey.query.filter_by(alg="RS256", state="active").one().kid == next_rs
    kids = {k["kid"] for k in client.get("/jwks").get_json()["keys"]}
    # The retired key is still published, and so is the new next key.
    assert {k["kid"] for k in before} < kids and len(kids) == 5


def test_audit_verify_detects_tampering(runner, app):
    for i in range(3):
        audit.record("test.event", actor="cli", details={"n": i})
    unsealed = runner.invoke(["audit", "verify"])
    assert unsealed.exit_code == 0 and "3 events are not sealed yet" in unsealed.output
    sealed = runner.invoke(["audit", "seal"])
    assert sealed.exit_code == 0 and "Sealed 3 events; checkpoint at position 3" in sealed.output
    ok = runner.invoke(["audit", "verify"])
    assert ok.exit_code == 0 and "3 events verified" in ok.output
    assert "not sealed" not in ok.output
    db.session.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE id = 2"))
    db.session.commit()
    bad = runner.invoke(["audit", "verify"])
    assert bad.exit_code == 1 and "broken at event 2" in bad.output


def test_serve_refuses_development_defaults(runner, monkeypatch):
    monkeypatch.delenv("IDP_SECRET_KEY", raising=False)
    result = runner.invoke(["serve", "--port", "5999"])
    assert result.exit_code == 1
    assert "IDP_SECRET_KEY" in result.output
