"""Consent: the scopes a staff member allowed a client, remembered until withdrawn."""

from __future__ import annotations

from typing import Iterable

from sqlalchemy import select

from ..extensions import db
from ..models import Client, Consent, User, utcnow
from . import audit, tokens


def find_consent(user: User, client: Client) -> Consent | None:
    return db.session.execute(
        select(Consent).where(Consent.user_id == user.id, Consent.client_id == client.id)
    ).scalar_one_or_none()


def covers(user: User, client: Client, scopes: Iterable[str]) -> bool:
    """True when a remembered consent includes every scope asked for (a wider set asks again)."""
    consent = find_consent(user, client)
    return consent is not None and set(scopes) <= set(consent.scope.split())


def grant_consent(user: User, client: Client, scopes: Iterable[str], *, ip: str = "") -> Consent:
    """Remember the scopes allowed, adding to what was allowed before."""
    consent = find_consent(user, client)
    if consent is None:
        consent = Consent(user_id=user.id, client_id=client.id, scope="")
        db.session.add(consent)
    merged = dict.fromkeys(consent.scope.split() + list(scopes))
    consent.scope = " ".join(merged)
    consent.granted_at = utcnow()
    audit.record("consent.granted", actor=user.username, subject=user.sub,
                 client=client.client_id, ip=ip, details={"scope": consent.scope})
    return consent


def record_denial(user: User, client: Client, scopes: Iterable[str], *, ip: str = "") -> None:
    audit.record("consent.denied", outcome="failure", actor=user.username, subject=user.sub,
                 client=client.client_id, ip=ip, details={"scope": " ".join(scopes)})


def withdraw_consent(user: User, client: Client) -> bool:
    """Forget the consent and revoke every token this user holds for this client.

    Returns False when there was no consent to withdraw (the tokens are revoked anyway).
    """
    consent = find_consent(user, client)
    if consent is not None:
        db.session.delete(consent)
    count = tokens.revoke_for_user_and_client(user, client)
    audit.record("consent.withdrawn", actor=user.username, subject=user.sub,
                 client=client.client_id, details={"tokens_revoked": count})
    return consent is not None
