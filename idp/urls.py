"""The provider's own absolute URLs, built by the router from the configured issuer.

An endpoint's address is ``url_for``'s answer under IDP_ISSUER (its scheme, host and any
path prefix), never the request's host: discovery, client assertions' audience and
registration answers must name the same URLs whichever node or proxy served the request
(OIDC Discovery 1.0 §3: every endpoint URL is under the issuer).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app


def external_url(endpoint: str, **values: Any) -> str:
    """``url_for(endpoint, _external=True, **values)`` with the issuer as the base URL."""
    issuer = urlsplit(current_app.config["ISSUER"])
    adapter = current_app.url_map.bind(
        issuer.netloc, script_name=issuer.path.rstrip("/") or "/", url_scheme=issuer.scheme)
    return adapter.build(endpoint, values, force_external=True)
