"""Return targets after sign-in: same-origin paths only (RFC 9700 §4.11, no open redirector).

No Flask here: :func:`local_path` takes a string and answers a string an app may put in
``Location`` without sending the browser to another host.
"""
from __future__ import annotations

import unicodedata
from urllib.parse import unquote, urlsplit

FALLBACK = "/"


def _has_control_or_backslash(value: str) -> bool:
    # Browsers drop tab and newline anywhere in a URL and read "\" as "/" (WHATWG URL §4.4):
    # "/\t/evil" and "/\evil" become "//evil", a network-path reference to another host.
    return "\\" in value or any(unicodedata.category(ch) == "Cc" for ch in value)


def is_local_path(value: object) -> bool:
    """True when ``value`` is an absolute path on this origin and nothing else.

    It must start with one "/", carry no scheme and no authority once parsed (RFC 3986 §4.2),
    and hold no control character and no backslash, neither as is nor percent-decoded
    (a proxy or framework decoding once more must not turn it into "//host").
    """
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        return False
    if _has_control_or_backslash(value) or _has_control_or_backslash(unquote(value)):
        return False
    if unquote(value).startswith("//"):
        return False
    parts = urlsplit(value)
    return not parts.scheme and not parts.netloc and parts.path.startswith("/")


def local_path(value: object, fallback: str = FALLBACK) -> str:
    """``value`` when it is a same-origin path (:func:`is_local_path`), else ``fallback``."""
    return value if is_local_path(value) else fallback  # type: ignore[return-value]
