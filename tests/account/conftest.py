"""The account tests use the sign-in tests' browser, phone and mailbox fixtures."""

from tests.auth.conftest import Browser, Phone, browser, code_at, csrf_token, phone, text  # noqa: F401
