"""python -m clients.docs_app --host 127.0.0.2 --port 5001"""
from ..demo_kit import run
from . import create_app

run(create_app, "127.0.0.2", 5001)
