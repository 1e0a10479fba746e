"""Reading redirects."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit


def query(location: str) -> dict[str, str]:
    """The query parameters of a URL, one value each (asserting none is repeated)."""
    parsed = parse_qs(urlsplit(location).query, keep_blank_values=True)
    assert all(len(v) == 1 for v in parsed.values()), parsed
    return {k: v[0] for k, v in parsed.items()}
