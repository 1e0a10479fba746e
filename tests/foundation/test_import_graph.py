"""The import graph: the provider does not depend on its command line, and the CLI and the
worker sit in no import cycle.

The graph is read from the source with ``ast``, every ``import`` counted, also those inside
functions (a deferred import is still a dependency: ``oidc/logout.py`` once reached the
CLI through one, in an 8-module cycle).
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Importing these does more than define things: the first runs the command, the second
# builds an app from the environment (and writes an instance folder).
NOT_IMPORTED = {"idp.cli.__main__", "idp.wsgi"}
GUARDED = ("idp.cli", "idp.ops.worker")  # may be in no cycle


def _modules(root: Path, package: str) -> dict[str, Path]:
    found = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _targets(node: ast.AST, module: str, is_package: bool, known: set[str]) -> set[str]:
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in known}
    assert isinstance(node, ast.ImportFrom)
    if node.level:
        here = module.split(".") if is_package else module.split(".")[:-1]
        base = ".".join(here[: len(here) - node.level + 1] + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    targets = set()
    for alias in node.names:
        child = f"{base}.{alias.name}"
        if child in known:
            targets.add(child)  # ``from . import audit``: the submodule
        elif base in known:
            targets.add(base)  # ``from .extensions import db``: the module itself
    return targets


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module name -> the package's modules it imports (anywhere in its code)."""
    modules = _modules(root, package)
    known = set(modules)
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        edges: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges |= _targets(node, name, is_package, known)
        graph[name] = edges - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(component)

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _in(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def violations(graph: dict[str, set[str]], cli: str, guarded: tuple[str, ...]) -> list[str]:
    """What the rules refuse: the CLI imported from outside it; a guarded module in a cycle."""
    found = [f"{source} imports {target}"
             for source, targets in sorted(graph.items()) if not _in(source, cli)
             for target in sorted(targets) if _in(target, cli)]
    for component in cycles(graph):
        if any(_in(m, g) for m in component for g in guarded):
            found.append("import cycle: " + " -> ".join(sorted(component)))
    return found


def test_the_provider_does_not_import_its_cli_and_no_cycle_runs_through_it():
    graph = import_graph(ROOT, "idp")
    assert "idp.cli.worker" in graph and "idp.ops.worker" in graph
    assert violations(graph, "idp.cli", GUARDED) == []


def test_the_walk_finds_the_old_cycle(tmp_path):
    """The checks can fail: the shape the provider had (worker <-> cli, logout -> worker)."""
    pkg = tmp_path / "pkg"
    (pkg / "oidc").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "oidc" / "__init__.py").write_text("")
    (pkg / "cli.py").write_text("from . import worker  # noqa\n")
    (pkg / "worker.py").write_text("from .cli import main\n")
    (pkg / "oidc" / "logout.py").write_text("def hook():\n    from ..worker import start\n")
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.oidc.logout"] == {"pkg.worker"}
    assert violations(graph, "pkg.cli", ("pkg.cli", "pkg.worker")) == [
        "pkg.worker imports pkg.cli",
        "import cycle: pkg.cli -> pkg.worker",
    ]


def _all_modules() -> list[str]:
    return sorted(set(_modules(ROOT, "idp")) - NOT_IMPORTED)


@pytest.mark.parametrize("module", _all_modules())
def test_every_module_imports(module):
    assert importlib.import_module(module).__name__ == module


def test_the_provider_and_its_worker_load_without_the_cli(tmp_path):
    """At run time too: building the app and its worker thread never loads ``idp.cli``."""
    code = ("import sys, idp.ops.worker, idp.oidc.logout, idp.services.logout\n"
            "from idp import create_app\n"
            "app = create_app({'INSTANCE_PATH': sys.argv[1], 'DATABASE_URL': 'sqlite://',\n"
            "                  'SECRET_KEY': 'k', 'LOGOUT_INLINE_WORKER': True})\n"
            "app.test_client().get('/healthz')\n"
            "assert 'idp_inline_worker' in app.extensions\n"
            "print(sorted(m for m in sys.modules if m == 'idp.cli' or m.startswith('idp.cli.')))\n")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
