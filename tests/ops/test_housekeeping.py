"""Housekeeping deletes exactly what has expired, in batches, and never audit events."""

from __future__ import annotations

from datetime import timedelta

import pytest

from idp.extensions import db
from idp.models import (
    AuditEvent,
    AuthorizationCode,
    LogoutDelivery,
    PasswordResetToken,
    SessionClient,
    SsoSession,
    Token,
    UsedJti,
    utcnow,
)
from idp.services import audit, housekeeping

MARGIN = 3600  # IDP_HOUSEKEEPING_MARGIN's default
AGO = lambda seconds: utcnow() - timedelta(seconds=seconds)  # noqa: E731
LATER = lambda seconds: utcnow() + timedelta(seconds=seconds)  # noqa: E731


@pytest.fixture
def grants(app, user, confidential_client):
    """One row of each kind per case, named by what housekeeping must do with it."""
    client_pk = confidential_client.row.id

    def code(name, expires_at):
        db.session.add(AuthorizationCode(
            code_hash=name, client_id=client_pk, user_id=user.id, redirect_uri="http://x/cb",
            auth_time=utcnow(), expires_at=expires_at))

    def token(name, access, refresh=None, revoked=None):
        db.session.add(Token(
            client_id=client_pk, user_id=user.id, family_id=name, grant_type="authorization_code",
            access_jti=name, access_expires_at=access, refresh_expires_at=refresh,
            revoked_at=revoked))

    code("code-purge", AGO(MARGIN + 10))
    code("code-keep-within-margin", AGO(10))
    code("code-keep-live", LATER(60))
    token("token-purge-access-only", AGO(MARGIN + 10))
    token("token-purge-both-expired", AGO(MARGIN + 900), refresh=AGO(MARGIN + 10))
    token("token-purge-revoked", AGO(MARGIN + 10), refresh=LATER(86400), revoked=AGO(MARGIN + 10))
    token("token-keep-refresh-live", AGO(MARGIN + 10), refresh=LATER(86400))
    token("token-keep-access-live", LATER(600), refresh=AGO(MARGIN + 10))
    token("token-keep-revoked-recently", AGO(MARGIN + 10), refresh=LATER(60), revoked=AGO(60))
    token("token-keep-access-within-margin", AGO(10))
    for name, expires in (("jti-purge", AGO(MARGIN + 10)), ("jti-keep", LATER(60))):
        db.session.add(UsedJti(client_id=client_pk, jti=name, expires_at=expires))
    for name, expires in (("reset-purge", AGO(MARGIN + 10)), ("reset-keep", LATER(60))):
        db.session.add(PasswordResetToken(token_hash=name, user_id=user.id, expires_at=expires))
    db.session.commit()
    return client_pk


def _session(user, sid, ended_at=None):
    row = SsoSession(sid=sid, cookie_hash=sid, user_id=user.id, expires_at=LATER(3600),
                     ended_at=ended_at, end_reason="logout" if ended_at else None)
    db.session.add(row)
    db.session.flush()
    return row


def test_purge_deletes_exactly_the_expired_grants(grants):
    counts = housekeeping.purge_expired()
    assert counts["codes"] == 1 and counts["tokens"] == 3
    assert counts["used_jtis"] == 1 and counts["password_reset_tokens"] == 1
    assert sorted(c.code_hash for c in AuthorizationCode.query) == [
        "code-keep-live", "code-keep-within-margin"]
    assert sorted(t.access_jti for t in Token.query) == [
        "token-keep-access-live", "token-keep-access-within-margin",
        "token-keep-refresh-live", "token-keep-revoked-recently"]
    assert [j.jti for j in UsedJti.query] == ["jti-keep"]
    assert [r.token_hash for r in PasswordResetToken.query] == ["reset-keep"]
    assert housekeeping.purge_expired() == {k: 0 for k in counts}  # nothing left to do


@pytest.mark.config(HOUSEKEEPING_SESSION_RETENTION=86400, HOUSEKEEPING_OUTBOX_RETENTION=3600)
def test_old_ended_sessions_and_delivered_logouts_go_audit_events_stay(app, user, grants):
    old = _session(user, "ended-long-ago", ended_at=AGO(86400 + 60))
    _session(user, "ended-yesterday", ended_at=AGO(86400 - 60))
    _session(user, "live")
    db.session.add(SessionClient(session_id=old.id, client_id=grants))
    db.session.add(Token(client_id=grants, user_id=user.id, family_id="f", session_id=old.id,
                         grant_type="authorization_code", access_jti="old-session-token",
                         access_expires_at=LATER(60)))
    for status, delivered, name in (("delivered", AGO(3600 + 60), "gone"),
                                    ("delivered", AGO(60), "recent"),
                                    ("pending", None, "pending"), ("failed", None, "failed")):
        db.session.add(LogoutDelivery(client_id=grants, uri=f"http://x/{name}", status=status,
                                      delivered_at=delivered, created_at=AGO(90000)))
    db.session.commit()
    audit.record("user.created", actor="test", subject=user.username)
    events = AuditEvent.query.count()

    counts = housekeeping.purge_expired()

    assert counts["sessions"] == 1 and counts["logout_deliveries"] == 1
    assert sorted(s.sid for s in SsoSession.query) == ["ended-yesterday", "live"]
    assert SessionClient.query.count() == 0
    survivor = Token.query.filter_by(access_jti="old-session-token").one()
    assert survivor.session_id is None  # detached, not deleted: it is still valid
    assert sorted(d.uri for d in LogoutDelivery.query) == [
        "http://x/failed", "http://x/pending", "http://x/recent"]
    assert AuditEvent.query.count() == events
    assert audit.verify_chain()[1] is None


def test_purge_works_in_small_batches(app, user, confidential_client):
    for number in range(7):
        db.session.add(UsedJti(client_id=confidential_client.row.id, jti=f"j{number}",
                               expires_at=AGO(MARGIN + number + 1)))
    db.session.add(UsedJti(client_id=confidential_client.row.id, jti="live", expires_at=LATER(5)))
    db.session.commit()
    statements = []
    from sqlalchemy import event

    listener = lambda conn, cursor, sql, *rest: statements.append(sql)  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        counts = housekeeping.purge_expired(batch_size=3)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert counts["used_jtis"] == 7
    assert [j.jti for j in UsedJti.query] == ["live"]
    deletes = [s for s in statements if s.lstrip().upper().startswith("DELETE FROM USED_JTIS")]
    assert len(deletes) == 3  # 3 + 3 + 1
    assert all("LIMIT" in s.upper() for s in deletes)


def test_housekeeping_command_runs_once_and_reports(runner, grants):
    result = runner.invoke(["housekeeping", "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    assert "codes: 1, tokens: 3, used_jtis: 1, password_reset_tokens: 1" in result.output
    assert AuthorizationCode.query.count() == 2


def test_the_worker_purges_once_a_minute(app, grants):
    from idp.ops.worker import Worker

    worker = Worker(app, housekeeping_every=60)
    worker.run_once()
    assert UsedJti.query.filter_by(jti="jti-purge").count() == 0
    assert AuthorizationCode.query.filter_by(code_hash="code-purge").count() == 0
    db.session.add(UsedJti(client_id=grants, jti="expired-since", expires_at=AGO(MARGIN + 5)))
    db.session.commit()
    worker.run_once()  # within the minute: no second sweep
    assert UsedJti.query.filter_by(jti="expired-since").count() == 1
