"""Thư điện tử: an inbox of messages addressed to the signed-in staff member, kept in SQLite."""
from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from flask import Flask

from ..demo_kit import create_demo_app, load_config
from .strings import STRINGS

SCHEMA = """
CREATE TABLE IF NOT EXISTS message (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sender_email TEXT NOT NULL,
    sender_name TEXT NOT NULL,
    recipient_email TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    read INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS message_recipient ON message (recipient_email);
"""


def seed(db: sqlite3.Connection) -> None:
    """Nothing to seed: each staff member gets a welcome message on first visit."""


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The webmail demo app; ``config`` overrides what ``WEBMAIL_*`` env variables say."""
    settings = {**load_config("WEBMAIL", "webmail"), **(config or {})}
    app = create_demo_app("webmail", __name__, STRINGS, settings, SCHEMA, seed)
    from .views import bp

    app.register_blueprint(bp)
    return app
