"""Outgoing mail over SMTP (settings ``SMTP_*``), with the standard library's smtplib.

A request never talks to the SMTP server: it queues a row (:func:`queue_mail`) in its
own transaction, and the worker (``idp worker``, or the inline worker in development)
sends it (:func:`send_due`).  So a request that mails someone takes the time of one
that does not (no account enumeration by timing), and a mail server that is down or
slow holds no request.  Rows are claimed with a lease, as the logout outbox does
(:mod:`idp.services.backchannel`), so that any number of workers may run.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from flask import current_app
from sqlalchemy import delete

from ..extensions import db
from ..models import OutgoingMail, utcnow
from . import outbox
from .crypto import decrypt, encrypt
from .database import unit_of_work

log = logging.getLogger("idp.mail")

# A claimed row is not offered to another worker for this long (longer than one attempt).
LEASE = timedelta(seconds=60)
BATCH = 20
SMTP_TIMEOUT = 10  # seconds; the worker, not a request, waits for it


@dataclass(frozen=True)
class Outcome:
    """What one attempt did, for the worker's log and the tests."""

    mail_id: int
    status: str  # sent, pending (will retry) or failed (given up)
    error: str | None = None


def queue_mail(to: str, subject: str, body: str) -> OutgoingMail:
    """Add a message to the queue in the caller's transaction (the caller commits)."""
    row = OutgoingMail(recipient=to[:255], subject=subject[:255], body_encrypted=encrypt(body),
                       next_attempt_at=utcnow())
    db.session.add(row)
    return row


def _claim(limit: int) -> list[int]:
    return outbox.claim_due(OutgoingMail, LEASE, limit)


def send_due(limit: int = BATCH) -> list[Outcome]:
    """One worker pass: claim the due messages and hand each to the SMTP server."""
    return [_deliver(row_id) for row_id in _claim(limit)]


def _deliver(row_id: int) -> Outcome:
    with unit_of_work():  # none open while the mail server answers
        row = db.session.get(OutgoingMail, row_id)
        to, subject, body = row.recipient, row.subject, decrypt(row.body_encrypted or "")
    error = send_mail(to, subject, body)
    with unit_of_work():
        return _record(row, error)


def _record(row: OutgoingMail, error: str | None) -> Outcome:
    row_id = row.id
    cfg = current_app.config
    if error is None:
        # Sent: nothing of it is kept (the reset link inside is a secret).
        db.session.execute(delete(OutgoingMail).where(OutgoingMail.id == row_id))
        return Outcome(row_id, "sent")
    row.last_error = error[:500]
    if row.attempts >= cfg["MAIL_MAX_ATTEMPTS"]:
        row.status, row.body_encrypted = "failed", None
    else:
        delay = cfg["MAIL_RETRY_BASE"] * 2 ** max(row.attempts - 1, 0)
        row.next_attempt_at = utcnow() + timedelta(seconds=min(delay, 3600))
    log.info("mail %s attempt %s: %s", row_id, row.attempts, error)
    return Outcome(row_id, row.status, error)


def send_mail(to: str, subject: str, body: str) -> str | None:
    """Send one plain-text message now; None when sent, else a short reason (logged).

    Only the worker calls this; requests queue with :func:`queue_mail`.
    """
    cfg = current_app.config
    message = EmailMessage()
    message["From"] = cfg["SMTP_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=cfg["SMTP_FROM"].rpartition("@")[2] or None)
    message.set_content(body)
    try:
        with smtplib.SMTP(cfg["SMTP_HOST"], cfg["SMTP_PORT"], timeout=SMTP_TIMEOUT) as smtp:
            if cfg["SMTP_STARTTLS"]:
                smtp.starttls(context=ssl.create_default_context())
            if cfg["SMTP_USERNAME"]:
                smtp.login(cfg["SMTP_USERNAME"], cfg["SMTP_PASSWORD"] or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("mail to %s not sent: %s", to.rpartition("@")[2], exc.__class__.__name__)
        return exc.__class__.__name__
    return None
