"""The HTTP edge: caching headers, pages with their Content-Security-Policy, JSON errors.

Every view builds its answer's headers here, so that one rule has one place: what may be
cached, what a page may load and where its forms may go, and the one JSON error shape
``{error, error_description}`` (with the RFC 6750 challenge when the caller gives one).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

from flask import Response, jsonify

# The provider's pages load only their own assets, are never framed and post only to
# themselves (RFC 9700 §4.16, ASVS 14.4.7); ``form-action`` is widened per page.
CSP_DIRECTIVES: Mapping[str, tuple[str, ...]] = {
    "default-src": ("'self'",),
    "img-src": ("'self'", "data:"),
    "style-src": ("'self'",),
    "script-src": ("'self'",),
    "form-action": ("'self'",),
    "frame-ancestors": ("'none'",),
    "base-uri": ("'none'",),
    "object-src": ("'none'",),
}


def csp(**extra: Iterable[str]) -> str:
    """The policy, each directive's sources joined by one space, directives by ``; ``.

    Keyword arguments add sources to a directive (``form_action=["https://rp.example"]``)
    or add a directive (``frame_src=[...]``); duplicates and empty values are dropped.
    """
    added = {name.replace("_", "-"): list(sources) for name, sources in extra.items()}
    parts = []
    for directive in dict.fromkeys((*CSP_DIRECTIVES, *added)):
        values = dict.fromkeys(
            s for s in (*CSP_DIRECTIVES.get(directive, ()), *added.get(directive, ())) if s)
        if values:
            parts.append(" ".join((directive, *values)))
    return "; ".join(parts)


def origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


def allow_form_action(response: Response, *uris: str | None) -> Response:
    """Let this page's forms reach these URIs' origins.

    Browsers apply ``form-action`` to the redirects that follow a form's submission
    too, so a page whose form ends in a redirect to a client (sign-in, consent,
    logout confirmation) must name the client's origin.
    """
    response.headers["Content-Security-Policy"] = csp(
        form_action=[origin(u) for u in uris if u])
    return response


def no_store(response: Response) -> Response:
    """RFC 6749 §5.1: answers that carry credentials or one-time values are never cached."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def challenge(scheme: str = "Bearer", **params: str | None) -> str:
    """An RFC 6750 §3 ``WWW-Authenticate`` value; parameters that are None are left out."""
    values = ", ".join(f'{name}="{value}"' for name, value in params.items() if value)
    return f"{scheme} {values}" if values else scheme


def json_error(code: str, description: str, status: int, /, *,
               www_authenticate: str | None = None, **extra: Any) -> Response:
    """The one JSON error shape: ``{error, error_description}`` (plus ``extra`` keys, such
    as the admin API's ``fields``), never cached, with the challenge when one is given."""
    response = jsonify({"error": code, "error_description": description, **extra})
    response.status_code = status
    if www_authenticate:
        response.headers["WWW-Authenticate"] = www_authenticate
    if status == 503:
        response.headers["Retry-After"] = "5"
    return no_store(response)


# RFC 6749 §5.2: error_description is "human-readable ASCII text"; used when an error
# (Authlib's, raised without one) arrives with no description of its own.
DESCRIPTIONS: Mapping[str, str] = {
    "invalid_request": "The request is missing a parameter or is otherwise malformed.",
    "invalid_client": "Client authentication failed.",
    "invalid_grant": "The grant is invalid, expired, revoked or was issued to another client.",
    "unauthorized_client": "This client is not allowed to use this grant type.",
    "unsupported_grant_type": "The grant type is not supported.",
    "invalid_scope": "The requested scope is invalid, unknown, or malformed.",
    "unsupported_token_type": "The token type is not supported.",
    "unsupported_response_type": "The response type is not supported.",
    "access_denied": "The request was denied.",
    "invalid_token": "The access token is invalid.",
    "insufficient_scope": "The access token does not hold the required scope.",
    "temporarily_unavailable": "The service is temporarily unavailable. Please try again shortly.",
}


def describe(code: str, description: str | None = None) -> str:
    """The description to send: the given one, else the code's standard sentence."""
    return description or DESCRIPTIONS.get(code, "The request could not be completed.")
