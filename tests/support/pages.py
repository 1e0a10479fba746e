"""Reading the provider's pages as a browser would: forms, their CSRF token, hidden fields."""

from __future__ import annotations

import html as html_lib
import re

TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token of the first form of a page, as a browser would send it."""
    match = TOKEN_RE.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def hidden_fields(html: str) -> dict[str, str]:
    return {name: html_lib.unescape(value)
            for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html)}


def text(response) -> str:
    return response.get_data(as_text=True)
