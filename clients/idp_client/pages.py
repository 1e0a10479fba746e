"""Readable pages for sign-in errors and missing roles; never a 500 for a provider's answer.

An app that ships a ``sso/error.html`` template gets it rendered with ``status``, ``error``,
``error_description`` and ``required_roles``; otherwise a small bilingual page is used.
"""
from __future__ import annotations

from typing import Any

from flask import Response, make_response, render_template, render_template_string
from jinja2 import TemplateNotFound

_FALLBACK = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ status }} {{ error }}</title></head>
<body style="font-family: sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem">
<h1>{% if status == 403 %}Không có quyền / Forbidden{% else %}Không đăng nhập được / Sign-in failed{% endif %}</h1>
<p>Mã lỗi / Error code: <code class="error-code">{{ error }}</code></p>
{% if error_description %}<p class="error-description">{{ error_description }}</p>{% endif %}
{% if required_roles %}<p>Vai trò cần có / Required role: {{ required_roles|join(", ") }}</p>{% endif %}
<p><a href="/">Trang chủ / Home</a></p>
</body></html>"""


def render_page(status: int, error: str, error_description: str | None = None, **extra: Any) -> Response:
    """Render the error page with ``status``; the body always names the ``error`` code."""
    context = dict(status=status, error=error, error_description=error_description, **extra)
    context.setdefault("required_roles", ())
    try:
        body = render_template("sso/error.html", **context)
    except TemplateNotFound:
        body = render_template_string(_FALLBACK, **context)
    response = make_response(body, status)
    response.headers["Cache-Control"] = "no-store"
    return response
