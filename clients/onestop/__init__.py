"""Một cửa: administrative procedure dossiers moved on by an ``officer``, resolved by an ``approver``.

A dossier is received, then in progress, then resolved; a resolved dossier counts as early,
on time or late by comparing the day it was resolved with its due date.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from flask import Flask

from ..demo_kit import create_demo_app, load_config
from .strings import STRINGS

SCHEMA = """
CREATE TABLE IF NOT EXISTS dossier (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL UNIQUE,
    procedure TEXT NOT NULL,
    applicant TEXT NOT NULL,
    received_at TEXT NOT NULL,
    due_at TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('received', 'in_progress', 'resolved')),
    resolved_at TEXT,
    handled_by TEXT
);
"""

# (code, procedure, applicant, received days ago, due in days from receipt, state, resolved days after receipt)
SEED = [
    ("000.00.01.H01-260101-0001", "Cấp giấy phép hoạt động dịch vụ việc làm", "Công ty TNHH Minh Phát", 20, 10, "resolved", 6),
    ("000.00.01.H01-260101-0002", "Công nhận Ban vận động thành lập hội", "Hội Cựu sinh viên Bách khoa", 15, 10, "resolved", 10),
    ("000.00.01.H01-260101-0003", "Thẩm định thành lập đơn vị sự nghiệp công lập", "Sở Nội vụ Hà Nam", 30, 15, "resolved", 21),
    ("000.00.01.H01-260101-0004", "Cấp chứng chỉ hành nghề lưu trữ", "Trần Thị Bình", 4, 10, "in_progress", None),
    ("000.00.01.H01-260101-0005", "Xét tặng danh hiệu Chiến sĩ thi đua", "Trường THPT Lê Quý Đôn", 12, 7, "in_progress", None),
    ("000.00.01.H01-260101-0006", "Đăng ký thay đổi thông tin tổ chức tôn giáo", "Giáo hội Phật giáo tỉnh Nam Định", 1, 20, "received", None),
]


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def seed(db: sqlite3.Connection) -> None:
    """A few dossiers in every state, dated relative to today, once."""
    if db.execute("SELECT COUNT(*) FROM dossier").fetchone()[0]:
        return
    now = datetime.now(timezone.utc)
    rows = []
    for code, procedure, applicant, ago, due_in, state, resolved_after in SEED:
        received = now - timedelta(days=ago)
        resolved = _iso(received + timedelta(days=resolved_after)) if resolved_after is not None else None
        rows.append((code, procedure, applicant, _iso(received), _iso(received + timedelta(days=due_in)),
                     state, resolved, "Cán bộ một cửa" if state != "received" else None))
    db.executemany(
        "INSERT INTO dossier (code, procedure, applicant, received_at, due_at, state, resolved_at, handled_by)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The one-stop-shop demo app; ``config`` overrides what ``ONESTOP_*`` env variables say."""
    settings = {**load_config("ONESTOP", "onestop"), **(config or {})}
    app = create_demo_app("onestop", __name__, STRINGS, settings, SCHEMA, seed)
    from .views import bp

    app.register_blueprint(bp)
    return app
