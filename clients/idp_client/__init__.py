"""idp_client: sign in to the ministry's OpenID Connect provider from a Flask app.

    from idp_client import SSO, current_user, login_required, require_role
    sso = SSO()
    sso.init_app(app, issuer="http://127.0.0.1:5000", client_id="docs", client_secret="...")
"""
from .config import DEFAULT_SCOPE, Settings
from .csrf import csrf_token
from .extension import SSO
from .paths import is_local_path, local_path
from .sessions import SessionStore
from .state import sso_state
from .tokens import TokenError, validate_logout_token
from .user import AnonymousUser, User, current_user, login_required, require_role

__all__ = [
    "SSO", "Settings", "DEFAULT_SCOPE", "SessionStore", "TokenError", "User", "AnonymousUser",
    "current_user", "csrf_token", "is_local_path", "local_path", "login_required", "require_role",
    "sso_state", "validate_logout_token",
]
