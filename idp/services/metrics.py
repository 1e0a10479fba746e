"""Prometheus metrics: request counts and latency, sign-ins, tokens, sessions, outbox.

Counters and histograms live in ``prometheus_client``'s default registry. Under
gunicorn, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty folder writable by the
workers (``idp serve`` empties it at start): each worker then writes its values
there and a scrape adds them up, whichever worker answers it.

Other modules do not call these counters: ``audit.record`` events drive them
(``login`` with its outcome, ``signin.success`` / ``signin.failure``, ``token.issued``
with ``details["grant_type"]``): ``create_app`` passes :func:`count_audit_event` to
``audit.init_app`` as a hook on every recorded event.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Iterator

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select

from ..extensions import db
from ..models import AuditEvent, LogoutDelivery, SsoSession, utcnow

# The classic text format (what generate_latest writes for our metric names), named so
# that Prometheus 2 scrapers parse it too; prometheus-client's default names 1.0.0.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

REQUESTS = Counter(
    "idp_http_requests_total", "HTTP requests answered, by endpoint, method and status.",
    ["endpoint", "method", "status"],
)
LATENCY = Histogram(
    "idp_http_request_duration_seconds", "Time to answer an HTTP request, in seconds.",
    ["endpoint", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
SIGNINS = Counter("idp_signins_total", "Sign-in attempts, by outcome.", ["outcome"])
TOKENS_ISSUED = Counter(
    "idp_tokens_issued_total", "Token responses issued, by client and grant type.",
    ["client", "grant"],
)


def observe_request(endpoint: str, method: str, status: int, seconds: float) -> None:
    """Count one answered request and its latency."""
    labels = {"endpoint": endpoint, "method": method, "status": str(status)}
    REQUESTS.labels(**labels).inc()
    LATENCY.labels(**labels).observe(seconds)


# Audit event types that are one complete sign-in attempt (the sign-in service records
# ``login`` with outcome success or failure; ``login.password`` is only its first step).
SIGNIN_EVENTS = frozenset({"login", "login.step_up", "signin"})


def count_audit_event(event: AuditEvent) -> None:
    """Turn audit events into counters: sign-ins by outcome, and ``token.issued``."""
    kind = event.event_type or ""
    if kind in SIGNIN_EVENTS:
        SIGNINS.labels(outcome=(event.outcome or "unknown")[:32]).inc()
    elif kind.startswith("signin."):  # signin.success, signin.failure
        SIGNINS.labels(outcome=kind.partition(".")[2][:32]).inc()
    elif kind == "token.issued":
        details = event.details or {}
        grant = details.get("grant_type") or details.get("grant") or "unknown"
        TOKENS_ISSUED.labels(client=(event.client or "unknown")[:64], grant=str(grant)[:64]).inc()


class DatabaseGauges:
    """Gauges read from the database at scrape time with one cheap COUNT each."""

    def __init__(self, idle_timeout: int) -> None:
        self.idle_timeout = idle_timeout

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = utcnow()
        active = db.session.execute(
            select(func.count(SsoSession.id)).where(
                SsoSession.ended_at.is_(None), SsoSession.expires_at > now,
                SsoSession.last_seen_at > now - timedelta(seconds=self.idle_timeout),
            )
        ).scalar_one()
        backlog = db.session.execute(
            select(func.count(LogoutDelivery.id)).where(LogoutDelivery.status == "pending")
        ).scalar_one()
        db.session.rollback()  # end the read transaction; nothing was written
        yield GaugeMetricFamily("idp_sso_sessions_active", "Live SSO sessions.", value=active)
        yield GaugeMetricFamily(
            "idp_logout_outbox_pending", "Back-channel logouts waiting to be delivered.",
            value=backlog,
        )


def exposition(idle_timeout: int) -> bytes:
    """The whole scrape in Prometheus text format."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        base = CollectorRegistry()
        MultiProcessCollector(base)
    else:
        base = REGISTRY
    gauges = CollectorRegistry(auto_describe=False)
    gauges.register(DatabaseGauges(idle_timeout))
    return generate_latest(base) + generate_latest(gauges)
