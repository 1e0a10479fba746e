"""Registering relying parties as an administrator would."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RegisteredClient:
    row: object
    client_id: str
    client_secret: str | None
    redirect_uri: str


def register(name: str, **kwargs) -> RegisteredClient:
    """Create a client through the service; its secret as shown once, its first redirect URI."""
    from idp.extensions import db
    from idp.services import clients

    row, secret = clients.create_client(name, **kwargs)
    db.session.commit()  # the test is the boundary for what it sets up by hand
    uri = row.redirect_uris[0] if row.redirect_uris else ""
    return RegisteredClient(row=row, client_id=row.client_id, client_secret=secret, redirect_uri=uri)
