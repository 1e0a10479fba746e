"""Authentication policy: when a second factor is required.

The sign-in pages and the authorization endpoint both ask ``mfa_required`` so that
they never disagree about what a session must prove.
"""

from __future__ import annotations

from typing import Iterable

from flask import current_app

from ..models import Client, User

ACR_MFA = "urn:idp:acr:mfa"  # same value as idp.sso.ACR_MFA (services do not import the web layer)


def mfa_required(user: User, client: Client | None, requested_acr: Iterable[str] | str | None) -> bool:
    """True when this user, signing in to this client, must use a second factor.

    A second factor is required when the user holds a global role listed in
    IDP_MFA_REQUIRED_ROLES, when their department or any unit above it requires
    it, when the client requires it, or when the relying party asked for
    ``acr_values=urn:idp:acr:mfa`` (OIDC Core §3.1.2.1).
    """
    if isinstance(requested_acr, str):
        requested_acr = requested_acr.split()
    if ACR_MFA in set(requested_acr or ()):
        return True
    if client is not None and client.mfa_required:
        return True
    if set(user.global_roles()) & set(current_app.config["MFA_REQUIRED_ROLES"]):
        return True
    unit = user.department
    return bool(unit and any(node.mfa_required for node in unit.ancestry()))
