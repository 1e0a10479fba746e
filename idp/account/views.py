"""My account: every page needs a live SSO session; forms carry a CSRF token."""

from __future__ import annotations

from functools import wraps
from typing import Callable

from flask import Response, flash, g, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from ..errors import AuthenticationFailed, DomainError, InvalidInput
from ..services import account, authn, mfa
from ..services.crypto import decrypt, encrypt
from ..services.throttle import TooManyAttempts
from ..responses import no_store
from ..sso import clear_session_cookie, current_session
from . import bp

SETUP_KEY = "account_enrol"  # the secret being enrolled, encrypted, until confirmed


def signed_in(view: Callable[..., Response]) -> Callable[..., Response]:
    """Send a visitor without a live session to sign in, then back here."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        current = current_session()
        if current is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        g.account_session, g.user = current, current.user
        return view(*args, **kwargs)

    return wrapper


def _page(template: str, status: int = 200, error: DomainError | str | None = None,
          **context) -> Response:
    message = str(error.description) if isinstance(error, DomainError) else error
    response = make_response(render_template(
        template, error=message, user=g.user, current=g.account_session, **context), status)
    no_store(response)
    if isinstance(error, TooManyAttempts):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def _ip() -> str:
    return request.remote_addr or ""


@bp.get("")
@signed_in
def index() -> Response:
    return _page("account/index.html", has_totp=mfa.has_totp(g.user))


@bp.route("/password", methods=["GET", "POST"])
@signed_in
def password() -> Response:
    if request.method == "GET":
        return _page("account/password.html")
    new = request.form.get("new_password", "")
    try:
        if new != request.form.get("confirm_password", ""):
            raise InvalidInput(_("The two new passwords are not the same."))
        ended = account.change_password(g.user, request.form.get("current_password", ""), new,
                                        keep=g.account_session, ip=_ip())
    except (AuthenticationFailed, InvalidInput, TooManyAttempts) as exc:
        return _page("account/password.html", exc.status, exc)
    flash(_("Your password was changed. %(n)d other session(s) were signed out.", n=ended),
          "success")
    return redirect(url_for("account.index"))


@bp.get("/mfa")
@signed_in
def mfa_status() -> Response:
    return _page("account/mfa.html", has_totp=mfa.has_totp(g.user),
                 remaining=mfa.remaining_recovery_codes(g.user))


@bp.post("/mfa/setup")
@signed_in
def mfa_setup() -> Response:
    """Set up (or reset) the authenticator, after confirming the password."""
    try:
        if not authn.verify_current_password(g.user, request.form.get("password", ""), ip=_ip()):
            raise AuthenticationFailed(_("The password is not right."))
    except (AuthenticationFailed, TooManyAttempts) as exc:
        return _page("account/mfa.html", exc.status, exc, has_totp=mfa.has_totp(g.user),
                     remaining=mfa.remaining_recovery_codes(g.user))
    # Bound to the user and the session it was shown in: a shared browser never hands it on.
    session[SETUP_KEY] = {"uid": g.user.id, "sid": g.account_session.sid,
                          "secret": encrypt(mfa.new_secret())}
    return _setup_page()


def _setup_secret() -> str | None:
    held = session.get(SETUP_KEY)
    if (not isinstance(held, dict) or held.get("uid") != g.user.id
            or held.get("sid") != g.account_session.sid):
        session.pop(SETUP_KEY, None)
        return None
    return decrypt(held["secret"])


def _setup_page(status: int = 200, error: str | None = None) -> Response:
    secret = _setup_secret()
    uri = mfa.provisioning_uri(g.user, secret)
    return _page("account/mfa_setup.html", status, error, qr=mfa.qr_data_uri(uri),
                 secret=mfa.grouped(secret))


@bp.post("/mfa/confirm")
@signed_in
def mfa_confirm() -> Response:
    secret = _setup_secret()
    if secret is None:
        return redirect(url_for("account.mfa_status"))
    # Replacing the factor ends the user's other sessions; this one stays.
    codes = mfa.enrol(g.user, secret, request.form.get("code", ""), keep=g.account_session)
    if codes is None:
        return _setup_page(400, _("The code is not right. Check the time on your phone and "
                                  "try the newest code."))
    session.pop(SETUP_KEY, None)
    return _page("account/mfa_codes.html", codes=codes)


@bp.get("/sessions")
@signed_in
def sessions_list() -> Response:
    rows = account.live_sessions(g.user)
    return _page("account/sessions.html", rows=rows, device=account.describe_device)


@bp.post("/sessions/<sid>/end")
@signed_in
def session_end(sid: str) -> Response:
    ended = account.end_own_session(g.user, sid[:64], ip=_ip())
    if ended.id == g.account_session.id:
        response = redirect(url_for("auth.login"))
        clear_session_cookie(response)
        return response
    flash(_("The session was signed out."), "success")
    return redirect(url_for("account.sessions_list"))


@bp.post("/sessions/end-all")
@signed_in
def sessions_end_all() -> Response:
    account.end_every_session(g.user, ip=_ip())
    flash(_("You were signed out everywhere."), "success")
    response = redirect(url_for("auth.login"))
    clear_session_cookie(response)
    return response


@bp.get("/apps")
@signed_in
def apps() -> Response:
    return _page("account/apps.html", apps=account.authorised_apps(g.user))


@bp.post("/apps/<client_id>/withdraw")
@signed_in
def app_withdraw(client_id: str) -> Response:
    client = account.withdraw(g.user, client_id[:64])
    flash(_("Access of %(name)s was withdrawn.", name=client.name), "success")
    return redirect(url_for("account.apps"))
