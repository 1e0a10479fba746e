"""Console pages for staff: search, create, edit, support actions, roles, CSV import."""

from __future__ import annotations

from flask import Response, flash, redirect, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from ..errors import Forbidden
from ..extensions import db
from ..responses import no_store
from ..models import GLOBAL_ROLES, SsoSession, utcnow
from ..services import admin_departments, admin_users, csv_import
from ..services.admin_fields import FieldErrors
from . import access, bp
from .access import STAFF_READ, STAFF_SUPPORT, STAFF_WRITE, require_roles
from .helpers import form_dict, page_arg, page_url, render

PER_PAGE = 50


@bp.get("/staff", endpoint="staff")
@require_roles(*STAFF_READ)
def staff_list():
    q = request.args.get("q", "")
    result = admin_users.search(q, page_arg(), PER_PAGE)
    return render("admin/staff/list.html", result=result, q=q, page_url=page_url, now=utcnow())


def _form(values: dict, errors: dict | None = None, status: int = 200, user=None):
    return render("admin/staff/form.html", status=status, values=values, errors=errors or {},
                  departments=admin_departments.tree(), user=user)


@bp.route("/staff/new", methods=["GET", "POST"])
@require_roles(*STAFF_WRITE)
def staff_new():
    if request.method == "GET":
        return _form({})
    data = form_dict()
    try:
        user, temporary = admin_users.create(data, access.actor())
    except FieldErrors as error:
        db.session.rollback()
        return _form(data, error.errors, status=422)
    return render("admin/staff/password.html", status=201, user=user, password=temporary)


@bp.get("/staff/<int:user_id>")
@require_roles(*STAFF_READ)
def staff_show(user_id: int):
    user = admin_users.get(user_id)
    live = db.session.execute(select(func.count(SsoSession.id)).where(
        SsoSession.user_id == user.id, SsoSession.ended_at.is_(None),
        SsoSession.expires_at > utcnow())).scalar_one()
    return render("admin/staff/show.html", user=user, info=admin_users.as_dict(user),
                  has_mfa=admin_users.has_mfa(user), live_sessions=live,
                  global_roles=GLOBAL_ROLES, client_roles=admin_users.client_roles(),
                  may_support=_may_support(user))


@bp.route("/staff/<int:user_id>/edit", methods=["GET", "POST"])
@require_roles(*STAFF_WRITE)
def staff_edit(user_id: int):
    user = admin_users.get(user_id)
    if request.method == "GET":
        return _form(admin_users.as_dict(user), user=user)
    data = form_dict()
    try:
        admin_users.update(user, data, access.actor())
    except FieldErrors as error:
        db.session.rollback()
        return _form(data, error.errors, status=422, user=admin_users.get(user_id))
    flash(_("The staff member was saved."), "success")
    return redirect(url_for("admin.staff_show", user_id=user_id))


@bp.post("/staff/<int:user_id>/enabled")
@require_roles(*STAFF_WRITE)
def staff_enabled(user_id: int):
    user = admin_users.get(user_id)
    enable = request.form.get("enabled") == "1"
    (admin_users.enable if enable else admin_users.disable)(user, access.actor())
    flash(_("The account is enabled.") if enable else _("The account is disabled."), "success")
    return redirect(url_for("admin.staff_show", user_id=user_id))


def _may_support(user) -> bool:
    """Helpdesk may not take over a privileged account: only an admin resets an admin."""
    return access.has_role("admin") or not user.global_roles()


def _support_target(user_id: int):
    user = admin_users.get(user_id)
    if not _may_support(user):
        raise Forbidden(_("Only an administrator may do this to an account with an admin role."))
    return user


@bp.post("/staff/<int:user_id>/unlock")
@require_roles(*STAFF_SUPPORT)
def staff_unlock(user_id: int):
    admin_users.unlock(_support_target(user_id), access.actor())
    flash(_("The account is unlocked."), "success")
    return redirect(url_for("admin.staff_show", user_id=user_id))


@bp.post("/staff/<int:user_id>/reset-password")
@require_roles(*STAFF_SUPPORT)
def staff_reset_password(user_id: int):
    user = _support_target(user_id)
    temporary = admin_users.reset_password(user, access.actor())
    return render("admin/staff/password.html", user=user, password=temporary)


@bp.post("/staff/<int:user_id>/reset-mfa")
@require_roles(*STAFF_SUPPORT)
def staff_reset_mfa(user_id: int):
    admin_users.reset_mfa(_support_target(user_id), access.actor())
    flash(_("The second factor was removed; the staff member sets it up again at next sign-in."),
          "success")
    return redirect(url_for("admin.staff_show", user_id=user_id))


@bp.post("/staff/<int:user_id>/end-sessions")
@require_roles(*STAFF_SUPPORT)
def staff_end_sessions(user_id: int):
    count = admin_users.end_sessions(_support_target(user_id), access.actor())
    flash(_("%(n)d sessions were ended.", n=count), "success")
    return redirect(url_for("admin.staff_show", user_id=user_id))


@bp.post("/staff/<int:user_id>/roles")
@require_roles(*STAFF_WRITE)
def staff_roles(user_id: int):
    user = admin_users.get(user_id)
    try:
        ids = [int(v) for v in request.form.getlist("client_roles")]
        admin_users.set_roles(user, request.form.getlist("roles"), ids, access.actor())
    except (ValueError, FieldErrors):
        db.session.rollback()
        flash(_("Unknown role."), "error")
    else:
        flash(_("The roles were saved."), "success")
    return redirect(url_for("admin.staff_show", user_id=user_id))


@bp.route("/staff/import", methods=["GET", "POST"])
@require_roles(*STAFF_WRITE)
def staff_import():
    if request.method == "GET":
        return render("admin/staff/import.html", parsed=None)
    upload = request.files.get("file")
    content = upload.read() if upload else b""
    if request.form.get("action") != "import":
        return render("admin/staff/import.html", parsed=csv_import.parse(content), dry_run=True)
    parsed, created = csv_import.import_staff(content, access.actor())
    if not created:
        return render("admin/staff/import.html", status=422, parsed=parsed, dry_run=False)
    if request.form.get("output") == "csv":
        return no_store(Response(csv_import.passwords_csv(created), mimetype="text/csv", headers={
            "Content-Disposition": "attachment; filename=temporary-passwords.csv"}))
    return render("admin/staff/imported.html", created=created)
