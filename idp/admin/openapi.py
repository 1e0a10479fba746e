"""The admin API described as an OpenAPI 3.1 document, served at /api/admin/openapi.json."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify

from ..urls import external_url
from . import api

URIS = {"type": "array", "items": {"type": "string", "format": "uri"}}
NULLABLE_STR = {"type": ["string", "null"]}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict:
    text = {400: "Malformed request", 401: "Missing, expired or revoked access token",
            403: "The token lacks the required scope, or the action is not allowed",
            404: "No such object", 409: "Conflict", 422: "Invalid fields (see `fields`)"}
    return {str(s): {"$ref": f"#/components/responses/E{s}"} for s in statuses if s in text}


def _op(summary: str, scope: str, ok: dict, *errors: int, body: dict | None = None,
        params: list | None = None) -> dict:
    op: dict[str, Any] = {"summary": summary, "security": [{"bearer": [scope]}],
                          "responses": {**ok, **_errors(400, 401, 403, *errors)}}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if params:
        op["parameters"] = params
    return op


def _path_param(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


CLIENT_INPUT = {
    "type": "object", "required": ["client_name"],
    "properties": {
        "client_id": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$",
                      "description": "Optional; generated when absent (creation only)."},
        "client_name": {"type": "string", "maxLength": 255},
        "description": {"type": "string", "maxLength": 2000},
        "logo_uri": {"type": ["string", "null"], "format": "uri"},
        "owner_department": {**NULLABLE_STR, "description": "Department code."},
        "client_type": {"enum": ["web", "spa", "native", "service"],
                        "description": "Fixed after creation."},
        "redirect_uris": URIS, "post_logout_redirect_uris": URIS,
        "backchannel_logout_uri": {"type": ["string", "null"], "format": "uri"},
        "frontchannel_logout_uri": {"type": ["string", "null"], "format": "uri"},
        "grant_types": {"type": "array", "items": {
            "enum": ["authorization_code", "refresh_token", "client_credentials"]}},
        "scope": {"type": "string", "description": "Space-separated allowed scopes."},
        "id_token_signed_response_alg": {"enum": ["RS256", "ES256"]},
        "access_token_ttl": {"type": ["integer", "null"], "minimum": 60, "maximum": 86400},
        "refresh_token_ttl": {"type": ["integer", "null"], "minimum": 300, "maximum": 31536000},
        "trusted": {"type": "boolean", "description": "First-party: skips consent."},
        "mfa_required": {"type": "boolean"},
        "enabled": {"type": "boolean", "description": "Update only."},
        "roles": {"type": "array", "items": {"type": "string"},
                  "description": "Roles the application defines."},
    },
}

CLIENT = {
    "type": "object",
    "properties": {**CLIENT_INPUT["properties"], "client_id": {"type": "string"},
                   "client_name": {"type": "string"},
                   "client_type": {"enum": ["web", "spa", "native", "service"]},
                   "token_endpoint_auth_method": {"type": "string"},
                   "response_types": {"type": "array", "items": {"type": "string"}},
                   "created_at": {"type": "string", "format": "date-time"}},
}

USER_INPUT = {
    "type": "object", "required": ["username", "full_name", "email"],
    "properties": {
        "username": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$",
                     "description": "Creation only (stored in lower case)."},
        "full_name": {"type": "string", "maxLength": 255},
        "email": {"type": "string", "format": "email", "maxLength": 255},
        "title": {"type": "string", "maxLength": 255}, "phone": {"type": "string", "maxLength": 255},
        "employee_number": {"type": "string", "maxLength": 255},
        "department": {**NULLABLE_STR, "description": "Department code."},
        "roles": {"type": "array", "items": {"type": "string"},
                  "description": "Update only: global roles and CLIENT_ID:ROLE."},
    },
}

USER = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"}, "sub": {"type": "string"}, "username": {"type": "string"},
        "email": {"type": "string"}, "full_name": {"type": "string"}, "title": {"type": "string"},
        "phone": {"type": "string"}, "employee_number": {"type": "string"},
        "department": NULLABLE_STR, "status": {"enum": ["active", "disabled"]},
        "locked": {"type": "boolean"}, "must_change_password": {"type": "boolean"},
        "roles": {"type": "array", "items": {"type": "string"}},
        "last_login_at": {"type": ["string", "null"], "format": "date-time"},
    },
}


DEPARTMENT = {
    "type": "object", "required": ["code", "name"],
    "properties": {"code": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"},
                   "name": {"type": "string", "maxLength": 255}, "parent": NULLABLE_STR,
                   "mfa_required": {"type": "boolean"},
                   "depth": {"type": "integer", "readOnly": True}},
}


def _page_of(item: str) -> dict:
    return {"type": "object", "properties": {
        "items": {"type": "array", "items": _ref(item)}, "total": {"type": "integer"},
        "page": {"type": "integer"}, "per_page": {"type": "integer"}, "pages": {"type": "integer"}}}


def _user_action(summary: str, extra: dict | None = None) -> dict:
    schema = {"allOf": [_ref("User"), {"type": "object", "properties": extra or {}}]}
    return {"post": _op(summary + "." + PRIVILEGED, "admin.staff",
                        {"200": _json(schema, "The staff member")}, 404,
                        params=[_path_param("username")])}


# Changing a client that holds admin.* scopes, or its secret, takes a full administrator.
PROTECTED = (" A client holding an admin.* scope can be changed only with a token carrying "
             "every admin scope (otherwise 403 insufficient_scope).")
# Likewise an account holding a global role, and giving or taking a global role.
PRIVILEGED = (" An account holding a global role (admin, client-admin, helpdesk, auditor) can be "
              "changed, and global roles given or taken, only with a token carrying every admin "
              "scope (otherwise 403 insufficient_scope).")


def _paths() -> dict:
    client_id = [_path_param("client_id")]
    username = [_path_param("username")]
    secret = {"type": "object", "properties": {"client_secret": {"type": "string"}}}
    return {
        "/clients": {
            "get": _op("List client applications", "admin.clients", {"200": _json(
                {"type": "object", "properties": {"items": {"type": "array", "items": _ref("Client")}}},
                "The clients")}),
            "post": _op("Register a client application", "admin.clients", {"201": _json(
                {"allOf": [_ref("Client"), secret]}, "Created; client_secret is shown only here")},
                409, 422, body=_ref("ClientInput")),
        },
        "/clients/{client_id}": {
            "get": _op("Read a client", "admin.clients", {"200": _json(_ref("Client"), "The client")},
                       404, params=client_id),
            "patch": _op("Change some fields (same validation as creation)." + PROTECTED, "admin.clients",
                         {"200": _json(_ref("Client"), "The client")}, 404, 422,
                         body=_ref("ClientInput"), params=client_id),
            "delete": _op("Delete a client and its grants." + PROTECTED, "admin.clients",
                          {"204": {"description": "Deleted"}}, 404, params=client_id),
        },
        "/clients/{client_id}/secret": {"post": _op(
            "Rotate the secret; the old one works for grace_seconds." + PROTECTED, "admin.clients",
            {"200": _json({"type": "object", "properties": {
                "client_id": {"type": "string"}, "client_secret": {"type": "string"},
                "grace_seconds": {"type": "integer"}}}, "The new secret (shown once)")},
            400, 404, 422, params=client_id, body={"type": "object", "properties": {
                "grace_seconds": {"type": "integer", "minimum": 0, "maximum": 2592000}}})},
        "/registration-tokens": {"post": _op(
            "Issue an initial access token for dynamic registration (RFC 7591 §3)", "admin.clients",
            {"201": _json({"type": "object", "properties": {
                "id": {"type": "integer"}, "token": {"type": "string"},
                "description": {"type": "string"},
                "expires_at": {"type": "string", "format": "date-time"}}}, "The token (shown once)")},
            422, body={"type": "object", "properties": {
                "description": {"type": "string"},
                "ttl_seconds": {"type": "integer", "minimum": 60, "maximum": 2592000}}})},
        "/users": {
            "get": _op("Search staff (username, name, email, employee number)", "admin.staff",
                       {"200": _json(_page_of("User"), "One page")}, 422, params=[
                           _query("q", {"type": "string"}, "Search text"),
                           _query("page", {"type": "integer", "minimum": 1, "maximum": 1000000}, "Page number"),
                           _query("per_page", {"type": "integer", "minimum": 1, "maximum": 500},
                                  "Page size")]),
            "post": _op("Create a staff member with a temporary password", "admin.staff",
                        {"201": _json({"allOf": [_ref("User"), {"type": "object", "properties": {
                            "temporary_password": {"type": "string"}}}]}, "Created")},
                        409, 422, body=_ref("UserInput")),
        },
        "/users/{username}": {
            "get": _op("Read a staff member", "admin.staff", {"200": _json(_ref("User"), "The staff member")},
                       404, params=username),
            "patch": _op("Change profile, department or roles." + PRIVILEGED, "admin.staff",
                         {"200": _json(_ref("User"), "The staff member")}, 403, 404, 422,
                         body=_ref("UserInput"), params=username),
        },
        "/users/{username}/disable": _user_action("Disable the account and end its sessions"),
        "/users/{username}/enable": _user_action("Enable the account"),
        "/users/{username}/unlock": _user_action("Lift a sign-in lock"),
        "/users/{username}/reset-mfa": _user_action("Remove the second factor and recovery codes"),
        "/users/{username}/reset-password": _user_action(
            "Set a temporary password (shown once)", {"temporary_password": {"type": "string"}}),
        "/users/{username}/end-sessions": _user_action(
            "End every SSO session", {"sessions_ended": {"type": "integer"}}),
        "/departments": {
            "get": _op("The department tree, parents first", "admin.staff", {"200": _json(
                {"type": "object", "properties": {"items": {"type": "array", "items": _ref("Department")}}},
                "Departments")}),
            "post": _op("Create a department", "admin.staff",
                        {"201": _json(_ref("Department"), "Created")}, 422, body=_ref("Department")),
        },
        "/audit": {"get": _op("Read audit events, newest first", "admin.audit",
                              {"200": _json(_page_of("AuditEvent"), "One page")}, 422, params=[
                                  _query("since", {"type": "string", "format": "date"}, "From"),
                                  _query("until", {"type": "string", "format": "date"}, "Until (inclusive)"),
                                  _query("actor", {"type": "string"}, "Actor"),
                                  _query("subject", {"type": "string"}, "Staff member"),
                                  _query("client", {"type": "string"}, "client_id"),
                                  _query("event_type", {"type": "string"}, "Type, or a prefix ending in '.'"),
                                  _query("page", {"type": "integer", "minimum": 1, "maximum": 1000000}, "Page"),
                                  _query("per_page", {"type": "integer", "minimum": 1, "maximum": 1000}, "Page size")])},
    }


def _error_response(description: str) -> dict:
    return _json(_ref("Error"), description)


def document() -> dict:
    issuer = current_app.config["ISSUER"]
    return {
        "openapi": "3.1.0",
        "info": {"title": "IDP admin API", "version": "1",
                 "description": "Manage client applications and staff. Authorise with a bearer "
                                "access token from the client_credentials grant carrying the "
                                "admin.clients, admin.staff or admin.audit scope."},
        "servers": [{"url": f"{issuer}/api/admin"}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {"bearer": {"type": "oauth2", "flows": {"clientCredentials": {
                "tokenUrl": external_url("oidc_token.token"),
                "scopes": {"admin.clients": "Client applications and registration tokens",
                           "admin.staff": "Staff and departments",
                           "admin.audit": "Read the audit log"}}}}},
            "schemas": {
                "ClientInput": CLIENT_INPUT, "Client": CLIENT, "UserInput": USER_INPUT, "User": USER,
                "Department": DEPARTMENT,
                "AuditEvent": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "created_at": {"type": "string", "format": "date-time"},
                    "event_type": {"type": "string"}, "outcome": {"type": "string"},
                    "actor": NULLABLE_STR, "subject": NULLABLE_STR, "client": NULLABLE_STR,
                    "ip": NULLABLE_STR, "details": {"type": "object"}}},
                "Error": {"type": "object", "required": ["error", "error_description"], "properties": {
                    "error": {"type": "string", "examples": ["invalid_token", "insufficient_scope",
                                                             "not_found", "conflict", "invalid_input"]},
                    "error_description": {"type": "string",
                                          "description": "A sentence for the person reading it."},
                    "fields": {"type": "object", "additionalProperties": {"type": "string"},
                               "description": "Field name → message (422 only)."}}},
            },
            "responses": {f"E{s}": _error_response(d) for s, d in (
                (400, "Malformed request"), (401, "Missing, expired or revoked access token"),
                (403, "Insufficient scope or not allowed"), (404, "Not found"),
                (409, "Conflict"), (422, "Invalid fields"))},
        },
    }


@api.get("/openapi.json")
def openapi_json():
    return jsonify(document())
