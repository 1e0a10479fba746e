"""The ``idp`` group and the decorator its subcommands use (the topics import this)."""

from __future__ import annotations

import functools
import sys

import click
from flask.cli import FlaskGroup, with_appcontext

from .. import create_app
from ..config import ConfigError
from ..errors import DomainError
from ..services.admin_audit import Actor

# Who the audit log names for an ``idp`` command: the operator at the console of the
# server, who may do what a full administrator may.
CLI = Actor(name="cli", full_admin=True)


def _create_app(*_args):
    try:
        return create_app()
    except ConfigError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)


def unit_of_work(func):
    """The command's transaction boundary: one commit when it succeeds; on a domain error
    everything is rolled back and reported in one line (exit status 1)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from ..services import database

        try:
            with database.unit_of_work():
                return func(*args, **kwargs)
        except DomainError as exc:
            raise click.ClickException(str(exc.description)) from None

    return wrapper


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False,
             add_version_option=False, load_dotenv=False, set_debug_flag=False)
def main() -> None:
    """Single sign-on identity provider (OpenID Connect)."""


def command(group, name: str | None = None, **kwargs):
    """A subcommand that runs in an app context, in one unit of work, and reports domain
    errors cleanly."""

    def decorate(func):
        return group.command(name, **kwargs)(with_appcontext(unit_of_work(func)))

    return decorate
