"""Admin API: client applications, initial access tokens and departments."""

from __future__ import annotations

from flask import jsonify, url_for

from ..responses import no_store
from ..services import admin_clients, admin_departments, clients, registration
from ..services.admin_fields import FieldErrors
from . import api, api_schema, openapi
from .api_auth import actor, body, created, require_scope


@api.get("/clients")
@require_scope("admin.clients")
def list_clients():
    return jsonify(items=[admin_clients.as_dict(c) for c in admin_clients.list_clients()])


@api.post("/clients")
@require_scope("admin.clients")
def create_client():
    data = body()
    api_schema.check(data, openapi.CLIENT_INPUT)
    client, secret = admin_clients.create(data, actor(), client_id=data.get("client_id") or None)
    result = admin_clients.as_dict(client)
    if secret:
        result["client_secret"] = secret  # shown once
    return created(result, url_for("admin_api.get_client", client_id=client.client_id),
                   secret=True)


@api.get("/clients/<client_id>")
@require_scope("admin.clients")
def get_client(client_id: str):
    return jsonify(admin_clients.as_dict(clients.get_client(client_id)))


@api.patch("/clients/<client_id>")
@require_scope("admin.clients")
def update_client(client_id: str):
    client = clients.get_client(client_id)
    merged = admin_clients.as_dict(client)
    changes = body()
    api_schema.check(changes, openapi.CLIENT_INPUT, partial=True)
    merged.update(changes)
    admin_clients.update(client, merged, actor())
    if "enabled" in merged and bool(merged["enabled"]) != client.enabled:
        admin_clients.set_enabled(client, bool(merged["enabled"]), actor())
    return jsonify(admin_clients.as_dict(client))


@api.delete("/clients/<client_id>")
@require_scope("admin.clients")
def delete_client(client_id: str):
    admin_clients.delete_client(clients.get_client(client_id), actor())
    return "", 204


@api.post("/clients/<client_id>/secret")
@require_scope("admin.clients")
def rotate_secret(client_id: str):
    client = clients.get_client(client_id)
    data = body()
    grace = data.get("grace_seconds", 0)
    if not isinstance(grace, int) or isinstance(grace, bool):
        raise FieldErrors({"grace_seconds": "Expected a whole number of seconds."})
    secret = admin_clients.rotate_secret(client, grace, actor())
    return no_store(jsonify(client_id=client.client_id, client_secret=secret, grace_seconds=grace))


@api.post("/registration-tokens")
@require_scope("admin.clients")
def issue_registration_token():
    data = body()
    ttl = data.get("ttl_seconds", 86_400)
    if not isinstance(ttl, int) or isinstance(ttl, bool):
        raise FieldErrors({"ttl_seconds": "Expected a whole number of seconds."})
    row, token = registration.issue_initial_token(str(data.get("description") or ""), ttl, actor())
    return created({"id": row.id, "token": token, "description": row.description,
                    "expires_at": row.expires_at.isoformat()}, secret=True)


@api.get("/departments")
@require_scope("admin.staff")
def list_departments():
    return jsonify(items=[dict(admin_departments.as_dict(unit), depth=depth)
                          for unit, depth in admin_departments.tree()])


@api.post("/departments")
@require_scope("admin.staff")
def create_department():
    data = body()
    api_schema.check(data, openapi.DEPARTMENT)
    unit = admin_departments.create(data, actor())
    return created(admin_departments.as_dict(unit))
