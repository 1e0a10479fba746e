"""The one resource protector: Authlib's ResourceProtector with one bearer validator.

/userinfo (OIDC Core §5.3), the admin API and registration management (RFC 7592 §2) accept
a bearer token through it. Authlib runs the flow (parse, authenticate, validate, answer);
we fill its hooks: where a token may be sent (RFC 6750 §2), what makes one valid
(:mod:`idp.services.tokens` over :mod:`idp.services.jose`, or RFC 7592's registration
access token), and the answer's shape (RFC 6750 §3: the challenge, ``{error,
error_description}``, no-store).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError, MissingAuthorizationError
from authlib.oauth2.rfc6750 import BearerTokenValidator, InsufficientScopeError, InvalidTokenError
import flask
from flask import Response, g
from flask_babel import gettext as _

from ..models import Client, Token
from ..responses import json_error
from ..services import registration, tokens

REALM = "idp"


@dataclass
class Bearer:
    """A token the validator accepted: an access token (``row``, ``claims``) or, for RFC 7592,
    the client its registration access token belongs to."""

    value: str
    claims: dict[str, Any] = field(default_factory=dict)
    row: Token | None = None
    client: Client | None = None

    @property
    def scopes(self) -> set[str]:
        return set(str(self.claims.get("scope") or "").split())


class BearerValidator(BearerTokenValidator):
    """RFC 6750 bearer tokens of this provider; what a resource demands comes as arguments."""

    def authenticate_token(self, token_string: str) -> Bearer:
        # What the token is depends on the resource (an access token, or RFC 7592's
        # registration access token): validate_token, which hears the resource, decides.
        return Bearer(value=token_string.strip())

    def validate_token(self, token: Bearer, scopes, request, registration_client=None,
                       **_kwargs) -> None:
        if not token.value:
            raise MissingAuthorizationError(self.TOKEN_TYPE, self.realm)
        if registration_client:
            # RFC 7592 §2: the registration access token opens its own client only.
            token.client = registration.authenticate(registration_client[0], token.value)
            return
        try:
            token.claims, token.row = tokens.verify_access_token(token.value)
        except tokens.TokenInvalid as exc:
            raise invalid_token(str(exc)) from None
        if self.scope_insufficient(" ".join(token.scopes), scopes):
            # RFC 6750 §3.1: insufficient_scope, and "MAY include the scope attribute".
            error = ScopeMissing(scopes)
            error.token = token  # type: ignore[attr-defined]  (its client is audited)
            raise error


class ScopeMissing(InsufficientScopeError):
    """RFC 6750 §3: 403 insufficient_scope, naming the scope the resource needs."""

    def __init__(self, scopes, description: str | None = None) -> None:
        self.scope = " ".join(scopes or ())
        super().__init__()
        # Set after __init__, which refuses non-ASCII text: the body carries the translated
        # description, the challenge an ASCII one (_challenge_text).
        self.ascii_description = f"The access token lacks the {self.scope} scope."
        self.description = description or _("The access token lacks the %(scope)s scope.",
                                             scope=self.scope)


def invalid_token(description: str) -> InvalidTokenError:
    """RFC 6750 §3.1 invalid_token with a public description (possibly translated)."""
    error = InvalidTokenError(realm=REALM)
    error.description = description
    return error


class Protector(ResourceProtector):
    """Authlib's protector; the hooks say where a token may be and how a refusal looks."""

    def parse_request_authorization(self, request):
        """RFC 6750 §2.1 header or §2.2 form body, never both, never the URL (§2.3)."""
        flask_request = flask.request  # Authlib's FlaskJsonRequest does not carry the form
        if flask_request.args.get("access_token"):
            # RFC 9700 §2.4 / RFC 6750 §2.3: tokens in the URL leak; not accepted.
            raise _invalid_request("Send the access token in the Authorization header "
                                   "or the form body, not the URL.")
        header = request.headers.get("Authorization", "")
        scheme, _sep, from_header = header.partition(" ")
        from_header = from_header.strip() if scheme.lower() == "bearer" else ""
        from_body = ""
        if flask_request.method == "POST" and \
                flask_request.mimetype == "application/x-www-form-urlencoded":
            from_body = flask_request.form.get("access_token") or ""
        if from_header and from_body:
            raise _invalid_request("The access token was sent twice.")
        if not (from_header or from_body):
            # RFC 6750 §3.1: no token at all gets a challenge without an error code.
            raise MissingAuthorizationError(self._default_auth_type, self._default_realm)
        return self.get_token_validator("bearer"), from_header or from_body

    def raise_error_response(self, error: OAuth2Error):
        raise Refusal(answer(error))

    def bearer(self, scope: str | None = None, *, registration_client: str | None = None) -> Bearer:
        """The accepted token of this request, or :class:`Refusal` with the RFC 6750 answer."""
        kwargs: dict[str, Any] = {}
        if registration_client is not None:
            kwargs["registration_client"] = registration_client
        try:
            token = self.acquire_token([scope] if scope else None, **kwargs)
        except OAuth2Error as error:
            raise Refusal(answer(error), error) from None
        except registration.BadToken as exc:
            raise Refusal(answer(invalid_token(str(exc.description))), exc) from None
        g.bearer = token
        return token


def _invalid_request(english: str) -> InvalidRequestError:
    error = InvalidRequestError()
    error.description = _(english)
    error.ascii_description = english  # type: ignore[attr-defined]
    return error


class Refusal(Exception):
    """A refused bearer request; ``response`` is what the caller sends back."""

    def __init__(self, response: Response, error: Exception | None = None) -> None:
        super().__init__(response.status)
        self.response = response
        self.error = error


def answer(error: OAuth2Error) -> Response:
    """RFC 6750 §3: the status, the challenge and the body ``{error, error_description}``."""
    if isinstance(error, MissingAuthorizationError):
        # §3.1: "the resource server SHOULD NOT include an error code or other error
        # information" in the challenge; the body still says what is missing, in the one
        # error shape of the project.
        body = {"error": InvalidTokenError.error,
                "error_description": _("An access token is required (Authorization: Bearer).")}
        header = f'Bearer realm="{REALM}"'
        status = 401
    else:
        description = str(error.get_error_description() or "")
        body: dict[str, str] = {"error": error.error, "error_description": description}
        parts = [f'realm="{REALM}"', f'error="{error.error}"',
                 f'error_description="{_challenge_text(error, description)}"']
        if isinstance(error, ScopeMissing) and error.scope:
            parts.append(f'scope="{_quoted(error.scope)}"')
        header = "Bearer " + ", ".join(parts)
        status = {"invalid_request": 400, "insufficient_scope": 403}.get(error.error, 401)
    return json_error(body["error"], body["error_description"], status,
                      www_authenticate=header)


def _challenge_text(error: OAuth2Error, description: str) -> str:
    """The description for the challenge: a translated one that is not ASCII gives way to
    the English text (RFC 6750 §3 allows only printable ASCII there)."""
    if _quoted(description) == description:
        return description
    return _quoted(getattr(error, "ascii_description", None) or type(error).description or "")


def _quoted(text: str) -> str:
    # RFC 6750 §3: error_description and scope are quoted-strings of printable ASCII
    # without " and \ (%x20-21 / %x23-5B / %x5D-7E).
    return "".join(c for c in text if 0x20 <= ord(c) <= 0x7E and c not in '"\\')


protector = Protector()
protector.register_token_validator(BearerValidator(realm=REALM))
