"""The provider's data, one module per aggregate. Import models from here."""

from ._base import utcnow
from .audit import AuditCheckpoint, AuditEvent, AuditSealerLease
from .clients import AUTH_METHODS, CLIENT_TYPES, Client, InitialAccessToken
from .grants import AuthorizationCode, Consent, Token, UsedJti
from .keys import KEY_STATES, SigningKey
from .mail import OutgoingMail
from .mfa import RecoveryCode, TotpCredential
from .security import PasswordResetToken, ThrottleCounter
from .sessions import LogoutDelivery, SessionClient, SsoSession
from .users import GLOBAL_ROLES, OrgUnit, Role, User, user_roles

__all__ = [
    "AUTH_METHODS", "CLIENT_TYPES", "GLOBAL_ROLES", "KEY_STATES",
    "AuditCheckpoint", "AuditEvent", "AuditSealerLease", "AuthorizationCode", "Client", "Consent", "InitialAccessToken",
    "LogoutDelivery", "OrgUnit", "OutgoingMail", "PasswordResetToken", "RecoveryCode", "Role",
    "SessionClient", "SigningKey", "SsoSession", "ThrottleCounter", "Token",
    "TotpCredential", "UsedJti", "User", "user_roles", "utcnow",
]
