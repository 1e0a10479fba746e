"""After validation: who the user is, whether they proved enough, which account,
and what they allowed. Each step either lets the request through (None), answers
with a page or a redirect, or raises the OIDC Core §3.1.2.6 error for prompt=none.
"""

from __future__ import annotations

import time

from authlib.oauth2.rfc6749 import AccessDeniedError
from authlib.oidc.core.errors import ConsentRequiredError, LoginRequiredError
from flask import Response, render_template, request
from flask_babel import lazy_gettext as _l

from ...services import consent
from ...services.policy import mfa_required
from ...sso import ACR_MFA, current_session
from .request import AuthRequest, make_ticket
from .respond import allow_form_action, login_url, no_store, resume_url, to_login


# What each scope lets the application see, in the user's words (for the consent page).
SCOPE_DESCRIPTIONS = {
    "openid": _l("Know who you are (your account identifier)"),
    "profile": _l("See your name, username, job title and employee number"),
    "email": _l("See your email address"),
    "phone": _l("See your phone number"),
    "department": _l("See your department"),
    "roles": _l("See your roles in this application"),
    "offline_access": _l("Keep access while you are not using it"),
}


def _fresh(req: AuthRequest) -> bool:
    """The user signed in after this request started (on resumption from sign-in)."""
    return req.resumed and req.session is not None and \
        req.session.auth_time.timestamp() >= req.started_at


def require_authentication(req: AuthRequest) -> Response | None:
    """OIDC Core §3.1.2.3: authenticate the user, again when prompt, max_age or a hint say so."""
    req.session = current_session()
    session = req.session
    if session is None:
        if "none" in req.prompt:
            raise LoginRequiredError("The user is not signed in.")
        return to_login(req)
    force = False
    if "login" in req.prompt and not _fresh(req):
        force = True  # OIDC Core §3.1.2.1: prompt=login re-authenticates
    elif req.max_age is not None and not _fresh(req) and \
            time.time() - session.auth_time.timestamp() > req.max_age:
        force = True  # OIDC Core §3.1.2.1: max_age exceeded
    elif req.hint_sub and req.hint_sub != session.user.sub:
        force = True  # the relying party expects another user
    if not force:
        return None
    if "none" in req.prompt:
        # OIDC Core §3.1.2.6: prompt=none never shows a page.
        raise LoginRequiredError("The user must sign in again.")
    started = req.started_at if req.resumed else time.time()
    return to_login(req, force=True, started_at=started)


def require_second_factor(req: AuthRequest) -> Response | None:
    """Step up to a second factor when policy or acr_values require it."""
    session = req.session
    if session.acr == ACR_MFA or not mfa_required(session.user, req.client, req.acr_values):
        return None
    if "none" in req.prompt:
        raise LoginRequiredError("The user must sign in with a second factor.")
    return to_login(req, mfa=True)


def select_account(req: AuthRequest) -> Response | None:
    """OIDC Core §3.1.2.1 prompt=select_account: confirm the account, or switch."""
    if "select_account" not in req.prompt or "select_account" in req.done:
        return None
    done = req.done | {"select_account"}
    page = render_template(
        "oidc/select_account.html", user=req.session.user, client=req.client,
        resume=resume_url(req, done=done),
        other=login_url(req, force=True, started_at=time.time(), done=done),
    )
    return no_store(allow_form_action(Response(page, mimetype="text/html"), req.redirect_uri))


def require_consent(req: AuthRequest) -> Response | None:
    """Ask the user unless a trusted first-party client or a remembered consent covers it."""
    user = req.session.user
    if req.decision == "deny":
        consent.record_denial(user, req.client, req.scopes, ip=request.remote_addr or "")
        raise AccessDeniedError("The user denied the request.")
    if req.decision == "allow":
        consent.grant_consent(user, req.client, req.scopes, ip=request.remote_addr or "")
        return None
    asked = "consent" in req.prompt
    if not asked and (req.client.trusted or consent.covers(user, req.client, req.scopes)):
        return None
    if "none" in req.prompt:
        raise ConsentRequiredError("The user has not allowed this application.")
    page = render_template("oidc/consent.html", user=user, client=req.client,
                           scopes=req.scopes, ticket=make_ticket(req),
                           scope_descriptions=SCOPE_DESCRIPTIONS)
    return no_store(allow_form_action(Response(page, mimetype="text/html"), req.redirect_uri))


STEPS = (require_authentication, require_second_factor, select_account, require_consent)
