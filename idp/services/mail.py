"""Outgoing mail over SMTP (settings ``SMTP_*``), with the standard library's smtplib."""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from flask import current_app

log = logging.getLogger("idp.mail")


def send_mail(to: str, subject: str, body: str) -> bool:
    """Send one plain-text message. Returns False (and logs) when the server refuses it.

    A mail failure must not change what the user is told (the reset page answers the
    same whether or not an account exists), so errors are logged, not raised.
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
        with smtplib.SMTP(cfg["SMTP_HOST"], cfg["SMTP_PORT"], timeout=10) as smtp:
            if cfg["SMTP_STARTTLS"]:
                smtp.starttls(context=ssl.create_default_context())
            if cfg["SMTP_USERNAME"]:
                smtp.login(cfg["SMTP_USERNAME"], cfg["SMTP_PASSWORD"] or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("mail to %s not sent: %s", to.rpartition("@")[2], exc.__class__.__name__)
        return False
    return True
