"""The adapter's routes: sign-in, callback, RP-initiated logout, and the logout notifications."""
from __future__ import annotations

import logging
from typing import Any

import requests
from authlib.integrations.base_client import OAuthError
from flask import Blueprint, Response, jsonify, make_response, redirect, request, session, url_for
from joserfc.errors import JoseError

from . import pending, userinfo
from .config import Settings
from .pages import render_page
from .paths import local_path
from .state import LOGOUT_STATE_KEY, SID_KEY, SUB_KEY, TOKEN_KEY, USER_KEY, AppState, sso_state, storable
from .tokens import TokenError, validate_logout_token
from .user import current_user

log = logging.getLogger(__name__)


class CallbackError(Exception):
    """The authorization response cannot be accepted; shown as a page with ``error``."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


def redirect_local(target: object) -> Response:
    """Redirect to a same-origin path; checked again here, whatever stored it (RFC 9700 §4.11)."""
    return redirect(local_path(target))


def login() -> Response:
    """Redirect to /authorize with PKCE S256, state and nonce (OIDC Core 3.1.2.1, RFC 7636 §4.3)."""
    target = local_path(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect_local(target)
    state = sso_state()
    try:
        state.metadata()
    except OAuthError as error:
        # The provider answered, with metadata this client must not use: say so, not "unreachable".
        log.warning("Discovery refused: %s %s", error.error, error.description)
        return render_page(502, error.error or "invalid_metadata", error.description)
    except (requests.RequestException, ValueError) as error:
        log.warning("Discovery failed: %s", error)
        return _unreachable()
    redirect_uri = state.settings.redirect_uri or url_for("sso.callback", _external=True)
    # Authlib creates state, nonce (scope has "openid") and the S256 code_verifier/challenge.
    auth_request = state.client.create_authorization_url(redirect_uri, **state.settings.authorization_params())
    pending.remember(auth_request["state"], {
        "code_verifier": auth_request.get("code_verifier"), "nonce": auth_request.get("nonce"),
        "redirect_uri": redirect_uri, "next": target})
    return redirect(auth_request["url"])


def _unreachable() -> Response:
    return render_page(502, "temporarily_unavailable",
                       "Không kết nối được máy chủ xác thực. / The sign-in service is unreachable.")


# The callback is an ordered list of checks, in the order the specs validate.

def check_issuer(state: AppState, metadata: dict[str, Any]) -> None:
    """RFC 9207 §2.4: compare the response's ``iss`` with the issuer before anything else."""
    iss = request.args.get("iss")
    if iss is None:
        if metadata.get("authorization_response_iss_parameter_supported"):
            raise CallbackError("invalid_issuer", "The response lacks the iss parameter (RFC 9207).")
        return
    if iss != state.settings.issuer:
        raise CallbackError("invalid_issuer", "The response comes from another issuer (RFC 9207).")


def check_error() -> None:
    """RFC 6749 §4.1.2.1: the OP answered with an error, e.g. access_denied."""
    error = request.args.get("error")
    if error:
        if pending.take(request.args.get("state")) is None:
            # RFC 6749 §10.12: not an answer to our request, so not the provider's words: a crafted
            # link must not put its own text ("sign in again at …") on the app's error page.
            raise CallbackError("invalid_state",
                                "The sign-in response does not belong to this browser session.")
        raise CallbackError(error, request.args.get("error_description") or "")


def check_state() -> dict[str, Any]:
    """RFC 6749 §10.12: the state must be one this browser's session sent; used once."""
    sent = pending.take(request.args.get("state"))
    if sent is None:
        raise CallbackError("invalid_state", "The sign-in response does not belong to this browser session.")
    return sent


def exchange_code(state: AppState, sent: dict[str, Any]) -> dict[str, Any]:
    """Exchange the code (with the PKCE verifier) and validate the ID token (OIDC Core 3.1.3.7)."""
    settings = state.settings
    claims_options = {
        "iss": {"essential": True, "value": settings.issuer},
        "aud": {"essential": True, "value": settings.client_id},
        "sub": {"essential": True},
        "exp": {"essential": True},
        "iat": {"essential": True},
    }
    try:
        token = dict(state.client.fetch_access_token(
            redirect_uri=sent["redirect_uri"], code=request.args.get("code"),
            code_verifier=sent["code_verifier"]))
        if "id_token" not in token:
            # OIDC Core 3.1.3.3: a successful token response for scope openid carries an ID token.
            raise CallbackError("invalid_id_token", "The token response has no ID token.")
        claims = state.client.parse_id_token(token, nonce=sent["nonce"], claims_options=claims_options,
                                             leeway=settings.clock_leeway)
    except OAuthError as error:
        raise CallbackError(error.error or "invalid_grant", error.description or "") from error
    except JoseError as error:
        log.info("ID token rejected: %s %s", error.error, error.description)
        raise CallbackError("invalid_id_token", f"The ID token is not valid ({error.error}: {error.description}).")
    token["userinfo"] = dict(claims)
    return token


def merge_userinfo(state: AppState, token: dict[str, Any]) -> dict[str, Any]:
    """Merge /userinfo into the ID token claims (OIDC Core 5.3); the ID token's own claims win."""
    claims = dict(token["userinfo"])
    if not state.settings.fetch_userinfo or not state.metadata().get("userinfo_endpoint"):
        return claims
    try:
        info = userinfo.fetch(state, token["access_token"], claims["sub"])
    except userinfo.UserinfoError as error:
        raise CallbackError(error.error, error.description, error.status) from error
    id_token_only = {k: claims[k] for k in ("iss", "aud", "exp", "iat", "sid", "auth_time", "nonce") if k in claims}
    claims.update(info)
    claims.update(id_token_only)
    return claims


def start_session(token: dict[str, Any], claims: dict[str, Any], target: str) -> str:
    """Replace the pre-login session by a fresh one bound to the OP's sid and sub."""
    session.clear()
    session.regenerate()  # type: ignore[attr-defined]  # ASVS V3.2.1: new id at sign-in
    session[TOKEN_KEY] = storable(token)
    session[USER_KEY] = {k: v for k, v in claims.items() if k != "nonce"}
    session[SUB_KEY] = claims["sub"]
    if claims.get("sid"):
        session[SID_KEY] = claims["sid"]
    return target


def callback() -> Response:
    """The redirection endpoint: validate the authorization response, then sign in locally."""
    state = sso_state()
    try:
        metadata = state.metadata()
        check_issuer(state, metadata)
        check_error()
        sent = check_state()
        token = exchange_code(state, sent)
        claims = merge_userinfo(state, token)
    except CallbackError as error:
        log.info("Sign-in refused: %s (%s)", error.error, error.description)
        return render_page(error.status, error.error, error.description)
    except (requests.RequestException, ValueError) as error:
        log.warning("Provider unreachable during sign-in: %s", error)
        return _unreachable()
    return redirect_local(start_session(token, claims, local_path(sent.get("next"))))


def logout() -> Response:
    """OIDC RP-Initiated Logout 1.0 §2: end the local session, then ask the OP to end its own."""
    state = sso_state()
    id_token = (session.get(TOKEN_KEY) or {}).get("id_token")
    session.clear()
    try:
        end_session = state.metadata().get("end_session_endpoint")
    except (requests.RequestException, ValueError, OAuthError):
        end_session = None
    if not end_session:
        return redirect(state.settings.after_logout_path)
    post_logout = state.settings.post_logout_redirect_uri or url_for("sso.logged_out", _external=True)
    result = state.client.create_logout_url(
        post_logout_redirect_uri=post_logout, id_token_hint=id_token, client_id=state.settings.client_id)
    session[LOGOUT_STATE_KEY] = result["state"]
    return redirect(result["url"])


def logged_out() -> Response:
    """Where the OP returns after logout; RP-Initiated Logout §3: state must echo ours."""
    expected = session.pop(LOGOUT_STATE_KEY, None)
    if expected is None or request.args.get("state") != expected:
        log.info("Post-logout redirect with an unexpected state; ignoring it.")
    return redirect(sso_state().settings.after_logout_path)


def _logout_error(description: str) -> Response:
    """OIDC Back-Channel Logout 1.0 §2.8: 400 with an OAuth error body."""
    response = jsonify(error="invalid_request", error_description=description)
    response.status_code = 400
    response.headers["Cache-Control"] = "no-store"
    return response


def backchannel_logout() -> Response:
    """OIDC Back-Channel Logout 1.0 §2.5-2.8: validate the logout token, end the sessions."""
    state = sso_state()
    settings = state.settings
    try:
        claims = validate_logout_token(
            request.form.get("logout_token", ""), issuer=settings.issuer, client_id=settings.client_id,
            load_jwks=state.jwks, remember_jti=state.store.remember_jti,
            algorithms=state.signing_algorithms(), max_age=settings.logout_token_max_age,
            leeway=settings.clock_leeway,
        )
    except TokenError as error:
        log.info("Logout token rejected: %s", error.description)
        return _logout_error(error.description)
    except (requests.RequestException, ValueError, OAuthError) as error:
        log.warning("Cannot check a logout token, the provider's keys are unreachable: %s", error)
        return _logout_error("The provider's keys could not be fetched to check the token.")
    ended = state.store.end_sessions(sid=claims.get("sid"), sub=claims.get("sub"))
    log.info("Back-channel logout ended %d local session(s).", ended)
    response = make_response("", 200)
    response.headers["Cache-Control"] = "no-store"  # §2.8
    return response


def frontchannel_logout() -> Response:
    """OIDC Front-Channel Logout 1.0 §2-3: the OP's iframe asks us to end the sessions of a sid."""
    state = sso_state()
    iss, sid = request.args.get("iss"), request.args.get("sid")
    if iss is not None and iss != state.settings.issuer:
        # §3: when iss and sid are sent the RP MUST check them.
        return render_page(400, "invalid_request", "The iss parameter names another issuer.")
    if sid:
        state.store.end_sessions(sid=sid)
    if sid is None or session.get(SID_KEY) == sid:
        session.clear()
    response = make_response("<!doctype html><title>Logged out</title><p>Đã đăng xuất.</p>", 200)
    response.headers["Cache-Control"] = "no-cache, no-store"  # §4: the response must not be cached
    return response


def build_blueprint(settings: Settings) -> Blueprint:
    """The ``sso`` blueprint with paths from the settings."""
    bp = Blueprint("sso", __name__)
    prefix = settings.url_prefix.rstrip("/")
    bp.add_url_rule(f"{prefix}/login", "login", login)
    bp.add_url_rule(settings.redirect_path, "callback", callback)
    bp.add_url_rule(f"{prefix}/logout", "logout", logout, methods=["POST"])
    bp.add_url_rule(f"{prefix}/logged-out", "logged_out", logged_out)
    bp.add_url_rule(f"{prefix}/backchannel-logout", "backchannel_logout", backchannel_logout, methods=["POST"])
    bp.add_url_rule(f"{prefix}/frontchannel-logout", "frontchannel_logout", frontchannel_logout)
    return bp
