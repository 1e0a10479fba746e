"""deploy/: the nginx site passes `nginx -t`; the systemd units verify and say what they must."""

from __future__ import annotations

import configparser
import datetime
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
IDP = str(Path(sys.executable).parent / "idp")


def _tool(name: str) -> str:
    """The tool's path; a failure under CI (where scripts/setup installs it), else a skip."""
    for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    if os.environ.get("CI") == "true":
        pytest.fail(f"{name} is missing; run scripts/setup --browser as root to install it.")
    pytest.skip(f"{name} is not installed (scripts/setup --browser installs it as root)")


def _self_signed(folder: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idp.example.gov.vn")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("idp.example.gov.vn")]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    (folder / "fullchain.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "privkey.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))


def _nginx_prefix(tmp_path: Path, site: str) -> Path:
    for sub in ("conf", "logs", "tls", "tmp"):
        (tmp_path / sub).mkdir()
    _self_signed(tmp_path / "tls")
    site = site.replace("/etc/ssl/idp/", f"{tmp_path}/tls/").replace(
        "/var/log/nginx/", f"{tmp_path}/logs/")
    (tmp_path / "conf" / "idp.conf").write_text(site)
    (tmp_path / "conf" / "nginx.conf").write_text(f"""
        pid {tmp_path}/nginx.pid;
        error_log {tmp_path}/logs/error.log;
        events {{}}
        http {{
            access_log {tmp_path}/logs/access.log;
            client_body_temp_path {tmp_path}/tmp/body;
            proxy_temp_path {tmp_path}/tmp/proxy;
            fastcgi_temp_path {tmp_path}/tmp/fastcgi;
            uwsgi_temp_path {tmp_path}/tmp/uwsgi;
            scgi_temp_path {tmp_path}/tmp/scgi;
            include {tmp_path}/conf/idp.conf;
        }}
    """)
    return tmp_path


def _nginx_t(nginx: str, prefix: Path) -> subprocess.CompletedProcess:
    return subprocess.run([nginx, "-t", "-p", str(prefix), "-c", str(prefix / "conf/nginx.conf")],
                          capture_output=True, text=True, timeout=60)


def test_nginx_site_passes_nginx_t(tmp_path):
    nginx = _tool("nginx")
    result = _nginx_t(nginx, _nginx_prefix(tmp_path, (DEPLOY / "nginx/idp.conf").read_text()))
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr and "test is successful" in result.stderr


def test_nginx_t_would_catch_a_broken_site(tmp_path):
    nginx = _tool("nginx")
    broken = (DEPLOY / "nginx/idp.conf").read_text().replace("proxy_pass http://idp_backend;",
                                                           "proxy_pass http://idp_backend")
    result = _nginx_t(nginx, _nginx_prefix(tmp_path, broken))
    assert result.returncode != 0


def test_nginx_site_proxies_to_two_gunicorns_with_forwarded_headers():
    site = (DEPLOY / "nginx/idp.conf").read_text()
    upstream = re.search(r"upstream idp_backend \{(.*?)\}", site, re.S).group(1)
    assert re.findall(r"server (127\.0\.0\.1:\d+)", upstream) == ["127.0.0.1:8001", "127.0.0.1:8002"]
    for header in ("X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Host"):
        assert re.search(rf"proxy_set_header {header} \$", site), header
    assert re.search(r"listen 443 ssl", site) and "ssl_certificate " in site
    assert "client_max_body_size 1m;" in site
    assert "return 301 https://" in site
    assert "$request_uri" not in site.split("log_format")[1].split(";")[0]  # no query logged


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=True, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string((DEPLOY / "systemd" / name).read_text())
    return parser


@pytest.mark.parametrize("name, command", [
    ("idp-web@.service", "idp serve --host 127.0.0.1 --port %i"),
    ("idp-worker.service", "idp worker"),
    ("idp-keys-rotate.service", "idp keys rotate"),
])
def test_systemd_units_have_what_they_need(name, command):
    unit = _unit(name)
    service = unit["Service"]
    assert service["ExecStart"].endswith(command)
    assert service["EnvironmentFile"] == "/etc/idp/idp.env"
    assert service["User"] == "idp" and service["NoNewPrivileges"] == "yes"
    assert "network-online.target" in unit["Unit"]["After"]
    if name != "idp-keys-rotate.service":
        assert service["Restart"] in {"on-failure", "always"}
        assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_each_web_instance_has_its_own_metrics_folder():
    service = _unit("idp-web@.service")["Service"]
    assert service["RuntimeDirectory"] == "idp-web-%i"
    assert service["Environment"] == "PROMETHEUS_MULTIPROC_DIR=/run/idp-web-%i"


def test_systemd_units_pass_systemd_analyze_verify(tmp_path):
    analyze = _tool("systemd-analyze")
    names = sorted(p.name for p in (DEPLOY / "systemd").iterdir())
    for name in names:
        # Verify checks that ExecStart exists: point it at this checkout's idp.
        text = (DEPLOY / "systemd" / name).read_text().replace("/opt/idp/.venv/bin/idp", IDP)
        (tmp_path / name).write_text(text)
    result = subprocess.run([analyze, "verify", *names], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    # systemd only warns about a misspelt key or value: any message is a failure here.
    assert result.stderr.strip() == "", result.stderr


def test_environment_file_example_is_production_ready_in_shape():
    values = dict(line.split("=", 1) for line in (DEPLOY / "idp.env.example").read_text().splitlines()
                  if line and not line.startswith("#"))
    assert values["IDP_ENV"] == "production"
    assert values["IDP_ISSUER"].startswith("https://")
    assert values["IDP_DATABASE_URL"].startswith("postgresql")
    assert values["IDP_TRUSTED_PROXIES"] == "1"
    from idp.config import load

    loaded = load({**values, "IDP_SECRET_KEY": "x" * 40,
                   "IDP_DATA_KEY": "5cJ9gHk8bX6p4Q1vM2zR7tW0yA3sD5fG8hJ1kL4nP6o=",
                   "IDP_AUDIT_KEY": "y" * 40}, None)
    assert loaded["METRICS_ALLOW"] == ["127.0.0.0/8", "::1/128"]
