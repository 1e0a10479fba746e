"""Admin API: staff accounts and the audit log."""

from __future__ import annotations

from flask import jsonify, request, url_for

from ..responses import no_store
from ..services import admin_audit, admin_users
from ..services.admin_fields import FieldErrors
from . import api, api_schema, openapi
from .api_auth import actor, body, created, require_scope


def _int_arg(name: str, default: int, high: int) -> int:
    try:
        value = int(request.args.get(name, default))
    except ValueError:
        raise FieldErrors({name: "Expected a whole number."}) from None
    if not 1 <= value <= high:
        raise FieldErrors({name: f"Between 1 and {high}."})
    return value


@api.get("/users")
@require_scope("admin.staff")
def list_users():
    page = admin_users.search(request.args.get("q", ""), _int_arg("page", 1, 10**6),
                              _int_arg("per_page", 50, 500))
    return jsonify(items=[admin_users.as_dict(u) for u in page.items], total=page.total,
                   page=page.page, per_page=page.per_page, pages=page.pages)


@api.post("/users")
@require_scope("admin.staff")
def create_user():
    data = body()
    api_schema.check(data, openapi.USER_INPUT)
    user, temporary = admin_users.create(data, actor())
    result = admin_users.as_dict(user)
    result["temporary_password"] = temporary  # shown once
    return created(result, url_for("admin_api.get_user", username=user.username), secret=True)


@api.get("/users/<username>")
@require_scope("admin.staff")
def get_user(username: str):
    return jsonify(admin_users.as_dict(admin_users.by_username(username)))


@api.patch("/users/<username>")
@require_scope("admin.staff")
def update_user(username: str):
    user = admin_users.by_username(username)
    merged = admin_users.as_dict(user)
    changes = body()
    api_schema.check(changes, openapi.USER_INPUT, partial=True)
    merged.update(changes)
    roles = None
    if "roles" in merged and merged["roles"] != admin_users.as_dict(user)["roles"]:
        names = merged["roles"] if isinstance(merged["roles"], list) else []
        global_names = [n for n in names if ":" not in n]
        # Refuse a role change before the profile is touched: a refused PATCH changes nothing.
        roles = (global_names, _client_role_ids(names))
        admin_users.check_roles(user, global_names, actor())
    admin_users.update(user, merged, actor())
    if roles is not None:
        admin_users.set_roles(user, *roles, actor())
    return jsonify(admin_users.as_dict(user))


def _client_role_ids(names: list[str]) -> list[int]:
    from ..services import clients

    ids = []
    for name in (n for n in names if ":" in n):
        client_id, role = name.split(":", 1)
        found = next((r for r in clients.get_client(client_id).roles if r.name == role), None)
        if found is None:
            raise FieldErrors({"roles": f"{client_id} defines no role {role}."})
        ids.append(found.id)
    return ids


def _action(username: str, run) -> dict:
    user = admin_users.by_username(username)
    extra = run(user) or {}
    return jsonify(dict(admin_users.as_dict(user), **extra))


@api.post("/users/<username>/disable")
@require_scope("admin.staff")
def disable_user(username: str):
    def disable(user) -> None:
        admin_users.disable(user, actor())  # the answer is the account, not the count

    return _action(username, disable)


@api.post("/users/<username>/enable")
@require_scope("admin.staff")
def enable_user(username: str):
    return _action(username, lambda u: admin_users.enable(u, actor()))


@api.post("/users/<username>/unlock")
@require_scope("admin.staff")
def unlock_user(username: str):
    return _action(username, lambda u: admin_users.unlock(u, actor()))


@api.post("/users/<username>/reset-mfa")
@require_scope("admin.staff")
def reset_mfa(username: str):
    return _action(username, lambda u: admin_users.reset_mfa(u, actor()))


@api.post("/users/<username>/reset-password")
@require_scope("admin.staff")
def reset_password(username: str):
    return no_store(_action(username, lambda u: {
        "temporary_password": admin_users.reset_password(u, actor())}))


@api.post("/users/<username>/end-sessions")
@require_scope("admin.staff")
def end_sessions(username: str):
    return _action(username, lambda u: {"sessions_ended": admin_users.end_sessions(u, actor())})


@api.get("/audit")
@require_scope("admin.audit")
def audit_events():
    from .views_audit import _filters

    page = admin_audit.search_events(_filters(), _int_arg("page", 1, 10**6),
                                     _int_arg("per_page", 100, 1000))
    return jsonify(items=[admin_audit.as_dict(e) for e in page.items], total=page.total,
                   page=page.page, per_page=page.per_page, pages=page.pages)
