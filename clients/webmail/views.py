"""Routes of the webmail app: inbox, sent, read and compose; a user sees only their own mail."""
from __future__ import annotations

import re
from datetime import datetime, timezone

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..demo_kit import get_db
from ..idp_client import current_user, login_required
from .strings import STRINGS

bp = Blueprint("webmail", __name__)
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _mailbox() -> str:
    email = (current_user.email or "").lower()
    if not email:
        abort(403)
    return email


def _welcome(email: str) -> None:
    """Give a first-time visitor one message so the inbox is not empty."""
    db = get_db()
    if db.execute("SELECT 1 FROM message WHERE recipient_email = ? LIMIT 1", (email,)).fetchone():
        return
    text = STRINGS["vi"]
    db.execute(
        "INSERT INTO message (sender_email, sender_name, recipient_email, subject, body, sent_at)"
        " VALUES ('quantri@bo.gov.vn', 'Quản trị hệ thống', ?, ?, ?, ?)",
        (email, text["welcome_subject"], text["welcome_body"], _now()),
    )
    db.commit()


@bp.get("/")
def index() -> str:
    if not current_user.is_authenticated:
        return render_template("kit/landing.html")
    return inbox()


@login_required
def inbox() -> str:
    email = _mailbox()
    _welcome(email)
    rows = get_db().execute(
        "SELECT * FROM message WHERE recipient_email = ? ORDER BY id DESC", (email,)).fetchall()
    return render_template("webmail/list.html", messages=rows, box="inbox")


@bp.get("/sent")
@login_required
def sent() -> str:
    rows = get_db().execute(
        "SELECT * FROM message WHERE sender_email = ? ORDER BY id DESC", (_mailbox(),)).fetchall()
    return render_template("webmail/list.html", messages=rows, box="sent")


@bp.get("/messages/<int:message_id>")
@login_required
def read(message_id: int) -> str:
    email = _mailbox()
    db = get_db()
    row = db.execute("SELECT * FROM message WHERE id = ? AND (recipient_email = ? OR sender_email = ?)",
                     (message_id, email, email)).fetchone()
    if row is None:
        abort(404)
    if row["recipient_email"] == email and not row["read"]:
        db.execute("UPDATE message SET read = 1 WHERE id = ?", (message_id,))
        db.commit()
    return render_template("webmail/read.html", message=row)


@bp.route("/compose", methods=["GET", "POST"])
@login_required
def compose() -> str | Response:
    sender = _mailbox()
    form = {k: request.form.get(k, "").strip() for k in ("to", "subject", "body")}
    if request.method == "GET":
        form["to"] = request.args.get("to", "")
        return render_template("webmail/compose.html", form=form)
    error = None
    if not EMAIL.match(form["to"]):
        error = "bad_recipient"
    elif not form["subject"]:
        error = "missing_subject"
    if error:
        return render_template("webmail/compose.html", form=form, error=error), 400  # type: ignore[return-value]
    db = get_db()
    db.execute(
        "INSERT INTO message (sender_email, sender_name, recipient_email, subject, body, sent_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (sender, current_user.display_name, form["to"].lower(), form["subject"], form["body"], _now()),
    )
    db.commit()
    flash("sent_ok")
    return redirect(url_for("webmail.sent"))
