"""Routes of the one-stop-shop app: the summary, and the officer's and approver's actions."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from ..demo_kit import get_db
from ..idp_client import current_user, require_role

bp = Blueprint("onestop", __name__)
SUMMARY_STATES = ("received", "in_progress", "resolved_early", "resolved_on_time", "resolved_late")


def display_state(row: Any) -> str:
    """received / in_progress, or resolved_early / _on_time / _late by the day resolved vs due."""
    if row["state"] != "resolved":
        return str(row["state"])
    resolved_day, due_day = row["resolved_at"][:10], row["due_at"][:10]
    if resolved_day < due_day:
        return "resolved_early"
    return "resolved_on_time" if resolved_day == due_day else "resolved_late"


def is_overdue(row: Any) -> bool:
    return row["state"] != "resolved" and row["due_at"] < datetime.now(timezone.utc).isoformat()


@bp.get("/")
def index() -> str:
    if not current_user.is_authenticated:
        return render_template("kit/landing.html")
    rows = get_db().execute("SELECT * FROM dossier ORDER BY received_at DESC").fetchall()
    dossiers = [dict(row, display=display_state(row), overdue=is_overdue(row)) for row in rows]
    counts = Counter(d["display"] for d in dossiers)
    summary = [(state, counts.get(state, 0)) for state in SUMMARY_STATES]
    return render_template("onestop/index.html", dossiers=dossiers, summary=summary, total=len(dossiers),
                           overdue=sum(d["overdue"] for d in dossiers))


def _move(dossier_id: int, expected: str, target: str, message: str) -> Response:
    db = get_db()
    row = db.execute("SELECT state FROM dossier WHERE id = ?", (dossier_id,)).fetchone()
    if row is None:
        abort(404)
    if row["state"] != expected:
        flash("wrong_state", "error")
        return redirect(url_for("onestop.index"))
    resolved_at = datetime.now(timezone.utc).isoformat(timespec="seconds") if target == "resolved" else None
    db.execute("UPDATE dossier SET state = ?, resolved_at = COALESCE(?, resolved_at), handled_by = ? WHERE id = ?",
               (target, resolved_at, current_user.display_name, dossier_id))
    db.commit()
    flash(message)
    return redirect(url_for("onestop.index"))


@bp.post("/dossiers/<int:dossier_id>/advance")
@require_role("officer")
def advance(dossier_id: int) -> Response:
    """The officer takes a received dossier into processing."""
    return _move(dossier_id, "received", "in_progress", "moved")


@bp.post("/dossiers/<int:dossier_id>/resolve")
@require_role("approver")
def resolve(dossier_id: int) -> Response:
    """The approver signs off the result of a dossier in progress."""
    return _move(dossier_id, "in_progress", "resolved", "resolved_ok")
