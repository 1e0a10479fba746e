"""CSV files the console hands to administrators, made safe to open in a spreadsheet."""

from __future__ import annotations

from typing import Any

# OWASP "CSV Injection": a cell starting with one of these is read as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: Any) -> Any:
    """Neutralise a spreadsheet formula in exported text (a leading quote makes it text)."""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value
    return value
