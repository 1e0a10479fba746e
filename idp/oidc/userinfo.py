"""The UserInfo endpoint (OIDC Core §5.3) with Bearer tokens per RFC 6750."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from ..responses import challenge, json_error, no_store
from ..services import tokens
from ..services.claims import user_claims

bp = Blueprint("oidc_userinfo", __name__)


def _challenge(status: int, error: str | None, description: str | None) -> Response:
    """RFC 6750 §3: the WWW-Authenticate challenge, with error only when a token was sent."""
    header = challenge(realm="idp", error=error, error_description=description)
    if error is None:
        # No token, no error code in the challenge or the body (RFC 6750 §3.1).
        response = no_store(jsonify({}))
        response.status_code = status
        response.headers["WWW-Authenticate"] = header
        return response
    return json_error(error, description or "", status, www_authenticate=header)


def _bearer() -> tuple[str | None, Response | None]:
    """RFC 6750 §2.1 header or §2.2 form body; using both at once is invalid_request."""
    header = request.headers.get("Authorization", "")
    from_header = header[7:].strip() if header[:7].lower() == "bearer " else None
    from_body = None
    if request.method == "POST" and request.mimetype == "application/x-www-form-urlencoded":
        from_body = request.form.get("access_token")
    if request.args.get("access_token"):
        # RFC 9700 §2.4 / RFC 6750 §2.3: tokens in the URL leak; not accepted.
        return None, _challenge(400, "invalid_request", "Send the access token in the "
                                "Authorization header or the form body, not the URL.")
    if from_header and from_body:
        return None, _challenge(400, "invalid_request", "The access token was sent twice.")
    return from_header or from_body, None


@bp.route("/userinfo", methods=["GET", "POST"])
def userinfo():
    value, problem = _bearer()
    if problem is not None:
        return problem
    if not value:
        return _challenge(401, None, None)  # RFC 6750 §3.1: no error code when no token was sent
    try:
        claims, row = tokens.verify_access_token(value)
    except tokens.TokenInvalid as error:
        return _challenge(401, "invalid_token", str(error))
    scopes = row.scope.split()
    if "openid" not in scopes or row.user is None:
        return _challenge(403, "insufficient_scope", "The access token lacks the openid scope.")
    if not row.user.active:
        return _challenge(401, "invalid_token", "The user of this access token is disabled.")
    requested = _requested_claims(row)
    return no_store(jsonify(user_claims(row.user, row.client, scopes, requested)))


def _requested_claims(row) -> dict:
    """The userinfo member of the claims request made with the code (OIDC Core §5.5)."""
    from ..extensions import db
    from ..models import AuthorizationCode

    if row.code_id is None:
        return {}
    code = db.session.get(AuthorizationCode, row.code_id)
    return ((code.claims or {}).get("userinfo") or {}) if code is not None else {}
