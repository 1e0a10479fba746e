"""Helpers shared by the test suite, imported like any package
(``from tests.support.flow import Flow``). Conftest files hold fixtures only; every helper
lives here once (tests/foundation/test_suite_imports.py keeps it so)."""
