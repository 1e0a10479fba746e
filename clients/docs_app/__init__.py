"""Quản lý văn bản và điều hành: incoming and outgoing documents of the user's department.

Client roles: ``clerk`` and ``leader`` create documents; only ``leader`` signs them off.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from flask import Flask

from ..demo_kit import create_demo_app, load_config
from .strings import STRINGS

SCHEMA = """
CREATE TABLE IF NOT EXISTS document (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    department_code TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('incoming', 'outgoing')),
    number TEXT NOT NULL,
    title TEXT NOT NULL,
    summary TEXT NOT NULL DEFAULT '',
    counterpart TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    created_by_name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'signed')),
    signed_by_name TEXT,
    signed_at TEXT
);
"""

SEED = [
    ("VP", "incoming", "125/UBND-VP", "Đề nghị phối hợp triển khai hệ thống đăng nhập một lần", "UBND tỉnh Bắc Ninh"),
    ("VP", "outgoing", "88/BNV-VP", "Kế hoạch chuyển đổi số năm 2026", "Các đơn vị thuộc Bộ"),
    ("VP", "incoming", "17/TTg-KGVX", "Chỉ thị về bảo đảm an toàn thông tin mạng", "Văn phòng Chính phủ"),
    ("TCCB", "incoming", "42/SNV-TCCB", "Báo cáo số lượng công chức quý III", "Sở Nội vụ Hà Nội"),
    ("TCCB", "outgoing", "301/BNV-TCCB", "Quyết định cử cán bộ đi đào tạo", "Học viện Hành chính Quốc gia"),
]


def seed(db: sqlite3.Connection) -> None:
    """A few documents for two departments, once."""
    if db.execute("SELECT COUNT(*) FROM document").fetchone()[0]:
        return
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    db.executemany(
        "INSERT INTO document (department_code, direction, number, title, counterpart, created_by,"
        " created_by_name, created_at) VALUES (?, ?, ?, ?, ?, 'seed', 'Văn thư', ?)",
        [(*row, now) for row in SEED],
    )


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The document management demo app; ``config`` overrides what ``DOCS_*`` env variables say."""
    settings = {**load_config("DOCS", "docs"), **(config or {})}
    app = create_demo_app("docs", __name__, STRINGS, settings, SCHEMA, seed)
    from .views import bp

    app.register_blueprint(bp)
    return app
