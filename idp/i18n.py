"""Languages: Vietnamese by default, English on choice.

Each area of the provider may keep its own catalogue (``idp/<area>/translations``)
so that areas are translated independently; all are merged into one domain. The
``.mo`` files are compiled when the package is built or set up (:mod:`idp.catalogs`),
never when the app starts.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Flask, current_app, has_request_context, request, session, url_for
from flask_babel import get_locale, refresh
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BuildError

from .config import LOCALES


def select_locale() -> str:
    """An explicit choice (?lang= or the switch), then ui_locales, then the default (vi)."""
    if not has_request_context():  # the CLI and workers speak English to operators
        return "en"
    chosen = request.args.get("lang") or session.get("lang")
    if chosen in LOCALES:
        return chosen
    # OIDC Core §3.1.2.1: ui_locales is a space-separated list of preferred languages.
    for tag in (_ui_locales() or "").split():
        base = tag.split("-")[0].lower()
        if base in LOCALES:
            return base
    return current_app.config["DEFAULT_LOCALE"]


def _ui_locales() -> str | None:
    """ui_locales from the query or the form; a body that cannot be read (too large,
    malformed) is ignored here, so the error page about it can still be rendered."""
    try:
        return request.values.get("ui_locales")
    except HTTPException:
        return request.args.get("ui_locales")


def translation_directories() -> list[str]:
    from .catalogs import directories

    return [str(p) for p in directories()]


def lang_url(code: str) -> str:
    """The current page in another language (the switch keeps the query string).

    Never built from ``request.path``: a path such as ``/\\evil.example/`` or
    ``//evil.example/`` copied into an href is resolved by browsers to another site.
    A routed page links to its own endpoint (url_for); any other page (a 404) gets a
    query-only reference, which resolves to the same document by construction
    (RFC 3986 §5.2.2).
    """
    args = request.args.to_dict(flat=False)
    args["lang"] = [code]
    query = urlencode(args, doseq=True)
    if request.url_rule is not None and request.endpoint and request.endpoint != "static":
        try:
            path = url_for(request.endpoint, **(request.view_args or {}))
        except BuildError:
            path = ""
        if path.startswith("/") and not path.startswith(("//", "/\\")):
            return f"{path}?{query}"
    return f"?{query}"


def init_app(app: Flask) -> None:
    @app.before_request
    def _remember_choice() -> None:
        # Flask-Babel caches the locale on ``g``; when an app context outlives one request
        # (tests, CLI), start each request afresh.
        refresh()
        chosen = request.args.get("lang")
        if chosen in LOCALES:
            session["lang"] = chosen

    @app.context_processor
    def _helpers() -> dict:
        return {"current_locale": lambda: str(get_locale() or "vi"), "lang_url": lang_url}
