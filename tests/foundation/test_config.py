"""Settings: defaults need nothing; production refuses development defaults by name."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from idp import config, create_app
from idp.config import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_development_needs_no_setting(tmp_path):
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'idp.sqlite3'}"
    assert (tmp_path / "secret_key").read_text().strip() == app.config["SECRET_KEY"]
    assert (tmp_path / "data_key").stat().st_mode & 0o777 == 0o600
    # The generated keys are kept: a second start uses the same ones.
    again = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert again.config["DATA_KEY"] == app.config["DATA_KEY"]


def test_environment_overrides_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("IDP_TOKEN_ACCESS_TTL", "120")
    monkeypatch.setenv("IDP_ISSUER", "https://sso.example.gov.vn/")
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["TOKEN_ACCESS_TTL"] == 120
    assert app.config["ISSUER"] == "https://sso.example.gov.vn"
    assert app.config["SSO_COOKIE_NAME"] == "__Host-idp_session"
    assert app.config["SESSION_COOKIE_SECURE"] is True


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"IDP_TOKEN_ACCESS_TTL": "ten"}, "IDP_TOKEN_ACCESS_TTL"),
        ({"IDP_ISSUER": "sso.example"}, "IDP_ISSUER"),
        ({"IDP_ISSUER": "https://sso.example/?x=1"}, "IDP_ISSUER"),
        ({"IDP_DATA_KEY": "short"}, "IDP_DATA_KEY"),
        ({"IDP_ENV": "production"}, "IDP_SECRET_KEY"),
        ({"IDP_ENV": "production", "IDP_SECRET_KEY": "s"}, "IDP_DATA_KEY"),
        ({"IDP_ENV": "production", "IDP_SECRET_KEY": "s", "IDP_DATA_KEY": config.new_data_key()},
         "IDP_DATABASE_URL"),
        ({"IDP_ENV": "production", "IDP_SECRET_KEY": "s", "IDP_DATA_KEY": config.new_data_key(),
          "IDP_DATABASE_URL": "sqlite:////tmp/x.db", "IDP_ISSUER": "https://sso.example"},
         "IDP_DATABASE_URL"),
        ({"IDP_ENV": "production", "IDP_SECRET_KEY": "s", "IDP_DATA_KEY": config.new_data_key(),
          "IDP_DATABASE_URL": "postgresql://db/idp", "IDP_ISSUER": "http://sso.example"},
         "IDP_ISSUER"),
        ({"IDP_ENV": "production", "IDP_SECRET_KEY": "s", "IDP_DATA_KEY": config.new_data_key(),
          "IDP_DATABASE_URL": "postgresql://db/idp", "IDP_ISSUER": "https://sso.example"},
         "IDP_AUDIT_KEY"),
    ],
)
def test_bad_or_missing_setting_names_the_variable(env, variable):
    with pytest.raises(ConfigError, match=re.escape(variable)):
        config.load(env, None)


def test_production_accepts_a_complete_configuration():
    values = config.load({
        "IDP_ENV": "production", "IDP_SECRET_KEY": "s", "IDP_DATA_KEY": config.new_data_key(),
        "IDP_DATABASE_URL": "postgresql+psycopg://db/idp", "IDP_ISSUER": "https://sso.example",
        "IDP_AUDIT_KEY": "a" * 32,
    }, None)
    assert values["ENV"] == "production"


def test_production_start_up_error_is_one_line(tmp_path):
    """The `idp` command reports a bad setting in one line, without a traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "idp.cli", "user", "list"], cwd=ROOT, capture_output=True,
        text=True, env={"PATH": "/usr/bin:/bin", "IDP_ENV": "production",
                        "IDP_INSTANCE_PATH": str(tmp_path)},
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "Error: IDP_SECRET_KEY must be set in production mode."


def test_every_setting_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    missing = [s.env for s in config.SETTINGS if f"`{s.env}`" not in readme]
    assert missing == []
