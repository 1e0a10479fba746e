"""``idp serve``: the provider under gunicorn."""

from __future__ import annotations

import os
import sys

import click

from ..config import ConfigError
from .base import main


# No app context: the app would be built (and development keys generated) before the
# production settings below are checked.
@main.command("serve", with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", type=click.IntRange(1, 64),
              help="Worker processes (default: 2 × cores + 1, at most 8).")
@click.option("--dev", is_flag=True, help="Development mode (generated keys, SQLite).")
def serve(host: str, port: int, workers: int | None, dev: bool) -> None:
    """Run the provider under gunicorn (production mode unless --dev)."""
    from .. import config as settings

    env = dict(os.environ)
    env.setdefault("IDP_ENV", "development" if dev else "production")
    try:
        settings.load(env, None)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    count = workers or min(2 * (os.cpu_count() or 1) + 1, 8)
    _reset_metrics_dir(env.get("PROMETHEUS_MULTIPROC_DIR"))
    # Forwarded headers are trusted by the app (IDP_TRUSTED_PROXIES, ProxyFix) only:
    # gunicorn's own default would trust X-Forwarded-Proto from any loopback peer.
    argv = [sys.executable, "-m", "gunicorn", "--workers", str(count), "--bind",
            f"{host}:{port}", "--forwarded-allow-ips", "", "--timeout", "30",
            "--graceful-timeout", "20", *_no_control_socket(), "idp.wsgi:app"]
    os.execvpe(argv[0], argv, env)


def _no_control_socket() -> list[str]:
    """gunicorn 25.1+ opens a control socket at one path per user ($XDG_RUNTIME_DIR or
    ~/.gunicorn/gunicorn.ctl): several nodes on one host would take it from each other,
    and `gunicornc` could reach the wrong one. systemd's signals manage `idp serve`."""
    import gunicorn

    return ["--no-control-socket"] if gunicorn.version_info >= (25, 1) else []


def _reset_metrics_dir(path: str | None) -> None:
    """Empty PROMETHEUS_MULTIPROC_DIR: the counters of a previous run must not add up."""
    if not path:
        return
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.unlink(os.path.join(path, name))
