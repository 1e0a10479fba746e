"""Production operations: health checks, Prometheus metrics, JSON logs.

``/healthz`` says the process answers (no database), ``/readyz`` that it can serve
(database reachable, an active signing key loadable), ``/metrics`` exposes the
counters to the networks in IDP_METRICS_ALLOW.
"""

from __future__ import annotations

import ipaddress
import logging
import time

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from ..responses import json_error, no_store
from ..services import metrics
from .logs import configure_logging, log_request

bp = Blueprint("ops", __name__)
log = logging.getLogger("idp.ops")


@bp.get("/healthz")
def healthz() -> Response:
    """Liveness: the process answers. Touches nothing else, so it stays cheap."""
    return no_store(jsonify(status="ok"))


def _check_database() -> str | None:
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.warning("readiness: database unreachable: %s", exc.__class__.__name__)
        return f"database unreachable ({exc.__class__.__name__})"
    return None


def _check_signing_key() -> str | None:
    from ..services import keys

    alg = current_app.config["KEYS_ALG"]
    try:
        keys.signing_key(alg)
    except (SQLAlchemyError, RuntimeError, ValueError) as exc:
        db.session.rollback()
        log.warning("readiness: no usable %s signing key: %s", alg, exc)
        return f"no active {alg} signing key can be loaded"
    return None


@bp.get("/readyz")
def readyz() -> Response:
    """Readiness: the database answers SELECT 1 and an active signing key loads."""
    reasons = [r for r in (_check_database(), _check_signing_key()) if r]
    if reasons:
        # The one error shape, plus the probe's own fields (json_error adds Retry-After).
        return json_error("temporarily_unavailable", "The provider is not ready: " +
                          "; ".join(reasons) + ".", 503, status="unavailable", reasons=reasons)
    return no_store(jsonify(status="ready"))


def _metrics_allowed(address: str | None) -> bool:
    try:
        ip = ipaddress.ip_address((address or "").split("%")[0])
    except ValueError:
        return False
    for network in current_app.config["METRICS_ALLOW"]:
        net = ipaddress.ip_network(network, strict=False)
        if ip.version == net.version and ip in net:
            return True
    return False


@bp.get("/metrics")
def metrics_view() -> Response:
    """Prometheus text exposition, for the networks in IDP_METRICS_ALLOW only."""
    if not _metrics_allowed(request.remote_addr):
        return json_error("forbidden", "Metrics are not available from this address.", 403)
    body = metrics.exposition(current_app.config["SESSION_IDLE_TIMEOUT"])
    return no_store(Response(body, mimetype=None, content_type=metrics.CONTENT_TYPE))


def _start_timer() -> None:
    g.ops_started = time.perf_counter()


def _observe(response: Response) -> Response:
    started = g.pop("ops_started", None)
    seconds = time.perf_counter() - started if started is not None else 0.0
    rule = request.url_rule
    endpoint = rule.endpoint if rule is not None else "unmatched"
    metrics.observe_request(endpoint, request.method, response.status_code, seconds)
    log_request(response.status_code, seconds * 1000)
    return response


def init_app(app: Flask) -> None:
    """Register the blueprint, the JSON logs and the per-request metrics."""
    configure_logging(app)
    app.register_blueprint(bp)
    # First of all before_request hooks, so that even a request refused early is timed.
    app.before_request_funcs.setdefault(None, []).insert(0, _start_timer)
    app.after_request(_observe)
