"""The test suite keeps its helpers in one place: tests/support, imported like any package.

Conftest modules hold fixtures for their directory and are never imported (pytest loads
them; importing one runs it a second time under another name). A helper of tests/support
is not written again elsewhere: a copy drifts (four ``csrf_token`` did).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
SUPPORT = TESTS / "support"


def _modules() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if "node_modules" not in p.parts)


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imported_modules(tree: ast.Module) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def _conftest_imports(tree: ast.Module) -> list[tuple[int, str]]:
    return [(line, name) for line, name in _imported_modules(tree)
            if name == "conftest" or name.endswith(".conftest") or ".conftest." in name
            or name.startswith("conftest.")]


def _top_level_names(tree: ast.Module) -> set[str]:
    return {node.name for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


def _support_helpers() -> dict[str, str]:
    """Public functions and classes of tests/support (fixtures excluded): name -> module."""
    helpers = {}
    for path in sorted(SUPPORT.glob("*.py")):
        tree = _tree(path)
        fixtures = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)
                    and any("fixture" in ast.unparse(d) for d in node.decorator_list)}
        for name in _top_level_names(tree) - fixtures:
            if not name.startswith("_"):
                helpers[name] = path.stem
    return helpers


def _copies(path: Path, helpers: dict[str, str]) -> list[str]:
    return [f"{path.relative_to(TESTS.parent)} defines {name} again (use tests.support.{helpers[name]})"
            for name in sorted(_top_level_names(_tree(path)) & set(helpers))]


def test_no_module_imports_a_conftest():
    problems = [f"{path.relative_to(TESTS.parent)}:{line} imports {name}"
                for path in _modules() for line, name in _conftest_imports(_tree(path))]
    assert problems == [], "helpers belong in tests/support:\n" + "\n".join(problems)


def test_no_module_defines_a_second_copy_of_a_support_helper():
    helpers = _support_helpers()
    assert {"Flow", "csrf_token", "query", "AppBrowser", "Browser"} <= set(helpers)
    problems = [p for path in _modules() if SUPPORT not in path.parents
                for p in _copies(path, helpers)]
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("source, found", [
    ("from tests.oidc.conftest import basic\n", True),
    ("from tests import conftest\n", True),
    ("import conftest\n", True),
    ("from conftest import PASSWORD\n", True),
    ("def f():\n    from tests.conftest import _register\n", True),
    ("from tests.support.flow import basic\n", False),
])
def test_the_conftest_check_sees_every_form_of_import(source, found):
    """The control: each way of writing the import is caught, a support import is not."""
    assert bool(_conftest_imports(ast.parse(source))) is found


def test_the_copy_check_sees_a_redefined_helper():
    tree = ast.parse("def csrf_token(html):\n    return html\n\n\nclass Flow:\n    pass\n\n\n"
                     "def _local():\n    pass\n")
    assert _top_level_names(tree) & set(_support_helpers()) == {"csrf_token", "Flow"}

