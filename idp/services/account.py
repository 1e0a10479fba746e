"""Self-service ("my account"): sessions, authorised applications, password change."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select

from ..errors import AuthenticationFailed, InvalidInput, NotFound
from ..extensions import db
from ..models import Client, Consent, SessionClient, SsoSession, User, utcnow
from . import audit, authn, clients, passwords, sessions, tokens, users

_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("CocoaCoc", "Cốc Cốc"), ("coc_coc", "Cốc Cốc"),
             ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Safari/", "Safari"))
_SYSTEMS = (("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iPadOS"),
            ("Windows", "Windows"), ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"),
            ("Linux", "Linux"))


def describe_device(user_agent: str) -> str:
    """A short "Browser on System" from a User-Agent header; never the raw header."""
    ua = user_agent or ""
    browser = next((name for mark, name in _BROWSERS if mark in ua), "")
    system = next((name for mark, name in _SYSTEMS if mark in ua), "")
    if browser and system:
        return _("%(browser)s on %(system)s", browser=browser, system=system)
    if browser or system:
        return browser or system
    program = re.match(r"[\w.-]{1,40}", ua)
    return program.group(0) if program else _("Unknown device")


def live_sessions(user: User) -> list[SsoSession]:
    """The user's sessions that still work, most recently used first."""
    rows = db.session.execute(
        select(SsoSession).where(SsoSession.user_id == user.id, SsoSession.ended_at.is_(None),
                                 SsoSession.expires_at > utcnow())
        .order_by(SsoSession.last_seen_at.desc())
    ).scalars().all()
    return [row for row in rows if sessions.is_live(row)]


def own_session(user: User, sid: str) -> SsoSession:
    row = db.session.execute(
        select(SsoSession).where(SsoSession.sid == sid, SsoSession.user_id == user.id)
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(_("No such session."))
    return row


def end_own_session(user: User, sid: str, *, ip: str = "") -> SsoSession:
    """End one of the user's sessions ("sign out this session")."""
    row = own_session(user, sid)
    if sessions.end_session(row, "user_logout"):
        audit.record("session.end", actor=user.username, subject=user.username, ip=ip,
                     details={"sid": row.sid, "reason": "user_logout"})
    return row


def end_every_session(user: User, *, ip: str = "") -> int:
    """End all the user's sessions, this one included ("sign out everywhere")."""
    count = sessions.end_all_sessions(user, "user_logout_all")
    audit.record("session.end", actor=user.username, subject=user.username, ip=ip,
                 details={"reason": "user_logout_all", "count": count})
    return count


def change_password(user: User, current: str, new: str, *, keep: SsoSession | None,
                    ip: str = "") -> int:
    """Change the password (the current one is required); other sessions end.

    Returns how many other sessions ended.
    """
    if not authn.verify_current_password(user, current, ip=ip):
        raise AuthenticationFailed(_("The current password is not right."))
    if passwords.verify_password(user.password_hash, new):
        raise InvalidInput(_("The new password must differ from the current one."))
    users.set_password(user, new)
    ended = 0
    for row in live_sessions(user):
        if keep is None or row.id != keep.id:
            ended += sessions.end_session(row, "password_change")
    tokens.revoke_for_user(user)  # what the old password obtained, in this session too
    audit.record("password.change", actor=user.username, subject=user.username, ip=ip,
                 details={"sessions_ended": ended})
    return ended


@dataclass
class AuthorisedApp:
    client: Client
    scope: list[str]
    granted_at: datetime | None
    last_used_at: datetime | None


def authorised_apps(user: User) -> list[AuthorisedApp]:
    """Apps with a consent, and trusted apps the user signed in to (session_clients)."""
    apps: dict[int, AuthorisedApp] = {}
    for consent in db.session.execute(
        select(Consent).where(Consent.user_id == user.id)
    ).scalars():
        apps[consent.client_id] = AuthorisedApp(consent.client, consent.scope.split(),
                                                consent.granted_at, None)
    seen = db.session.execute(
        select(SessionClient.client_id, db.func.max(SessionClient.joined_at))
        .join(SsoSession, SsoSession.id == SessionClient.session_id)
        .where(SsoSession.user_id == user.id).group_by(SessionClient.client_id)
    ).all()
    for client_pk, last in seen:
        if client_pk in apps:
            apps[client_pk].last_used_at = last
            continue
        client = db.session.get(Client, client_pk)
        if client is not None and client.trusted:
            apps[client_pk] = AuthorisedApp(client, [], None, last)
    return sorted(apps.values(), key=lambda app: app.client.name.lower())


def withdraw(user: User, client_id: str) -> Client:
    """Withdraw the consent of one app (its tokens for this user are revoked)."""
    from . import consent

    client = clients.find_client(client_id)
    listed = {app.client.client_id for app in authorised_apps(user)}
    if client is None or client_id not in listed:
        raise NotFound(_("No such application."))
    consent.withdraw_consent(user, client)
    return client
