"""Console pages for client applications: list, register, edit, secrets, enable, delete."""

from __future__ import annotations

from flask import current_app, flash, redirect, request, url_for
from flask_babel import gettext as _

from ..extensions import db
from ..services import admin_clients, admin_departments, clients
from ..services.admin_fields import FieldErrors
from . import access, bp, snippets
from .access import CLIENTS, require_roles
from .helpers import form_dict, render

LIST_FIELDS = ("grant_types",)


def _form(template: str, values: dict, errors: dict | None = None, status: int = 200, **extra):
    return render(template, status=status, values=values, errors=errors or {},
                  departments=admin_departments.tree(), grant_choices=clients.GRANT_TYPES,
                  algs=admin_clients.ID_TOKEN_ALGS, **extra)


@bp.get("/clients", endpoint="clients")
@require_roles(*CLIENTS)
def clients_list():
    return render("admin/clients/list.html", clients=admin_clients.list_clients())


@bp.route("/clients/new", methods=["GET", "POST"])
@require_roles(*CLIENTS)
def client_new():
    if request.method == "GET":
        return _form("admin/clients/form.html", {"client_type": "web", "scope": clients.DEFAULT_SCOPE,
                                                 "grant_types": ["authorization_code", "refresh_token"]})
    data = form_dict(*LIST_FIELDS)
    try:
        client, secret = admin_clients.create(
            data, access.actor(), client_id=(data.get("client_id") or "").strip() or None)
    except FieldErrors as error:
        db.session.rollback()
        return _form("admin/clients/form.html", data, error.errors, status=422)
    return render("admin/clients/secret.html", status=201, client=client, secret=secret, created=True)


def _client(client_id: str):
    return clients.get_client(client_id)


@bp.errorhandler(admin_clients.ProtectedClient)
def _protected(error: admin_clients.ProtectedClient):
    # The refusal as a console page (navigation kept), not the bare error page.
    db.session.rollback()
    return render("admin/clients/refused.html", status=403, description=str(error.description),
                  client_id=(request.view_args or {}).get("client_id"))


@bp.get("/clients/<client_id>")
@require_roles(*CLIENTS)
def client_show(client_id: str):
    client = _client(client_id)
    issuer = current_app.config["ISSUER"]
    # Why the actions are hidden from a client-admin (the service refuses them all the same).
    locked = (str(admin_clients.ProtectedClient.description)
              if admin_clients.holds_admin_scope(client) and not access.has_role("admin") else None)
    return render("admin/clients/show.html", client=client, info=admin_clients.as_dict(client),
                  issuer=issuer, snippets=snippets.all_snippets(client, issuer), locked=locked)


@bp.route("/clients/<client_id>/edit", methods=["GET", "POST"])
@require_roles(*CLIENTS)
def client_edit(client_id: str):
    client = _client(client_id)
    if request.method == "GET":
        admin_clients.guard(client, access.actor(), "edit_form")
        return _form("admin/clients/form.html", admin_clients.as_dict(client), client=client)
    data = form_dict(*LIST_FIELDS)
    try:
        admin_clients.update(client, data, access.actor())
    except FieldErrors as error:
        db.session.rollback()
        return _form("admin/clients/form.html", data, error.errors, status=422,
                     client=_client(client_id))
    flash(_("The application was saved."), "success")
    return redirect(url_for("admin.client_show", client_id=client.client_id))


@bp.post("/clients/<client_id>/rotate")
@require_roles(*CLIENTS)
def client_rotate(client_id: str):
    client = _client(client_id)
    try:
        hours = int(request.form.get("grace_hours") or 0)
        secret = admin_clients.rotate_secret(client, hours * 3600, access.actor())
    except (ValueError, FieldErrors):
        db.session.rollback()
        flash(_("The grace period must be between 0 and 720 hours."), "error")
        return redirect(url_for("admin.client_show", client_id=client_id))
    return render("admin/clients/secret.html", client=client, secret=secret, created=False,
                  grace_hours=hours)


@bp.post("/clients/<client_id>/enabled")
@require_roles(*CLIENTS)
def client_enabled(client_id: str):
    client = _client(client_id)
    enable = request.form.get("enabled") == "1"
    admin_clients.set_enabled(client, enable, access.actor())
    flash(_("The application is enabled.") if enable else _("The application is disabled."), "success")
    return redirect(url_for("admin.client_show", client_id=client_id))


@bp.route("/clients/<client_id>/delete", methods=["GET", "POST"])
@require_roles(*CLIENTS)
def client_delete(client_id: str):
    client = _client(client_id)
    if request.method == "GET":
        admin_clients.guard(client, access.actor(), "delete_form")
    if request.method == "POST":
        if request.form.get("confirm", "").strip() == client.client_id:
            admin_clients.delete_client(client, access.actor())
            flash(_("The application %(id)s was deleted.", id=client_id), "success")
            return redirect(url_for("admin.clients"))
        return render("admin/clients/delete.html", status=422, client=client,
                      error=_("Type the client id exactly to confirm."))
    return render("admin/clients/delete.html", client=client, error=None)
