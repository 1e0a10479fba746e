"""Queue back-channel logouts in the outbox when a session ends (OIDC Back-Channel Logout 1.0).

Delivery (signing the logout token, POSTing it, retrying with backoff) is done by
the worker; this module only writes the rows, in the same commit discipline as
the session end, so that nothing is lost if the provider stops.
"""

from __future__ import annotations

from ..extensions import db
from ..models import LogoutDelivery, SsoSession
from . import sessions


def queue_backchannel(session: SsoSession, reason: str) -> list[LogoutDelivery]:
    rows = []
    for joined in session.clients:
        client = joined.client
        if not client.backchannel_logout_uri or not client.enabled:
            continue
        rows.append(LogoutDelivery(
            client_id=client.id, uri=client.backchannel_logout_uri,
            sid=session.sid, sub=session.user.sub,
        ))
    db.session.add_all(rows)  # committed by end_session with the session's end
    return rows


sessions.on_session_end.append(queue_backchannel)
