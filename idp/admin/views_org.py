"""Console pages: the landing redirect, departments, and initial access tokens (RFC 7591)."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _

from ..errors import Forbidden
from ..extensions import db
from ..services import admin_departments, registration
from ..services.admin_fields import FieldErrors
from ..urls import external_url
from . import access, bp
from .access import CLIENTS, DEPARTMENTS_READ, DEPARTMENTS_WRITE, require_roles
from .helpers import form_dict, render

ALL_ROLES = ("admin", "client-admin", "helpdesk", "auditor")


@bp.get("/")
@require_roles(*ALL_ROLES)
def index():
    sections = access.sections()
    if not sections:
        raise Forbidden()
    return redirect(url_for(sections[0][0]))


@bp.route("/departments", methods=["GET", "POST"], endpoint="departments")
@require_roles(*DEPARTMENTS_READ)
def departments():
    values, errors, status = {}, {}, 200
    if request.method == "POST":
        if not access.has_role(*DEPARTMENTS_WRITE):
            raise Forbidden()
        values = form_dict()
        try:
            unit = admin_departments.create(values, access.actor())
            flash(_("The unit %(name)s was created.", name=unit.name), "success")
            return redirect(url_for("admin.departments"))
        except FieldErrors as error:
            db.session.rollback()
            errors, status = error.errors, 422
    return render("admin/departments/list.html", status=status, tree=admin_departments.tree(),
                  values=values, errors=errors)


@bp.route("/departments/<code>", methods=["GET", "POST"])
@require_roles(*DEPARTMENTS_WRITE)
def department_edit(code: str):
    unit = admin_departments.get(code)
    values = admin_departments.as_dict(unit)
    errors, status = {}, 200
    if request.method == "POST":
        values = form_dict()
        try:
            admin_departments.update(unit, values, access.actor())
            flash(_("The unit was saved."), "success")
            return redirect(url_for("admin.departments"))
        except FieldErrors as error:
            db.session.rollback()
            unit = admin_departments.get(code)
            errors, status = error.errors, 422
    return render("admin/departments/form.html", status=status, unit=unit, values=values,
                  errors=errors, tree=admin_departments.tree())


@bp.route("/registration-tokens", methods=["GET", "POST"], endpoint="tokens")
@require_roles(*CLIENTS)
def tokens():
    values, errors, status, issued = {}, {}, 200, None
    if request.method == "POST":
        values = form_dict()
        try:
            hours = int(values.get("ttl_hours") or 24)
        except ValueError:
            hours = 0
        try:
            row, issued = registration.issue_initial_token(
                values.get("description", ""), hours * 3600, access.actor(), access.admin())
            status = 201
        except FieldErrors as error:
            db.session.rollback()
            errors, status = {"ttl_hours" if k == "ttl" else k: v for k, v in error.errors.items()}, 422
    return render("admin/tokens.html", status=status, tokens=registration.list_initial_tokens(),
                  values=values, errors=errors, issued=issued,
                  register_url=external_url("registration.register"))


@bp.post("/registration-tokens/<int:token_id>/revoke")
@require_roles(*CLIENTS)
def token_revoke(token_id: int):
    registration.revoke_initial_token(token_id, access.actor())
    flash(_("The token was revoked."), "success")
    return redirect(url_for("admin.tokens"))
