"""Ready-to-paste configuration for a client, for the stacks our developers use."""

from __future__ import annotations

import json

from ..models import Client


def _secret(client: Client) -> str:
    return "<the secret shown when it was created or rotated>" if not client.is_public else ""


def idp_client(client: Client, issuer: str) -> str:
    """The adapter in ``clients/`` (package ``idp_client``); settings from clients/README.md."""
    lines = [
        "from flask import Flask",
        "from idp_client import SSO",
        "",
        "app = Flask(__name__)",
        "app.config.update(",
        f"    SSO_ISSUER={issuer!r},",
        f"    SSO_CLIENT_ID={client.client_id!r},",
    ]
    if not client.is_public:
        lines.append(f"    SSO_CLIENT_SECRET={_secret(client)!r},")
    lines.append(f"    SSO_SCOPE={client.scope!r},")
    if client.redirect_uris:
        lines.append(f"    SSO_REDIRECT_URI={client.redirect_uris[0]!r},")
    if client.post_logout_redirect_uris:
        lines.append(f"    SSO_POST_LOGOUT_REDIRECT_URI={client.post_logout_redirect_uris[0]!r},")
    lines += [")", "sso = SSO(app)"]
    return "\n".join(lines)


def authlib_flask(client: Client, issuer: str) -> str:
    secret = "" if client.is_public else f"    client_secret={_secret(client)!r},\n"
    return (
        "from authlib.integrations.flask_client import OAuth\n\n"
        "oauth = OAuth(app)\n"
        "oauth.register(\n"
        '    name="idp",\n'
        f"    client_id={client.client_id!r},\n"
        f"{secret}"
        f'    server_metadata_url="{issuer}/.well-known/openid-configuration",\n'
        f'    client_kwargs={{"scope": {client.scope!r}, "code_challenge_method": "S256"}},\n'
        ")"
    )


def openid_client(client: Client, issuer: str) -> str:
    """npm openid-client v6: discovery() returns a Configuration."""
    secret = "" if client.is_public else f", {json.dumps(_secret(client))}"
    redirect = client.redirect_uris[0] if client.redirect_uris else "<redirect URI>"
    return (
        "import * as client from 'openid-client'\n\n"
        f"const config = await client.discovery(new URL({json.dumps(issuer)}), "
        f"{json.dumps(client.client_id)}{secret})\n"
        "const code_verifier = client.randomPKCECodeVerifier()\n"
        "const url = client.buildAuthorizationUrl(config, {\n"
        f"  redirect_uri: {json.dumps(redirect)},\n"
        f"  scope: {json.dumps(client.scope)},\n"
        "  code_challenge: await client.calculatePKCECodeChallenge(code_verifier),\n"
        "  code_challenge_method: 'S256',\n"
        "})"
    )


def spring(client: Client, issuer: str) -> str:
    redirect = client.redirect_uris[0] if client.redirect_uris else "{baseUrl}/login/oauth2/code/{registrationId}"
    auth = "none" if client.is_public else "client_secret_basic"
    grant = "client_credentials" if client.client_type == "service" else "authorization_code"
    lines = [
        "spring:", "  security:", "    oauth2:", "      client:", "        registration:",
        "          idp:", f"            client-id: {client.client_id}",
    ]
    if not client.is_public:
        lines.append("            client-secret: ${IDP_CLIENT_SECRET}")
    lines += [
        f"            client-authentication-method: {auth}",
        f"            authorization-grant-type: {grant}",
        f"            scope: {', '.join(client.scope.split())}",
    ]
    if grant == "authorization_code":
        lines.append(f'            redirect-uri: "{redirect}"')
    lines += ["        provider:", "          idp:", f"            issuer-uri: {issuer}"]
    return "\n".join(lines)


def all_snippets(client: Client, issuer: str) -> list[tuple[str, str]]:
    return [
        ("idp_client (Flask)", idp_client(client, issuer)),
        ("Authlib (Flask)", authlib_flask(client, issuer)),
        ("openid-client v6 (Node.js)", openid_client(client, issuer)),
        ("Spring Security (application.yml)", spring(client, issuer)),
    ]
