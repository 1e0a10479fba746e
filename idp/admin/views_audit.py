"""Console pages: the dashboard (server-rendered SVG charts) and the audit log."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Response, request, stream_with_context

from ..models import utcnow
from ..responses import no_store
from ..services import admin_audit, dashboard
from . import bp, charts
from .access import AUDIT, DASHBOARD, require_roles
from .helpers import page_arg, page_url, render

PER_PAGE = 50


@bp.get("/dashboard", endpoint="dashboard")
@require_roles(*DASHBOARD)
def dashboard_page():
    labels, per_app = dashboard.signins_per_app(14)
    rates = dashboard.daily_rates(14)
    total, sessions_per_app = dashboard.active_sessions()
    adoption = dashboard.mfa_adoption()
    return render(
        "admin/dashboard.html", labels=labels, per_app=per_app, rates=rates,
        active_total=total, sessions_per_app=sessions_per_app, adoption=adoption,
        signin_chart=charts.line_chart(labels, per_app),
        rate_chart=charts.line_chart(
            [r.day for r in rates],
            {"failures": [r.failures for r in rates], "locks": [r.locks for r in rates]}),
        adoption_chart=charts.bar_chart([(a.code or a.department, a.rate * 100) for a in adoption],
                                        maximum=100, suffix="%"),
    )


def _date(name: str, *, end: bool = False) -> datetime | None:
    raw = request.args.get(name, "").strip()
    try:
        day = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if day.tzinfo is None:
        day = day.replace(tzinfo=utcnow().tzinfo)
    # An end date includes its whole day.
    return day + timedelta(days=1) if end and len(raw) == 10 else day


def _filters() -> admin_audit.AuditFilter:
    args = request.args
    return admin_audit.AuditFilter(
        since=_date("since"), until=_date("until", end=True), actor=args.get("actor", ""),
        subject=args.get("subject", ""), client=args.get("client", ""),
        event_type=args.get("event_type", ""))


@bp.get("/audit", endpoint="audit")
@require_roles(*AUDIT)
def audit_page():
    filters = _filters()
    result = admin_audit.search_events(filters, page_arg(), PER_PAGE)
    query = request.query_string.decode()
    return render("admin/audit.html", result=result, args=request.args, page_url=page_url,
                  types=admin_audit.event_types(), query=query)


@bp.get("/audit/export.<fmt>")
@require_roles(*AUDIT)
def audit_export(fmt: str):
    filters = _filters()
    if fmt == "csv":
        body, mimetype = admin_audit.export_csv(filters), "text/csv"
    elif fmt == "jsonl":
        body, mimetype = admin_audit.export_jsonl(filters), "application/x-ndjson"
    else:
        from ..errors import NotFound

        raise NotFound()
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    return no_store(Response(stream_with_context(body), mimetype=mimetype, headers={
        "Content-Disposition": f"attachment; filename=audit-{stamp}.{fmt}"}))
