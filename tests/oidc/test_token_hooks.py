"""The token side on Authlib's hooks (docs/adr/0001-authlib-boundary.md): what Server.save_token
stores, one audit event per issuance, the refresh token only with offline_access, and
Authlib's authorize-side storage hook producing a code our token endpoint redeems."""

from __future__ import annotations

import pytest

from tests.support.flow import decode_jwt, pkce_pair


def _row_values(row) -> list[str]:
    return [str(getattr(row, c.key)) for c in row.__table__.columns]


def test_save_token_stores_the_jti_and_the_refresh_hash_never_a_token(tokens):
    from idp.models import Token
    from idp.services.crypto import hash_secret

    row = Token.query.one()
    _, claims = decode_jwt(tokens["access_token"])
    assert row.access_jti == claims["jti"]
    assert row.refresh_token_hash == hash_secret(tokens["refresh_token"])
    stored = " ".join(_row_values(row))
    for value in (tokens["access_token"], tokens["refresh_token"], tokens["id_token"]):
        assert value not in stored


def test_one_audit_event_per_issuance(flow, tokens):
    from idp.models import AuditEvent

    flow.refresh(tokens["refresh_token"])
    issued = AuditEvent.query.filter_by(event_type="token.issued").all()
    assert [e.details["grant_type"] for e in issued] == ["authorization_code", "refresh_token"]


def test_a_lost_redemption_leaves_no_token_and_no_audit_event(flow, signed_in):
    from idp.models import AuditEvent, Token

    code, verifier = flow.code(scope="openid")
    assert flow.exchange(code, verifier).status_code == 200
    again = flow.exchange(code, verifier)
    assert again.status_code == 400
    assert again.get_json() == {"error": "invalid_grant",
                                "error_description": "The authorization code was already used."}
    assert Token.query.filter(Token.revoked_at.is_(None)).count() == 0
    assert AuditEvent.query.filter_by(event_type="token.issued").count() == 1


@pytest.mark.config(TOKEN_REFRESH_GRACE=0)
def test_a_spent_refresh_token_revokes_its_family_at_once(flow, tokens):
    new = flow.refresh(tokens["refresh_token"]).get_json()
    reuse = flow.refresh(tokens["refresh_token"])
    assert reuse.status_code == 400
    assert reuse.headers["Cache-Control"] == "no-store"
    assert reuse.get_json() == {"error": "invalid_grant",
                                "error_description": "The refresh token was already used."}
    later = flow.refresh(new["refresh_token"])
    assert later.get_json() == {"error": "invalid_grant",
                                "error_description": "The refresh token was revoked."}


def test_save_authorization_code_gives_a_code_the_token_endpoint_redeems(app, flow, signed_in,
                                                                         confidential_client,
                                                                         user):
    from authlib.oauth2.rfc6749 import OAuth2Request

    from idp.models import SsoSession
    from idp.oidc.grants import AuthorizationCodeGrant
    from idp.oidc.issuance import Grantee
    from idp.services.tokens import AuthContext

    challenge_verifier, challenge = pkce_pair()
    redirect_uri = flow.rp.redirect_uri
    with app.test_request_context():
        from idp.extensions import db
        from idp.models import Client

        session = SsoSession.query.filter_by(user_id=user.id).first()
        request = OAuth2Request("POST", "https://op.test/authorize")
        request.payload = type("P", (), {
            "redirect_uri": redirect_uri,
            "data": {"nonce": "n-1", "code_challenge": challenge,
                     "code_challenge_method": "S256"}})()
        row = Client.query.filter_by(client_id=confidential_client.client_id).one()
        request.client = type("C", (), {"row": row})()
        request.user = Grantee(user, AuthContext(session.auth_time, session.acr,
                                                 list(session.amr or []), session))
        request.scope = "openid"
        grant = AuthorizationCodeGrant(request, app.extensions["idp.oidc.server"])
        grant.save_authorization_code("code-from-authlib", request)
        db.session.commit()
    body = flow.exchange("code-from-authlib", challenge_verifier)
    assert body.status_code == 200, body.get_json()
    _, claims = decode_jwt(body.get_json()["id_token"])
    assert claims["nonce"] == "n-1"
