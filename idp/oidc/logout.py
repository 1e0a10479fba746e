"""Single logout: the end_session endpoint (OIDC RP-Initiated Logout 1.0) and the
signed-out page that carries the front-channel iframes (OIDC Front-Channel Logout 1.0).

Back-channel logout (OIDC Back-Channel Logout 1.0) needs nothing here: ending the
session queues its deliveries (:mod:`idp.services.logout`), which the worker sends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import (Blueprint, Response, current_app, make_response, redirect,
                   render_template, request, session as flask_session)
from flask_babel import gettext as _
from sqlalchemy import select

from ..responses import allow_form_action, csp, no_store
from ..errors import InvalidInput
from ..extensions import csrf, db
from ..models import Client, SsoSession
from ..services import audit, jose, sessions
from ..services import logout as logout_service
from ..sso import clear_session_cookie, current_session

bp = Blueprint("logout", __name__)

PARAMS = ("id_token_hint", "logout_hint", "client_id", "post_logout_redirect_uri", "state",
          "ui_locales")


@dataclass
class LogoutRequest:
    """A validated logout request (RP-Initiated Logout 1.0 §2)."""

    params: dict[str, str]
    client: Client | None = None
    hint: dict[str, Any] | None = None
    redirect_to: str | None = None  # post_logout_redirect_uri with state, when allowed
    form: dict[str, str] = field(default_factory=dict)


def _url_with(uri: str, params: dict[str, str]) -> str:
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def _invalid(description: str, detail: str | None = None) -> InvalidInput:
    return InvalidInput(description, detail=detail)


def verify_id_token_hint(value: str) -> dict[str, Any]:
    """The claims of an ID token this provider issued; an expired one is accepted.

    RP-Initiated Logout 1.0 §2: "The OP need not be listed as an audience of the ID
    Token when it is used as an id_token_hint value", and expiry does not matter.
    services.jose holds the rule (signature, iss, sub, an ID token's typ), the same one
    /authorize applies.
    """
    try:
        return jose.verify_id_token_hint(value)
    except jose.InvalidJWT as exc:
        raise _invalid(_("The id_token_hint is not a valid ID token from this service."),
                       detail=f"id_token_hint: {exc}") from None


def _hint_client_id(claims: dict[str, Any]) -> str | None:
    # OIDC Core 2: aud is a string or a list; with several audiences azp names the client.
    if isinstance(claims.get("azp"), str):
        return claims["azp"]
    aud = claims.get("aud")
    if isinstance(aud, str):
        return aud
    if isinstance(aud, list) and len(aud) == 1 and isinstance(aud[0], str):
        return aud[0]
    return None


def _find_client(client_id: str | None) -> Client | None:
    if not client_id:
        return None
    client = db.session.execute(
        select(Client).where(Client.client_id == client_id)
    ).scalar_one_or_none()
    return client if client is not None and client.enabled else None


def parse_request(values: Any) -> LogoutRequest:
    """Validate the parameters; raises InvalidInput (an HTML error page, never a redirect)."""
    params = {name: values[name] for name in PARAMS
              if isinstance(values.get(name), str) and values.get(name)}
    req = LogoutRequest(params=params)
    if "id_token_hint" in params:
        req.hint = verify_id_token_hint(params["id_token_hint"])
        req.client = _find_client(_hint_client_id(req.hint))
        if req.client is None:
            raise _invalid(_("The id_token_hint was not issued to a known application."))
    if "client_id" in params:
        if req.client is not None and req.client.client_id != params["client_id"]:
            # RP-Initiated Logout 1.0 §2: client_id must match the ID token's client.
            raise _invalid(_("The client_id does not match the id_token_hint."))
        req.client = req.client or _find_client(params["client_id"])
        if req.client is None:
            raise _invalid(_("The application that sent you here is not known."))
    uri = params.get("post_logout_redirect_uri")
    if uri:
        if req.client is None:
            raise _invalid(_("A post_logout_redirect_uri needs an id_token_hint or client_id."))
        # RP-Initiated Logout 1.0 §3: only to a URI registered for this client, exactly.
        if uri not in (req.client.post_logout_redirect_uris or []):
            raise _invalid(_("The post_logout_redirect_uri is not registered for this application."),
                           detail=f"unregistered post_logout_redirect_uri {uri!r}")
        state = params.get("state")
        req.redirect_to = _url_with(uri, {"state": state}) if state else uri
        if len(req.redirect_to) > current_app.config["MAX_REDIRECT_LENGTH"]:
            # §3 echoes state into the redirect; a Location that long is dropped on the way.
            raise _invalid(_("The state parameter is too long."),
                           detail=f"state of {len(state or '')} characters")
    return req


def needs_confirmation(req: LogoutRequest, sso: SsoSession) -> bool:
    """RP-Initiated Logout 1.0 §2: ask the user unless the hint names this very session."""
    hint = req.hint
    if hint is None or hint.get("sub") != sso.user.sub:
        return True
    if isinstance(hint.get("sid"), str) and hint["sid"] != sso.sid:
        return True
    logout_hint = req.params.get("logout_hint")
    if logout_hint and logout_hint not in {sso.user.sub, sso.user.username, sso.user.email}:
        return True
    return False


def frontchannel_frames(sso: SsoSession) -> list[str]:
    """The iframe URLs of the joined clients (Front-Channel Logout 1.0 §2, §3)."""
    issuer = current_app.config["ISSUER"]
    frames = []
    for client in logout_service.frontchannel_clients(sso):
        uri = client.frontchannel_logout_uri
        if client.frontchannel_logout_session_required:
            # §2: with frontchannel_logout_session_required the OP adds iss and sid.
            uri = _url_with(uri, {"iss": issuer, "sid": sso.sid})
        frames.append(uri)
    return frames


def _origins(urls: list[str]) -> list[str]:
    origins = []
    for url in urls:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in origins:
            origins.append(origin)
    return origins


def _signed_out(req: LogoutRequest, frames: list[str]) -> Response:
    response = make_response(render_template(
        "logout/signed_out.html", frames=frames, continue_to=req.redirect_to, client=req.client,
    ))
    if frames:
        # Front-Channel Logout 1.0 §3: the page frames the clients' logout URIs; allow
        # exactly their origins and nothing else.
        response.headers["Content-Security-Policy"] = csp(frame_src=_origins(frames))
    return response


def _finish(req: LogoutRequest, frames: list[str]) -> Response:
    if req.redirect_to and not frames:
        response = redirect(req.redirect_to, code=303 if request.method == "POST" else 302)
    else:
        response = _signed_out(req, frames)
    clear_session_cookie(response)
    return no_store(response)


def _forget_browser_state() -> None:
    """Drop what sign-in pages kept in the Flask session; keep only the language."""
    lang = flask_session.get("lang")
    flask_session.clear()
    if lang:
        flask_session["lang"] = lang


def _logout(req: LogoutRequest, sso: SsoSession | None) -> Response:
    frames: list[str] = []
    if sso is not None:
        frames = frontchannel_frames(sso)
        user_sub, sid = sso.user.sub, sso.sid
        _forget_browser_state()
        if sessions.end_session(sso, "rp_logout"):
            audit.record("logout.requested", actor=user_sub, subject=user_sub,
                         client=req.client.client_id if req.client else None,
                         ip=request.remote_addr,
                         details={"sid": sid, "reason": "rp_logout",
                                  "confirmed": "confirm" in request.form})
    return _finish(req, frames)


@bp.route("/end_session", methods=["GET", "POST"])
@csrf.exempt  # relying parties POST here cross-site; the confirmation form checks CSRF itself
def end_session() -> Response:
    """RP-Initiated Logout 1.0 §2: the end_session_endpoint, by GET or POST."""
    req = parse_request(request.values)
    sso = current_session()
    if request.method == "POST" and "confirm" in request.form:
        csrf.protect()
        if request.form["confirm"] != "yes":
            return no_store(make_response(render_template("logout/still_signed_in.html", req=req)))
        return _logout(req, sso)
    if sso is not None and needs_confirmation(req, sso):
        response = make_response(render_template("logout/confirm.html", req=req, sso=sso))
        # The confirmed form ends in a redirect to the client's post-logout URI.
        return no_store(allow_form_action(response, req.redirect_to))
    return _logout(req, sso)

