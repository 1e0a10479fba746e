"""The UserInfo endpoint (OIDC Core §5.3) with Bearer tokens per RFC 6750."""

from __future__ import annotations

from flask import Blueprint, jsonify

from ..responses import no_store
from ..services.claims import user_claims
from .protector import Refusal, ScopeMissing, answer, invalid_token, protector

bp = Blueprint("oidc_userinfo", __name__)


@bp.route("/userinfo", methods=["GET", "POST"])
def userinfo():
    try:
        # OIDC Core §5.3.1: the access token must carry the openid scope.
        token = protector.bearer("openid")
    except Refusal as refusal:
        return refusal.response
    row = token.row
    if row.user is None:
        return answer(ScopeMissing(["openid"]))  # a client's own token names no user
    if not row.user.active:
        return answer(invalid_token("The user of this access token is disabled."))
    scopes = row.scope.split()
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
