"""Small helpers shared by the console's views."""

from __future__ import annotations

from typing import Any

from flask import Response, make_response, render_template, request

from ..responses import no_store
from . import access


def render(template: str, status: int = 200, **context: Any) -> Response:
    """A console page; never cached, since pages may show secrets once."""
    return no_store(make_response(render_template(
        template, nav=access.sections(), has_role=access.has_role, **context), status))


def page_arg() -> int:
    try:
        return max(1, int(request.args.get("page", "1")))
    except ValueError:
        return 1


def form_dict(*lists: str) -> dict[str, Any]:
    """The posted form as a dict; the named fields keep every value (checkboxes)."""
    data: dict[str, Any] = request.form.to_dict()
    for name in lists:
        data[name] = request.form.getlist(name)
    return data


def page_url(page: int) -> str:
    """This page's URL with another ``page`` number (the other filters kept)."""
    from urllib.parse import urlencode

    args = request.args.to_dict(flat=False)
    args["page"] = [str(page)]
    return f"{request.path}?{urlencode(args, doseq=True)}"
