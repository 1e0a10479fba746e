"""The steps of one sign-in, kept between pages in the signed Flask session.

After the password, the browser holds only a short-lived note ("user N passed the
password at T, continue to NEXT"); the SSO session is created at the very end, when
every required step (second factor, forced password change) is done.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Response, current_app, g, redirect, request, session, url_for

from ..extensions import db
from ..models import User
from ..services import authn, mfa, sessions
from ..sso import ACR_MFA, ACR_PASSWORD, clear_session_cookie, current_session, set_session_cookie

KEY = "authn"
TTL = 600  # seconds to finish the steps after the password


def safe_next(value: str | None) -> str | None:
    """``next`` only as a path on this host (no open redirect, RFC 9700 §4.11)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return None
    if any(ch in value for ch in "\r\n\t\\") or len(value) > 4096:
        return None
    return value


def locale_args() -> dict[str, str]:
    """Query arguments that must follow the user from page to page (the language)."""
    ui = request.args.get("ui_locales")
    return {"ui_locales": ui[:64]} if ui else {}


def client_ip() -> str:
    return request.remote_addr or ""


def clear_browser_state() -> None:
    """Forget everything earlier sign-ins kept in the Flask session but the language.

    A shared browser must not hand one person's pending step (e.g. the authenticator
    secret being enrolled) to the next person who signs in on it (ASVS 3.2.1).
    """
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    # Flask-WTF caches the signed CSRF token on g: a form rendered after the clear must
    # carry one for the new session's raw token, not the old one.
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)


def start(user: User, *, amr: list[str], next_url: str | None, need_mfa: bool,
          step_up_sid: str | None = None) -> None:
    """Begin a sign-in from a cleared session (only the language survives)."""
    clear_browser_state()
    session[KEY] = {"uid": user.id, "at": int(time.time()), "amr": amr,
                    "next": next_url or "", "mfa": need_mfa, "sid": step_up_sid}


def pending() -> tuple[dict[str, Any], User] | None:
    """The sign-in in progress, or None (none, expired, or the account is gone)."""
    note = session.get(KEY)
    if not isinstance(note, dict) or time.time() - note.get("at", 0) > TTL:
        session.pop(KEY, None)
        return None
    user = db.session.get(User, note.get("uid"))
    if user is None or not user.active:
        session.pop(KEY, None)
        return None
    return note, user


def save(note: dict[str, Any]) -> None:
    session[KEY] = note


def restart() -> Response:
    clear_browser_state()
    return redirect(url_for("auth.login", **locale_args()))


def advance(note: dict[str, Any], user: User) -> Response:
    """Go to the next step the sign-in still needs, or finish it.

    The note is saved first: the next page reads it back from the session, and a step
    passed here but not saved would be asked again, for ever (e.g. the code, then the
    forced password change, then the code ...).
    """
    save(note)
    if note["mfa"] and "otp" not in note["amr"]:
        step = "auth.otp" if mfa.has_totp(user) else "auth.enrol"
        return redirect(url_for(step, **locale_args()))
    if user.must_change_password and not note.get("sid"):
        return redirect(url_for("auth.change_password", **locale_args()))
    return finish(note, user)


def finish(note: dict[str, Any], user: User) -> Response:
    """Create the SSO session (a new id: no fixation, ASVS 3.2.1) or upgrade it (step-up)."""
    clear_browser_state()
    target = safe_next(note.get("next")) or url_for("account.index", **locale_args())
    amr = sorted(set(note["amr"]))
    acr = ACR_MFA if "otp" in amr else ACR_PASSWORD
    current = current_session()
    if note.get("sid"):
        if current is None or current.sid != note["sid"] or current.user_id != user.id:
            return restart()
        sessions.upgrade_session(current, amr=["otp"], acr=ACR_MFA)
        authn.record_login(user, amr=current.amr, acr=ACR_MFA, ip=client_ip(),
                           sid=current.sid, step_up=True)
        return redirect(target)
    if current is not None and current.user_id != user.id:
        # Another staff member's session must not live on behind the new cookie.
        sessions.end_session(current, "user_switch")
    # One unit of work (the request's): the session and its audit event ``login`` together.
    created, cookie = sessions.create_session(
        user, amr=amr, acr=acr, ip=client_ip(),
        user_agent=request.headers.get("User-Agent", ""),
    )
    authn.record_login(user, amr=amr, acr=acr, ip=client_ip(), sid=created.sid)
    response = redirect(target)
    set_session_cookie(response, cookie)
    return response


def sign_out_here(response: Response) -> Response:
    clear_session_cookie(response)
    return response
