"""Sign-in: the password, the second factor (or its first enrolment), a forced change.

Contract with /authorize: ``/login?next=<path>&login_hint=<name>&ui_locales=<tags>``
and ``mfa=1`` when the relying party needs a second factor (OIDC Core §3.1.2.1
``acr_values``); with a password-only session, ``mfa=1`` asks only the second factor.
"""

from __future__ import annotations

from flask import Response, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from ..errors import AccountDisabled, AccountLocked, AuthenticationFailed, DomainError, InvalidInput
from ..services import audit, authn, mfa, passwords, policy, users
from ..services.crypto import decrypt, encrypt
from ..services.throttle import TooManyAttempts
from ..oidc.authorize.respond import redirect_uri_of
from ..sso import current_session
from ..responses import allow_form_action, no_store
from . import bp, flow

ENROL_KEY = "authn_enrol"  # the secret being enrolled, encrypted, until confirmed


def _page(template: str, status: int = 200, error: DomainError | str | None = None,
          **context) -> Response:
    message = str(error.description) if isinstance(error, DomainError) else error
    response = no_store(make_response(render_template(template, error=message, **context), status))
    # The sign-in ends in a redirect to the client that asked: let the form reach it.
    state = flow.pending()
    next_url = request.args.get("next") or (state[0].get("next") if state else None)
    allow_form_action(response, redirect_uri_of(next_url))
    if isinstance(error, TooManyAttempts):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def _login_form(status: int = 200, error: DomainError | str | None = None,
                username: str = "") -> Response:
    action = url_for("auth.login", **request.args.to_dict())
    # A held account is passed with the password and the second factor on one form;
    # the form is the same for every held name (it says nothing about the account).
    return _page("auth/login.html", status, error, action=action,
                 forgot_url=url_for("auth.forgot", **flow.locale_args()),
                 username=username or request.args.get("login_hint", "")[:255],
                 held=isinstance(error, AccountLocked))


@bp.get("/login")
def login() -> Response:
    next_url = flow.safe_next(request.args.get("next"))
    current = current_session()
    # OIDC Core §3.1.2.1: prompt=login must authenticate again, never reuse the session.
    reuse = current is not None and request.args.get("prompt") != "login"
    if request.args.get("mfa") == "1" and reuse:
        if "otp" in (current.amr or []):
            return redirect(next_url or url_for("account.index", **flow.locale_args()))
        # Step-up: the password is proven already; ask only the second factor.
        flow.start(current.user, amr=list(current.amr or ["pwd"]), next_url=next_url,
                   need_mfa=True, step_up_sid=current.sid)
        return flow.advance(*flow.pending())
    return _login_form()


@bp.post("/login")
def login_submit() -> Response:
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    if not username or not password:
        return _login_form(400, _("Enter your username and your password."), username)
    try:
        user, amr = authn.authenticate(username, password, ip=flow.client_ip(),
                                       code=request.form.get("code", "")[:32])
    except (AuthenticationFailed, AccountLocked, AccountDisabled, TooManyAttempts) as exc:
        return _login_form(exc.status, exc, username)
    need_mfa = (request.args.get("mfa") == "1" or mfa.has_totp(user)
                or policy.mfa_required(user, None, None))
    flow.start(user, amr=amr, next_url=flow.safe_next(request.args.get("next")),
               need_mfa=need_mfa)
    return flow.advance(*flow.pending())


@bp.route("/login/otp", methods=["GET", "POST"])
def otp() -> Response:
    state = flow.pending()
    if state is None:
        return flow.restart()
    note, user = state
    if not note["mfa"] or "otp" in note["amr"] or not mfa.has_totp(user):
        return flow.advance(note, user)
    if request.method == "GET":
        return _page("auth/otp.html", user=user)
    try:
        mfa.second_factor(user, code=request.form.get("code", ""),
                          recovery_code=request.form.get("recovery_code", ""), ip=flow.client_ip())
    except AccountLocked as exc:
        flow.clear_browser_state()
        return _login_form(exc.status, exc, user.username)
    except (AuthenticationFailed, TooManyAttempts) as exc:
        return _page("auth/otp.html", exc.status, exc, user=user)
    note["amr"] = sorted(set(note["amr"]) | {"otp"})
    return flow.advance(note, user)


@bp.route("/login/enrol", methods=["GET", "POST"])
def enrol() -> Response:
    """A user who must use a second factor and has none sets it up now (before the session)."""
    state = flow.pending()
    if state is None:
        return flow.restart()
    note, user = state
    if not note["mfa"] or "otp" in note["amr"] or mfa.has_totp(user):
        return flow.advance(note, user)
    secret = _pending_secret(user)
    if request.method == "POST":
        keep = current_session() if note.get("sid") else None
        codes = mfa.enrol(user, secret, request.form.get("code", ""), keep=keep)
        if codes is not None:
            session.pop(ENROL_KEY, None)
            note["amr"] = sorted(set(note["amr"]) | {"otp"})
            flow.save(note)
            return _page("auth/recovery_codes.html", codes=codes,
                         continue_url=url_for("auth.resume", **flow.locale_args()))
        return _enrol_page(user, secret, 400, _(
            "The code is not right. Check the time on your phone and try the newest code."))
    return _enrol_page(user, secret)


def _pending_secret(user) -> str:
    """The secret being enrolled, bound to the user it was shown to (never another's)."""
    held = session.get(ENROL_KEY)
    if not isinstance(held, dict) or held.get("uid") != user.id:
        held = {"uid": user.id, "secret": encrypt(mfa.new_secret())}
        session[ENROL_KEY] = held
    return decrypt(held["secret"])


def _enrol_page(user, secret: str, status: int = 200, error: str | None = None) -> Response:
    uri = mfa.provisioning_uri(user, secret)
    return _page("auth/enrol.html", status, error, qr=mfa.qr_data_uri(uri),
                 secret=mfa.grouped(secret), action=url_for("auth.enrol", **flow.locale_args()))


@bp.get("/login/continue")
def resume() -> Response:
    state = flow.pending()
    return flow.advance(*state) if state else flow.restart()


@bp.route("/login/change-password", methods=["GET", "POST"])
def change_password() -> Response:
    """Forced change of a temporary password, before the session exists."""

    state = flow.pending()
    if state is None:
        return flow.restart()
    note, user = state
    if not user.must_change_password or (note["mfa"] and "otp" not in note["amr"]):
        return flow.advance(note, user)
    if request.method == "GET":
        return _page("auth/change_password.html", user=user)
    new = request.form.get("new_password", "")
    try:
        if new != request.form.get("confirm_password", ""):
            raise InvalidInput(_("The two new passwords are not the same."))
        if passwords.verify_password(user.password_hash, new):
            raise InvalidInput(_("The new password must differ from the current one."))
        users.set_password(user, new)
    except InvalidInput as exc:
        return _page("auth/change_password.html", 400, exc, user=user)
    audit.record("password.change", actor=user.username, subject=user.username,
                 ip=flow.client_ip(), details={"forced": True})
    return flow.advance(note, user)
