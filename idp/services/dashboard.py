"""The numbers behind the dashboard: sign-ins per app, failures and locks, sessions, MFA.

Everything is read from the audit log and the session and MFA tables, over a bounded
window, with grouping done by the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import and_, case, distinct, func, or_, select

from ..extensions import db
from ..models import AuditEvent, OrgUnit, SessionClient, SsoSession, TotpCredential, User, utcnow

# Event types written by the sign-in side (idp.services.authn / throttle) and the protocol.
SIGNIN_EVENT = "login"  # outcome success or failure, one per attempt
LOCK_EVENT = "account.lock"
# Housekeeping's summary of refusals by a hold or a delay (one per key and window, with
# the count; the first of them is also a ``login`` failure): throttle.first_refusal.
REFUSED_EVENT = "login.refused"


def _app_signin():
    """A code or token issued to an application (the protocol's audit events)."""
    return or_(AuditEvent.event_type.like("code%issue%"), AuditEvent.event_type.like("token%issue%"))


@dataclass
class DailyRates:
    day: str
    successes: int
    failures: int
    locks: int

    @property
    def failure_rate(self) -> float:
        attempts = self.successes + self.failures
        return self.failures / attempts if attempts else 0.0


def _days(days: int) -> list[str]:
    today = utcnow().date()
    return [(today - timedelta(days=n)).isoformat() for n in range(days - 1, -1, -1)]


def _day(value) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)[:10]


def signins_per_app(days: int = 14) -> tuple[list[str], dict[str, list[int]]]:
    """Staff (distinct subjects) who got a code or token per day, per client application."""
    since = utcnow() - timedelta(days=days)
    day = func.date(AuditEvent.created_at)
    rows = db.session.execute(
        select(day, AuditEvent.client, func.count(distinct(AuditEvent.subject)))
        .where(AuditEvent.created_at >= since, AuditEvent.client.is_not(None),
               AuditEvent.outcome == "success", _app_signin())
        .group_by(day, AuditEvent.client)
    ).all()
    labels = _days(days)
    series: dict[str, list[int]] = {}
    for when, client, count in rows:
        key = _day(when)
        if key in labels:
            series.setdefault(client, [0] * len(labels))[labels.index(key)] = count
    return labels, dict(sorted(series.items()))


def daily_rates(days: int = 14) -> list[DailyRates]:
    """Sign-in successes, failures and account locks per day."""
    since = utcnow() - timedelta(days=days)
    day = func.date(AuditEvent.created_at)
    is_signin = AuditEvent.event_type == SIGNIN_EVENT
    rows = db.session.execute(
        select(day,
               func.sum(case((and_(is_signin, AuditEvent.outcome == "success"), 1), else_=0)),
               func.sum(case((and_(is_signin, AuditEvent.outcome == "failure"), 1), else_=0)),
               func.sum(case((AuditEvent.event_type == LOCK_EVENT, 1), else_=0)))
        .where(AuditEvent.created_at >= since,
               AuditEvent.event_type.in_([SIGNIN_EVENT, LOCK_EVENT]))
        .group_by(day)
    ).all()
    found = {_day(when): (int(ok or 0), int(bad or 0), int(locks or 0)) for when, ok, bad, locks in rows}
    refused = _refused_per_day(since)
    rates = []
    for d in _days(days):
        ok, bad, locks = found.get(d, (0, 0, 0))
        rates.append(DailyRates(d, ok, bad + refused.get(d, 0), locks))
    return rates


def _refused_per_day(since) -> dict[str, int]:
    """Failed attempts that were refused by a hold or a delay and audited only as a count,
    so that a spray does not hide behind its own throttle (the first one of each summary
    is a ``login`` failure already)."""
    day = func.date(AuditEvent.created_at)
    rows = db.session.execute(
        select(day, func.sum(AuditEvent.details["count"].as_integer() - 1))
        .where(AuditEvent.created_at >= since, AuditEvent.event_type == REFUSED_EVENT)
        .group_by(day)
    ).all()
    return {_day(when): int(extra or 0) for when, extra in rows}


def _live_sessions():
    now = utcnow()
    idle = timedelta(seconds=current_app.config["SESSION_IDLE_TIMEOUT"])
    return (SsoSession.ended_at.is_(None), SsoSession.expires_at > now,
            SsoSession.last_seen_at > now - idle)


def active_sessions() -> tuple[int, list[tuple[str, int]]]:
    """Live SSO sessions, in total and per client application that joined them."""
    from ..models import Client

    total = db.session.execute(select(func.count(SsoSession.id)).where(*_live_sessions())).scalar_one()
    per_app = db.session.execute(
        select(Client.client_id, func.count(SessionClient.id))
        .join(SessionClient, SessionClient.client_id == Client.id)
        .join(SsoSession, SsoSession.id == SessionClient.session_id)
        .where(*_live_sessions()).group_by(Client.client_id).order_by(Client.client_id)
    ).all()
    return total, [(row[0], row[1]) for row in per_app]


@dataclass
class Adoption:
    department: str
    code: str
    staff: int
    enrolled: int

    @property
    def rate(self) -> float:
        return self.enrolled / self.staff if self.staff else 0.0


def mfa_adoption() -> list[Adoption]:
    """Active staff per department and how many have a confirmed second factor."""
    enrolled = select(TotpCredential.user_id).where(TotpCredential.confirmed_at.is_not(None))
    rows = db.session.execute(
        select(OrgUnit.name, OrgUnit.code, func.count(User.id),
               func.sum(case((User.id.in_(enrolled), 1), else_=0)))
        .select_from(User).outerjoin(OrgUnit, OrgUnit.id == User.department_id)
        .where(User.status == "active")
        .group_by(OrgUnit.name, OrgUnit.code).order_by(OrgUnit.name)
    ).all()
    return [Adoption(name or "—", code or "", int(staff), int(done or 0))
            for name, code, staff, done in rows]
