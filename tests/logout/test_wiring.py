"""Side effects are wired by ``create_app`` on the app and its own session, not on globals."""

from __future__ import annotations

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from idp import create_app
from idp.extensions import db
from idp.models import AuditEvent, LogoutDelivery, SsoSession
from idp.services import audit, logout, metrics, sessions


def test_the_factory_wires_session_end_and_audit_hooks(app):
    assert app.extensions["idp.sessions.on_end"] == (logout.queue_backchannel,
                                                     logout.audit_session_end)
    assert app.extensions["idp.audit.on_record"] == (metrics.count_audit_event,)


def test_hooks_belong_to_one_app(app, config, user, make_rp, receiver):
    """Another app's wiring does not change this one's: no module-level hook lists."""
    other = create_app({**config, "DATABASE_URL": "sqlite://"})
    sessions.init_app(other, on_end=[])
    audit.init_app(other, on_record=[])
    mail = make_rp("mail", backchannel=receiver.uri)
    sso, _cookie = sessions.create_session(user, amr=["pwd"], acr=None)
    sessions.join(sso, mail.id)
    assert sessions.end_session(db.session.get(SsoSession, sso.id), "admin")
    assert LogoutDelivery.query.count() == 1
    assert AuditEvent.query.filter_by(event_type="session.ended").count() == 1


def test_no_listener_on_sqlalchemys_global_session_class(app):
    assert not event.contains(Session, "after_commit", logout._after_commit)


@pytest.mark.config(LOGOUT_IMMEDIATE=True)
def test_immediate_delivery_listens_on_the_apps_own_session(app):
    assert event.contains(db.session, "after_commit", logout._after_commit)
    assert event.contains(db.session, "after_soft_rollback", logout._after_rollback)
    assert not event.contains(Session, "after_commit", logout._after_commit)
