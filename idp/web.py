"""Cross-cutting HTTP behaviour: security headers, request ids, proxies.

The headers themselves are built in :mod:`idp.responses`."""

from __future__ import annotations

import json
import secrets
from typing import Any

from flask import Flask, Response, abort, current_app, g, has_app_context, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.middleware.proxy_fix import ProxyFix

from .responses import csp

DEFAULT_JSON_DEPTH = 16


def _depth_within(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return True


def load_json(raw: str | bytes | bytearray, **kwargs: Any) -> Any:
    """``json.loads`` for anything a request brought: at most IDP_MAX_JSON_DEPTH levels deep.

    Deeper documents (``[[[[…`` that would exhaust the parser's recursion) raise
    ValueError, which every caller already answers as malformed input.
    """
    limit = current_app.config["MAX_JSON_DEPTH"] if has_app_context() else DEFAULT_JSON_DEPTH
    try:
        value = json.loads(raw, **kwargs)
    except RecursionError:
        raise ValueError("The JSON is nested too deeply.") from None
    if not _depth_within(value, limit):
        raise ValueError("The JSON is nested too deeply.")
    return value


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON with the depth limit, so that ``request.get_json()`` has it too."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return load_json(s, **kwargs)


def init_app(app: Flask) -> None:
    app.json = JSONProvider(app)
    hops = app.config["TRUSTED_PROXIES"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops,  # type: ignore[method-assign]
                                x_port=hops, x_prefix=hops)

    @app.before_request
    def _request_id() -> None:
        g.request_id = request.headers.get("X-Request-Id", "")[:64] or secrets.token_hex(8)
        limit = app.config["MAX_CONTENT_LENGTH"]
        if request.content_length is not None and request.content_length > limit:
            abort(413)  # refuse before anything reads the body

    @app.after_request
    def _headers(response):
        location = response.headers.get("Location")
        if location and len(location) > app.config["MAX_REDIRECT_LENGTH"]:
            # A redirect that echoes huge input (state) would be dropped by proxies and
            # HTTP clients (header lines past 64 kB): answer with a page instead.
            from flask_babel import gettext as _

            from .errors import error_response

            response = error_response(
                "invalid_request", _("The address to continue to is too long."), 400)
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        # RFC 9700 §4.2.4: no URL of ours (codes, state) leaks to another site. same-origin,
        # not no-referrer: Flask-WTF refuses an https form POST that has no same-origin Referer.
        headers.setdefault("Referrer-Policy", "same-origin")
        # RFC 9700 §4.16 / ASVS 14.4.7: no provider page may be framed by another site.
        # Pages that must post to a client (form_post) widen form-action themselves.
        headers.setdefault("Content-Security-Policy", csp())
        headers.setdefault("X-Frame-Options", "DENY")
        if request.is_secure or app.config["ISSUER"].startswith("https://"):
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        headers["X-Request-Id"] = g.get("request_id", "")
        return response
