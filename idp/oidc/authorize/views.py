"""The authorization endpoint (GET and form POST, OIDC Core §3.1.2.1), its resumption
after sign-in, and the consent form."""

from __future__ import annotations

from authlib.oauth2.rfc6749 import OAuth2Error
from flask import Blueprint, Response, abort, request
from flask_babel import gettext as _

from ...services import audit, codes
from ...services.codes import CodeRequest
from .checks import CHECKS, PageError
from .interaction import STEPS
from .request import AuthRequest, from_ticket, from_values
from .respond import error_page, error_to_client, to_client

bp = Blueprint("oidc_authorize", __name__)


def issue(req: AuthRequest) -> Response:
    """RFC 6749 §4.1.2: the code, bound to the client, redirect_uri, PKCE and nonce."""
    user, session = req.session.user, req.session
    code = codes.issue_code(req.client, user, session, CodeRequest(
        redirect_uri=req.redirect_uri, scope=" ".join(req.scopes), nonce=req.get("nonce"),
        code_challenge=req.get("code_challenge"),
        code_challenge_method=req.get("code_challenge_method"), claims=req.claims,
    ))
    # One commit for the code and its audit event.
    audit.record("code.issued", actor=user.username, subject=user.sub,
                 client=req.client.client_id, ip=request.remote_addr or "",
                 details={"scope": " ".join(req.scopes)})
    return to_client(req, [("code", code)])


def proceed(req: AuthRequest) -> Response:
    """Run the checks, then the interaction steps, then issue the code."""
    try:
        for check in CHECKS:
            check(req)
        for step in STEPS:
            answer = step(req)
            if answer is not None:
                return answer
        return issue(req)
    except PageError as error:
        return error_page(error)
    except OAuth2Error as error:
        if req.redirect_uri is None:  # cannot happen after check_redirect_uri; be safe
            return error_page(PageError(error.error, error.get_error_description() or error.error))
        return error_to_client(req, error)


@bp.route("/authorize", methods=["GET", "POST"])
def authorize():
    # OIDC Core §3.1.2.1: GET with query parameters and POST with a form are both supported.
    values = request.form if request.method == "POST" else request.args
    return proceed(from_values(values))


@bp.get("/authorize/resume")
def resume():
    """Continue a pending request after sign-in, account selection or a language switch."""
    req = from_ticket(request.args.get("ticket", ""))
    if req is None:
        return error_page(PageError("invalid_request", _expired()))
    return proceed(req)


@bp.post("/authorize/consent")
def consent():
    """The consent form (CSRF-protected): Allow or Deny, then continue the request."""
    req = from_ticket(request.form.get("ticket", ""))
    if req is None:
        return error_page(PageError("invalid_request", _expired()))
    decision = request.form.get("decision")
    if decision not in {"allow", "deny"}:
        abort(400)
    req.decision = decision
    req.done = req.done | {"consent"}
    return proceed(req)


def _expired() -> str:
    return _("This sign-in request has expired. Go back to the application and try again.")
