"""/metrics: Prometheus text, loopback only by default, counters driven by audit events."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from idp import create_app
from idp.config import ConfigError
from idp.extensions import db
from idp.models import LogoutDelivery, utcnow
from idp.services import audit, sessions
from tests.support.observe import sample


def test_metrics_is_prometheus_text_with_request_counts_and_latency(client, scrape):
    before = sample(scrape(), "idp_http_requests_total",
                    endpoint="ops.healthz", method="GET", status="200")
    client.get("/healthz")
    client.get("/healthz")
    client.get("/no-such-page")
    response = client.get("/metrics")
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    body = response.get_data(as_text=True)
    labels = {"endpoint": "ops.healthz", "method": "GET", "status": "200"}
    assert sample(body, "idp_http_requests_total", **labels) == before + 2
    assert sample(body, "idp_http_request_duration_seconds_count", **labels) == before + 2
    assert sample(body, "idp_http_request_duration_seconds_bucket", le="+Inf", **labels) == before + 2
    # An unknown path is one label value, not one per path.
    assert sample(body, "idp_http_requests_total",
                  endpoint="unmatched", method="GET", status="404") >= 1
    assert "/no-such-page" not in body


def test_metrics_refused_outside_the_allowed_networks(client):
    response = client.get("/metrics", environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert response.status_code == 403
    assert response.get_json()["error"] == "forbidden"
    assert "idp_" not in response.get_data(as_text=True)


@pytest.mark.config(METRICS_ALLOW=["10.20.0.0/16"])
def test_metrics_allowed_from_a_configured_network(client):
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.20.3.4"}).status_code == 200
    assert client.get("/metrics").status_code == 403  # loopback no longer listed


def test_a_malformed_metrics_allow_list_is_refused_at_start(config):
    with pytest.raises(ConfigError, match="IDP_METRICS_ALLOW is malformed"):
        create_app({**config, "METRICS_ALLOW": ["10.0.0.0/33"]})


def test_signin_and_token_audit_events_drive_the_counters(app, scrape, confidential_client):
    """The counters follow audit events, so no sign-in or token code calls them."""
    body = scrape()
    failures = sample(body, "idp_signins_total", outcome="failure")
    successes = sample(body, "idp_signins_total", outcome="success")
    issued = sample(body, "idp_tokens_issued_total", client="docs", grant="authorization_code")
    # What the sign-in service records: one "login" event per attempt, with its outcome.
    audit.record("login", outcome="failure", subject="an.nguyen", ip="127.0.0.1",
                 details={"reason": "bad_password"})
    audit.record("login.password", subject="an.nguyen", ip="127.0.0.1")  # a step, not counted
    audit.record("login", subject="an.nguyen", ip="127.0.0.1", details={"amr": ["pwd"]})
    audit.record("signin.failure", outcome="failure", subject="an.nguyen", ip="127.0.0.1")
    audit.record("token.issued", client="docs", subject="an.nguyen",
                 details={"grant_type": "authorization_code"})
    audit.record("client.created", client="docs")  # counts nothing
    body = scrape()
    assert sample(body, "idp_signins_total", outcome="failure") == failures + 2
    assert sample(body, "idp_signins_total", outcome="success") == successes + 1
    assert sample(body, "idp_tokens_issued_total",
                  client="docs", grant="authorization_code") == issued + 1


def test_active_sessions_and_outbox_backlog_are_counted_at_scrape_time(
        app, scrape, user, confidential_client, sso_login):
    first = sso_login(user)
    sso_login(user)
    ended = sso_login(user)
    sessions.end_session(ended, "logout")
    for status in ("pending", "pending", "delivered", "failed"):
        db.session.add(LogoutDelivery(client_id=confidential_client.row.id, uri="http://x/",
                                      sid=first.sid, status=status))
    db.session.commit()
    pending = LogoutDelivery.query.filter_by(status="pending").count()
    body = scrape()
    assert sample(body, "idp_sso_sessions_active") == 2
    assert sample(body, "idp_logout_outbox_pending") == pending
    assert pending >= 2


def test_multiprocess_mode_adds_up_the_values_of_every_worker(tmp_path, config):
    """Under gunicorn each worker is a process: a scrape must see all of them."""
    metrics_dir = tmp_path / "prom"
    metrics_dir.mkdir()
    script = textwrap.dedent(f"""
        import sys
        from idp import create_app
        app = create_app({{**{config!r}, "INSTANCE_PATH": {str(tmp_path)!r}}})
        client = app.test_client()
        if sys.argv[1] == "hit":
            for _ in range(3):
                client.get("/healthz")
        else:
            from idp.extensions import db
            with app.app_context():
                db.create_all()
            print(client.get("/metrics").get_data(as_text=True))
    """)
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    for _ in range(2):  # two "workers", each gone before the scrape
        subprocess.run([sys.executable, "-c", script, "hit"], env=env, check=True,
                       capture_output=True, timeout=60)
    scraped = subprocess.run([sys.executable, "-c", script, "scrape"], env=env, check=True,
                             capture_output=True, text=True, timeout=60).stdout
    assert sample(scraped, "idp_http_requests_total",
                  endpoint="ops.healthz", method="GET", status="200") == 6
    assert "idp_sso_sessions_active" in scraped
