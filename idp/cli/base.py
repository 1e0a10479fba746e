"""The ``idp`` group and the decorator its subcommands use (the topics import this)."""

from __future__ import annotations

import functools
import sys

import click
from flask.cli import FlaskGroup, with_appcontext

from .. import create_app
from ..config import ConfigError
from ..errors import DomainError


def _create_app(*_args):
    try:
        return create_app()
    except ConfigError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)


def domain_errors(func):
    """Turn the provider's own errors into a one-line message and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except DomainError as exc:
            from ..extensions import db

            db.session.rollback()
            raise click.ClickException(str(exc.description)) from None

    return wrapper


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False,
             add_version_option=False, load_dotenv=False, set_debug_flag=False)
def main() -> None:
    """Single sign-on identity provider (OpenID Connect)."""


def command(group, name: str | None = None, **kwargs):
    """A subcommand that runs in an app context and reports domain errors cleanly."""

    def decorate(func):
        return group.command(name, **kwargs)(with_appcontext(domain_errors(func)))

    return decorate
