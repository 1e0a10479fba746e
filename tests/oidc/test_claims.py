"""Claims by scope (OIDC Core §5.4), the ministry's claims, and the claims parameter (§5.5)."""

from __future__ import annotations

import json

from tests.support.flow import decode_jwt
from tests.support.urls import query


def _userinfo(client, body):
    return client.get("/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}).get_json()


def _flow_with(flow, **params):
    got = query(flow.authorize(**params).headers["Location"])
    return flow.exchange(got["code"], None).get_json()


def test_openid_only_gives_sub(flow, signed_in, client, user):
    assert _userinfo(client, _flow_with(flow, scope="openid")) == {"sub": user.sub}


def test_profile_scope(flow, signed_in, client, user):
    info = _userinfo(client, _flow_with(flow, scope="openid profile"))
    assert info["name"] == "Nguyễn Văn An" and info["preferred_username"] == "an.nguyen"
    assert info["given_name"] == "An" and info["family_name"] == "Nguyễn"
    assert info["locale"] == "vi" and isinstance(info["updated_at"], int)
    assert info["title"] == "Chuyên viên" and info["employee_number"] == "NV-0001"
    assert "email" not in info


def test_email_and_phone_scopes(flow, signed_in, client):
    info = _userinfo(client, _flow_with(flow, scope="openid email phone"))
    assert info["email"] == "an.nguyen@example.gov.vn" and info["email_verified"] is True
    assert info["phone_number"] == "+84 24 3823 0000"
    assert "name" not in info


def test_department_scope(flow, signed_in, client):
    info = _userinfo(client, _flow_with(flow, scope="openid department"))
    assert info["department"] == {"code": "VP", "name": "Văn phòng Bộ"}


def test_roles_are_only_the_asking_clients(flow, signed_in, client, user, confidential_client, app):
    from idp.extensions import db
    from tests.support.clients import register

    other = register("Khác", client_type="web", client_id="other",
                      redirect_uris=["https://other.example/cb"], roles=["officer"])
    user.roles = user.roles + [confidential_client.row.roles[0], other.row.roles[0]]
    db.session.commit()
    info = _userinfo(client, _flow_with(flow, scope="openid roles"))
    assert info["roles"] == ["clerk"]


def test_scope_order_does_not_matter(flow, signed_in, client):
    info = _userinfo(client, _flow_with(flow, scope="email openid profile"))
    assert "email" in info and "name" in info


def test_unknown_and_unregistered_scopes_are_ignored(public_flow, signed_in, client):
    from tests.support.flow import pkce_pair

    verifier, challenge = pkce_pair()
    got = query(public_flow.authorize(scope="openid address made.up", code_challenge=challenge,
                                      code_challenge_method="S256").headers["Location"])
    assert public_flow.exchange(got["code"], verifier).get_json()["scope"] == "openid"


def test_essential_claims_in_userinfo(flow, signed_in, client):
    claims = json.dumps({"userinfo": {"name": {"essential": True}, "email": None}})
    info = _userinfo(client, _flow_with(flow, scope="openid", claims=claims))
    assert info["name"] == "Nguyễn Văn An" and info["email"] == "an.nguyen@example.gov.vn"


def test_claims_in_id_token(flow, signed_in):
    claims = json.dumps({"id_token": {"email": {"essential": True}, "roles": None}})
    body = _flow_with(flow, scope="openid", claims=claims)
    _, id_claims = decode_jwt(body["id_token"])
    assert id_claims["email"] == "an.nguyen@example.gov.vn" and id_claims["roles"] == []


def test_claims_request_cannot_exceed_granted_scopes(public_flow, signed_in, client):
    """A non-trusted client gets a claim by name only when the user allowed a scope that
    carries it (profile is registered but was not granted; phone is not even registered)."""
    claims = json.dumps({"userinfo": {"phone_number": {"essential": True}, "name": None}})
    got = query(public_flow.authorize(claims=claims).headers["Location"])
    info = _userinfo(client, public_flow.exchange(got["code"], None).get_json())
    assert info == {"sub": info["sub"]}


def test_claims_request_within_granted_scopes(public_flow, signed_in, client, user,
                                              public_client):
    from idp.services import consent

    consent.grant_consent(user, public_client.row, ["openid", "profile"])
    claims = json.dumps({"id_token": {"name": None, "phone_number": None}})
    body = public_flow.exchange(query(public_flow.authorize(
        scope="openid profile", claims=claims).headers["Location"])["code"], None).get_json()
    _, id_claims = decode_jwt(body["id_token"])
    assert id_claims["name"] == "Nguyễn Văn An" and "phone_number" not in id_claims


def test_claims_survive_refresh(flow, signed_in, client):
    claims = json.dumps({"userinfo": {"email": None}})
    body = _flow_with(flow, scope="openid offline_access", claims=claims)
    newer = flow.refresh(body["refresh_token"]).get_json()
    assert "email" in _userinfo(client, newer)
