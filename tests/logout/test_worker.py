"""The worker: timed-out sessions fan out their logouts; the `idp worker` command; the thread."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from idp.extensions import db
from idp.models import AuditEvent, LogoutDelivery, SsoSession, utcnow
from idp.services import logout, sessions
from idp import config as settings


@pytest.fixture
def mail(make_rp, receiver):
    return make_rp("mail", backchannel=receiver.uri)


def _age(session: SsoSession, **delta) -> None:
    session.last_seen_at = utcnow() - timedelta(**delta)
    db.session.commit()


@pytest.mark.preset("short_sessions")
def test_housekeeping_ends_idle_sessions_and_queues_their_logouts(app, user, admin_user,
                                                                  sso_login, mail):
    idle = sso_login(user)
    sessions.join(idle, mail.id)
    _age(idle, seconds=61)
    fresh = sso_login(admin_user)
    sessions.join(fresh, mail.id)

    assert logout.end_timed_out_sessions() == 1

    db.session.expire_all()
    assert (idle.ended_at is not None, idle.end_reason) == (True, "timeout")
    assert fresh.ended_at is None
    (row,) = LogoutDelivery.query.all()
    assert (row.sid, row.sub, row.status) == (idle.sid, user.sub, "pending")
    (event,) = AuditEvent.query.filter_by(event_type="session.ended").all()
    assert event.details["reason"] == "timeout" and event.subject == user.sub
    assert logout.end_timed_out_sessions() == 0  # an ended session is not ended again


@pytest.mark.preset("short_sessions")
def test_housekeeping_ends_sessions_past_the_absolute_timeout(app, user, sso_login, mail):
    session = sso_login(user)
    sessions.join(session, mail.id)
    session.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert logout.end_timed_out_sessions() == 1
    assert LogoutDelivery.query.count() == 1


@pytest.mark.preset("short_sessions")
def test_the_worker_command_sweeps_and_delivers(app, runner, user, sso_login, mail, receiver):
    session = sso_login(user)
    sessions.join(session, mail.id)
    _age(session, seconds=90)
    receiver.start()
    result = runner.invoke(["worker", "--once"])
    assert result.exit_code == 0
    assert result.output.splitlines()[-1] == "Back-channel logout attempts made: 1."
    assert len(receiver.received) == 1
    db.session.expire_all()
    assert LogoutDelivery.query.one().status == "delivered"


def test_no_worker_thread_in_the_test_app(app, client):
    client.get("/end_session")
    assert "idp_inline_worker" not in app.extensions
    assert app.config["LOGOUT_INLINE_WORKER"] is False


def test_inline_worker_is_on_by_default_in_development_only():
    assert settings.load({}, None)["LOGOUT_INLINE_WORKER"] is True
    production = {"IDP_ENV": "production", "IDP_SECRET_KEY": "s" * 32,
                  "IDP_DATA_KEY": "5cJ9gHk8bX6p4Q1vM2zR7tW0yA3sD5fG8hJ1kL4nP6o=",
                  "IDP_AUDIT_KEY": "a" * 32,
                  "IDP_ISSUER": "https://idp.example.gov.vn",
                  "IDP_DATABASE_URL": "postgresql+psycopg://idp@db/idp"}
    assert settings.load(production, None)["LOGOUT_INLINE_WORKER"] is False
    assert settings.load({**production, "IDP_LOGOUT_INLINE_WORKER": "on"},
                         None)["LOGOUT_INLINE_WORKER"] is True
    assert settings.load({"IDP_LOGOUT_INLINE_WORKER": "off"}, None)["LOGOUT_INLINE_WORKER"] is False


@pytest.mark.config(LOGOUT_INLINE_WORKER=True)
def test_inline_worker_delivers_without_a_worker_process(app, client, user, sso_login, mail,
                                                        receiver):
    session = sso_login(user)
    sessions.join(session, mail.id)
    db.session.commit()
    client.get("/end_session", query_string={"lang": "en"})  # the first request starts it
    worker = app.extensions["idp_inline_worker"]
    try:
        sessions.end_session(session, "admin")
        db.session.commit()  # the worker thread reads the outbox on its own connection
        receiver.start()
        assert len(receiver.wait_for(1, timeout=8)) == 1
    finally:
        worker.stop()
        time.sleep(0.1)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        db.session.expire_all()
        if LogoutDelivery.query.one().status == "delivered":
            break
        time.sleep(0.05)
    assert LogoutDelivery.query.one().status == "delivered"


@pytest.mark.config(LOGOUT_INLINE_WORKER=True)
def test_a_command_does_not_start_the_inline_worker(app, runner, client):
    """The factory wires the thread to the first request: an ``idp`` command starts none."""
    assert runner.invoke(["user", "list"]).exit_code == 0
    assert "idp_inline_worker" not in app.extensions
    client.get("/healthz")
    worker = app.extensions["idp_inline_worker"]
    worker.stop()
    client.get("/healthz")
    assert app.extensions["idp_inline_worker"] is worker  # one thread per process
