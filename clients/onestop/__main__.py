"""python -m clients.onestop --host 127.0.0.4 --port 5003"""
from ..demo_kit import run
from . import create_app

run(create_app, "127.0.0.4", 5003)
