"""Routes of the document management app; each query is scoped to the user's department."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..demo_kit import get_db
from ..idp_client import current_user, login_required, require_role

bp = Blueprint("docs", __name__)
DIRECTIONS = ("incoming", "outgoing")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _document(doc_id: int):  # type: ignore[no-untyped-def]
    """A document of the user's department, or 404 (never reveal other departments' papers)."""
    row = get_db().execute(
        "SELECT * FROM document WHERE id = ? AND department_code = ?", (doc_id, current_user.department_code)
    ).fetchone()
    if row is None:
        abort(404)
    return row


@bp.get("/")
def index() -> str:
    if not current_user.is_authenticated:
        return render_template("kit/landing.html")
    direction = request.args.get("dir", "incoming")
    direction = direction if direction in DIRECTIONS else "incoming"
    rows = get_db().execute(
        "SELECT * FROM document WHERE department_code = ? AND direction = ? ORDER BY id DESC",
        (current_user.department_code, direction),
    ).fetchall()
    return render_template("docs/index.html", documents=rows, direction=direction)


@bp.route("/documents/new", methods=["GET", "POST"])
@require_role("clerk", "leader")
def new_document() -> str | Response:
    if request.method == "GET":
        return render_template("docs/new.html", form={})
    form = {k: request.form.get(k, "").strip() for k in ("direction", "number", "title", "summary", "counterpart")}
    if not current_user.department_code:
        flash_key = "no_department"
    elif not form["number"] or not form["title"] or form["direction"] not in DIRECTIONS:
        flash_key = "missing_fields"
    else:
        db = get_db()
        cur = db.execute(
            "INSERT INTO document (department_code, direction, number, title, summary, counterpart, created_by,"
            " created_by_name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (current_user.department_code, form["direction"], form["number"], form["title"], form["summary"],
             form["counterpart"], current_user.sub, current_user.display_name, _now()),
        )
        db.commit()
        flash("created")
        return redirect(url_for("docs.show", doc_id=cur.lastrowid))
    return render_template("docs/new.html", form=form, error=flash_key), 400  # type: ignore[return-value]


@bp.get("/documents/<int:doc_id>")
@login_required
def show(doc_id: int) -> str:
    return render_template("docs/show.html", doc=_document(doc_id))


@bp.post("/documents/<int:doc_id>/sign")
@require_role("leader")
def sign(doc_id: int) -> Response:
    doc = _document(doc_id)
    if doc["status"] == "signed":
        flash("already_signed", "error")
    else:
        db = get_db()
        db.execute("UPDATE document SET status = 'signed', signed_by_name = ?, signed_at = ? WHERE id = ?",
                   (current_user.display_name, _now(), doc_id))
        db.commit()
        flash("signed_ok")
    return redirect(url_for("docs.show", doc_id=doc_id))
