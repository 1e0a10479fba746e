"""WSGI entry point for gunicorn: ``gunicorn idp.wsgi:app``."""

from . import create_app

app = create_app()
