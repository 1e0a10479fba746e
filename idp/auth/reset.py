"""Forgotten password: ask for a link by e-mail, then choose a new password (ASVS 2.5)."""

from __future__ import annotations

from flask import Response, current_app, request, url_for
from flask_babel import gettext as _

from ..errors import InvalidInput
from ..services import password_reset
from . import bp, flow
from .views import _page


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot() -> Response:
    if request.method == "GET":
        return _page("auth/forgot.html")
    email = request.form.get("email", "").strip()[:255]
    if not email:
        return _page("auth/forgot.html", 400, _("Enter your email address."))
    ui = flow.locale_args()

    def link_for(token: str) -> str:
        # From the configured issuer, never the Host header (reset-link poisoning).
        return current_app.config["ISSUER"] + url_for("auth.reset", token=token, **ui)

    password_reset.request_reset(email, link_for, ip=flow.client_ip())
    # The same page whether or not the address belongs to anyone (no account enumeration).
    return _page("auth/forgot_sent.html", email=email)


@bp.route("/password/reset", methods=["GET", "POST"])
def reset() -> Response:
    token = request.values.get("token", "")
    if password_reset.check_token(token) is None:
        return _page("auth/reset_invalid.html", 400)
    if request.method == "GET":
        return _page("auth/reset.html", token=token)
    new = request.form.get("new_password", "")
    try:
        if new != request.form.get("confirm_password", ""):
            raise InvalidInput(_("The two new passwords are not the same."))
        password_reset.reset_password(token, new, ip=flow.client_ip())
    except InvalidInput as exc:
        return _page("auth/reset.html", 400, exc, token=token)
    response = _page("auth/reset_done.html", login_url=url_for("auth.login", **flow.locale_args()))
    # Every session ended; this browser's cookie goes too.
    return flow.sign_out_here(response)
