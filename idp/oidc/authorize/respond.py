"""Answers of the authorization endpoint: to the client (query or form_post), to a
sign-in page, or as an error page."""

from __future__ import annotations

from typing import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749 import OAuth2Error
from flask import Response, current_app, redirect, render_template, url_for

from ...errors import error_response
from ...responses import allow_form_action, no_store
from .checks import PageError
from .request import AuthRequest, from_ticket, make_ticket


def redirect_uri_of(next_url: str | None) -> str | None:
    """The client redirect_uri that a sign-in resuming ``next_url`` will end at, if any.

    Only a ticket we signed counts (its request was validated before it was made).
    """
    try:
        parts = urlsplit(next_url or "")
    except ValueError:  # ?next=http://[x is no ticket of ours (and no 500)
        return None
    if parts.path != url_for("oidc_authorize.resume") or parts.netloc:
        return None
    ticket = dict(parse_qsl(parts.query)).get("ticket")
    req = from_ticket(ticket) if ticket else None
    return req.get("redirect_uri") if req else None


def to_client(req: AuthRequest, params: list[tuple[str, str]]) -> Response:
    """Deliver parameters to the redirect_uri, with state and iss (RFC 9207 §2)."""
    if req.state:
        params.append(("state", req.state))
    params.append(("iss", current_app.config["ISSUER"]))
    if req.response_mode == "form_post":
        # OAuth 2.0 Form Post Response Mode §2: an auto-submitting form (static JS, no inline
        # script), with a visible button when scripts are off.
        page = render_template("oidc/form_post.html", action=req.redirect_uri, params=params)
        return no_store(allow_form_action(Response(page, mimetype="text/html"), req.redirect_uri))
    return no_store(redirect(add_params_to_uri(req.redirect_uri, params), code=302))


def error_to_client(req: AuthRequest, error: OAuth2Error) -> Response:
    params = [("error", error.error)]
    description = error.get_error_description()
    if description:
        params.append(("error_description", description))
    return to_client(req, params)


def error_page(error: PageError) -> Response:
    return error_response(error.code, error.description, 400)


def resume_url(req: AuthRequest, *, started_at: float | None = None,
               done: Iterable[str] | None = None) -> str:
    ticket = make_ticket(req, started_at=started_at, done=set(done) if done is not None else None)
    query = {"ticket": ticket}
    if req.get("ui_locales"):
        query["ui_locales"] = req.params["ui_locales"]
    return f"{url_for('oidc_authorize.resume')}?{urlencode(query)}"


def login_url(req: AuthRequest, *, force: bool = False, mfa: bool = False,
              started_at: float | None = None, done: Iterable[str] | None = None) -> str:
    """The sign-in page (idp.auth), told where to resume afterwards."""
    try:
        base = url_for("auth.login")
    except Exception:  # the sign-in blueprint is not registered (tests of this area)
        base = "/login"
    query = {"next": resume_url(req, started_at=started_at, done=done)}
    for name in ("login_hint", "ui_locales"):
        if req.get(name):
            query[name] = req.params[name]
    if force:
        query["prompt"] = "login"  # the page must authenticate again, not reuse the session
    if mfa:
        query["mfa"] = "1"
    return f"{base}?{urlencode(query)}"


def to_login(req: AuthRequest, **kwargs) -> Response:
    return no_store(redirect(login_url(req, **kwargs), code=302))
