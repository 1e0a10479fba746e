"""python -m clients.webmail --host 127.0.0.3 --port 5002"""
from ..demo_kit import run
from . import create_app

run(create_app, "127.0.0.3", 5002)
