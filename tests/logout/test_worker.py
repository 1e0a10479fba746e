"""The worker: timed-out sessions fan out their logouts; the `idp worker` command; the thread."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from idp.extensions import db
from idp.models import AuditEvent, LogoutDelivery, SsoSession, utcnow
from idp.services import logout, sessions
from idp.worker import inline_enabled


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
    assert not inline_enabled(app)


def test_inline_worker_is_on_by_default_in_development(app):
    app.testing = False
    try:
        assert inline_enabled(app)
        app.config["ENV"] = "production"
        assert not inline_enabled(app)
    finally:
        app.testing = True
        app.config["ENV"] = "development"


@pytest.mark.config(LOGOUT_INLINE_WORKER=True)
def test_inline_worker_delivers_without_a_worker_process(app, client, user, sso_login, mail,
                                                        receiver):
    session = sso_login(user)
    sessions.join(session, mail.id)
    client.get("/end_session", query_string={"lang": "en"})  # the first request starts it
    worker = app.extensions["idp_inline_worker"]
    try:
        sessions.end_session(session, "admin")
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
