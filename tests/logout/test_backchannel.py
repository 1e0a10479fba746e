"""OIDC Back-Channel Logout 1.0: the outbox, the logout token, retries and several workers."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from tests.support.net import Receiver

from idp import create_app
from idp.extensions import db
from idp.models import AuditEvent, LogoutDelivery, utcnow
from idp.services import backchannel, sessions
from idp.ops.worker import Worker

EVENT = "http://schemas.openid.net/event/backchannel-logout"


@pytest.fixture
def joined(user, sso_login, make_rp, receiver):
    """A live session that the client "mail" joined; mail's endpoint is the receiver."""
    rp = make_rp("mail", backchannel=receiver.uri)
    session = sso_login(user)
    sessions.join(session, rp.id)
    db.session.commit()
    return session


def _rows() -> list[LogoutDelivery]:
    db.session.expire_all()
    return LogoutDelivery.query.order_by(LogoutDelivery.id).all()


def _rewind_all() -> None:
    """Let the backoff wait pass (as if time went by)."""
    db.session.execute(db.update(LogoutDelivery).values(next_attempt_at=utcnow()))
    db.session.commit()


def _verify(client, token: str):
    keyset = KeySet.import_key_set(client.get("/jwks").get_json())
    return jwt.decode(token, keyset, algorithms=["RS256", "ES256"])


def test_logout_token_is_signed_and_exact(app, client, user, joined, receiver):
    receiver.start()
    assert sessions.end_session(joined, "rp_logout")
    (row,) = _rows()
    assert (row.status, row.attempts, row.uri) == ("pending", 0, receiver.uri)
    before = int(utcnow().timestamp())

    (outcome,) = backchannel.deliver_due()

    assert (outcome.status, outcome.attempts, outcome.error) == ("delivered", 1, None)
    (request,) = receiver.received
    assert request["method"] == "POST" and request["path"] == "/backchannel-logout"
    assert request["content_type"] == "application/x-www-form-urlencoded"
    assert list(request["form"]) == ["logout_token"]
    token = _verify(client, request["form"]["logout_token"][0])
    assert token.header["typ"] == "logout+jwt"
    assert token.header["alg"] == "RS256"
    claims = token.claims
    assert set(claims) == {"iss", "aud", "iat", "exp", "jti", "events", "sid", "sub"}
    assert "nonce" not in claims  # §2.4: a logout token MUST NOT contain a nonce
    assert claims["iss"] == app.config["ISSUER"]
    assert claims["aud"] == "mail"
    assert claims["sid"] == joined.sid and claims["sub"] == user.sub
    assert claims["events"] == {EVENT: {}}
    assert before - 1 <= claims["iat"] <= before + 5
    assert claims["exp"] - claims["iat"] == app.config["LOGOUT_TOKEN_TTL"]
    assert len(claims["jti"]) >= 16
    (row,) = _rows()
    assert (row.status, row.attempts, row.last_error) == ("delivered", 1, None)
    assert row.delivered_at is not None
    (event,) = AuditEvent.query.filter_by(event_type="logout.delivery").all()
    assert (event.outcome, event.client, event.details["attempt"]) == ("success", "mail", 1)


def test_each_attempt_has_a_fresh_jti(app, joined, receiver):
    receiver.status = 400  # §2.8: the RP answers 400 when the logout failed
    receiver.start()
    sessions.end_session(joined, "admin")
    backchannel.deliver_due()
    _rewind_all()
    backchannel.deliver_due()
    first, second = (jwt.decode(t, _keyset()).claims["jti"] for t in receiver.tokens())
    assert first != second
    (row,) = _rows()
    assert row.last_error.startswith("HTTP 400")


def _keyset():
    from idp.services import keys

    return keys.public_keyset()


def test_es256_client_gets_an_es256_token(app, client, user, sso_login, make_rp, receiver):
    rp = make_rp("es", backchannel=receiver.uri)
    rp.id_token_signed_response_alg = "ES256"
    db.session.commit()
    session = sso_login(user)
    sessions.join(session, rp.id)
    receiver.start()
    sessions.end_session(session, "rp_logout")
    backchannel.deliver_due()
    token = _verify(client, receiver.tokens()[0])
    assert token.header["alg"] == "ES256"


def test_sid_is_left_out_when_the_client_does_not_require_it(app, user, sso_login, make_rp,
                                                            receiver):
    rp = make_rp("subonly", backchannel=receiver.uri)
    rp.backchannel_logout_session_required = False
    db.session.commit()
    session = sso_login(user)
    sessions.join(session, rp.id)
    receiver.start()
    sessions.end_session(session, "rp_logout")
    backchannel.deliver_due()
    claims = jwt.decode(receiver.tokens()[0], _keyset()).claims
    assert claims["sub"] == user.sub and "sid" not in claims


def test_only_joined_clients_with_a_uri_are_told(app, user, sso_login, make_rp, receiver,
                                                 public_client):
    make_rp("never-joined", backchannel=receiver.uri)
    told = make_rp("told", backchannel=receiver.uri)
    session = sso_login(user)
    sessions.join(session, told.id)
    sessions.join(session, public_client.row.id)  # joined, but no back-channel URI
    sessions.end_session(session, "everywhere")
    assert [row.client.client_id for row in _rows()] == ["told"]


@pytest.mark.config(LOGOUT_RETRY_BASE=5, LOGOUT_MAX_ATTEMPTS=5)
def test_receiver_down_backs_off_then_delivers_when_up(app, joined, receiver):
    sessions.end_session(joined, "rp_logout")

    start = utcnow()
    (outcome,) = backchannel.deliver_due()  # nobody listens on the port
    assert outcome.status == "pending" and outcome.error
    (row,) = _rows()
    assert (row.status, row.attempts) == ("pending", 1)
    assert "ConnectionError" in row.last_error
    assert timedelta(seconds=5) <= row.next_attempt_at - start <= timedelta(seconds=7)
    assert backchannel.deliver_due() == []  # not due yet: nothing is attempted

    _rewind_all()
    start = utcnow()
    backchannel.deliver_due()
    (row,) = _rows()
    assert row.attempts == 2
    assert timedelta(seconds=10) <= row.next_attempt_at - start <= timedelta(seconds=12)

    receiver.start()
    _rewind_all()
    Worker(app).run_once()
    (row,) = _rows()
    assert (row.status, row.attempts, row.last_error) == ("delivered", 3, None)
    assert len(receiver.received) == 1
    attempts = [(e.outcome, e.details["attempt"])
                for e in AuditEvent.query.filter_by(event_type="logout.delivery")
                .order_by(AuditEvent.id)]
    assert attempts == [("failure", 1), ("failure", 2), ("success", 3)]


@pytest.mark.config(LOGOUT_MAX_ATTEMPTS=2)
def test_gives_up_after_max_attempts(app, joined, receiver):
    sessions.end_session(joined, "rp_logout")
    backchannel.deliver_due()
    _rewind_all()
    (outcome,) = backchannel.deliver_due()
    assert outcome.status == "failed"
    _rewind_all()
    assert backchannel.deliver_due() == []
    (row,) = _rows()
    assert (row.status, row.attempts) == ("failed", 2)
    last = AuditEvent.query.filter_by(event_type="logout.delivery").order_by(
        AuditEvent.id.desc()).first()
    assert last.outcome == "failure" and last.details["status"] == "failed"
    assert last.details["attempt"] == 2 and last.details["error"]


@pytest.mark.config(LOGOUT_MAX_AGE=60)
def test_gives_up_after_max_age(app, joined, receiver):
    sessions.end_session(joined, "rp_logout")
    db.session.execute(db.update(LogoutDelivery).values(created_at=utcnow() - timedelta(hours=1)))
    db.session.commit()
    (outcome,) = backchannel.deliver_due()
    assert outcome.status == "failed"


@pytest.mark.config(LOGOUT_HTTP_TIMEOUT=1)
def test_a_slow_client_times_out_without_holding_up_the_others(app, user, sso_login, make_rp,
                                                              receiver):
    slow = Receiver()
    slow.delay = 3
    slow.start()
    try:
        session = sso_login(user)
        sessions.join(session, make_rp("slow", backchannel=slow.uri).id)
        sessions.join(session, make_rp("fast", backchannel=receiver.uri).id)
        receiver.start()
        sessions.end_session(session, "rp_logout")
        started = time.monotonic()
        outcomes = {o.status for o in backchannel.deliver_due()}
        assert time.monotonic() - started < 2.5
    finally:
        slow.stop()
    assert outcomes == {"delivered", "pending"}
    rows = {row.client.client_id: row for row in _rows()}
    assert rows["fast"].status == "delivered"
    assert rows["slow"].status == "pending" and "Timeout" in rows["slow"].last_error


def test_a_fresh_app_on_the_same_database_delivers_pending_rows(app, config, joined, receiver):
    sessions.end_session(joined, "rp_logout")  # the provider "stops" before delivering
    db.session.commit()
    receiver.start()
    restarted = create_app(config)
    assert Worker(restarted).run_once() == 1
    assert len(receiver.received) == 1
    (row,) = _rows()
    assert row.status == "delivered"


def test_a_dead_workers_claim_expires(app, joined, receiver):
    sessions.end_session(joined, "rp_logout")
    assert len(backchannel.claim()) == 1  # claimed, then the worker died
    receiver.start()
    assert backchannel.deliver_due() == []  # the lease holds it meanwhile
    db.session.execute(db.update(LogoutDelivery).values(
        next_attempt_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    (outcome,) = backchannel.deliver_due()
    assert outcome.status == "delivered"


def test_two_workers_deliver_each_row_exactly_once(app, user, sso_login, make_rp, receiver):
    receiver.start()
    rps = [make_rp(f"app{i}", backchannel=receiver.uri) for i in range(6)]
    for _ in range(4):
        session = sso_login(user)
        for rp in rps:
            sessions.join(session, rp.id)
        sessions.end_session(session, "everywhere")
    db.session.commit()
    assert len(_rows()) == 24

    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def work():
        try:
            worker = Worker(app)
            barrier.wait()
            for _ in range(3):
                worker.run_once()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    rows = _rows()
    assert {row.status for row in rows} == {"delivered"}
    assert {row.attempts for row in rows} == {1}
    received = [jwt.decode(t, _keyset()).claims for t in receiver.tokens()]
    assert len(received) == 24
    assert len({(c["aud"], c["sid"]) for c in received}) == 24
    from idp.services import audit

    assert audit.verify_chain()[1] is None


@pytest.mark.config(LOGOUT_IMMEDIATE=True)
def test_immediate_delivery_after_logout(app, client, user, joined, receiver, id_token):
    receiver.start()
    response = client.get("/end_session", query_string={
        "id_token_hint": id_token(user, "mail", sid=joined.sid)})
    assert response.status_code == 200
    assert len(receiver.wait_for(1, timeout=5)) == 1  # no worker pass was run
    for thread in threading.enumerate():
        if thread.name == "idp-logout-now":
            thread.join(5)
    (row,) = _rows()
    assert (row.status, row.attempts) == ("delivered", 1)


def test_immediate_delivery_is_off_in_tests_by_default(app, joined, receiver):
    receiver.start()
    sessions.end_session(joined, "rp_logout")
    time.sleep(0.3)
    assert receiver.received == []
    assert _rows()[0].status == "pending"


def test_disabled_client_is_not_sent_anything(app, joined, receiver):
    receiver.start()
    sessions.end_session(joined, "rp_logout")
    row = _rows()[0]
    row.client.enabled = False
    db.session.commit()
    (outcome,) = backchannel.deliver_due()
    assert outcome.status == "pending" and "disabled" in outcome.error
    assert receiver.received == []
