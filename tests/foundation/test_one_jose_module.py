"""One place verifies the JWTs the provider reads: idp/services/jose.py (issue 12 §1).

Any other module of idp/ that calls joserfc's ``jwt.decode`` or ``jws.deserialize_compact``
(under any import alias) fails this test; it reads the source with ``ast``, so comments and
strings do not count and an aliased import does not hide a call.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "idp"
THE_MODULE = ROOT / "services" / "jose.py"
# The functions that read a JWT, by the joserfc module that defines them.
READERS = {"joserfc.jwt": {"decode"}, "joserfc.jws": {"deserialize_compact", "deserialize_json",
                                                      "deserialize"}}
# Owned by the client-authentication rework (issue 12 §1, grants): it moves client assertions
# onto Authlib's JWTBearerClientAssertion. Remove this entry when it no longer decodes itself.
PENDING = {ROOT / "oidc" / "assertions.py"}


def _reads(tree: ast.AST) -> list[str]:
    """Calls of a JWT reader in ``tree``: ``jwt.decode(...)``, ``decode(...)`` imported from
    joserfc.jwt, and the same under an alias."""
    modules: dict[str, str] = {}   # local name -> joserfc module
    functions: set[str] = set()    # local names bound to a reader
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("joserfc", *READERS):
            for alias in node.names:
                local = alias.asname or alias.name
                if node.module == "joserfc" and f"joserfc.{alias.name}" in READERS:
                    modules[local] = f"joserfc.{alias.name}"
                elif alias.name in READERS.get(node.module, ()):
                    functions.add(local)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in READERS:
                    modules[alias.asname or alias.name] = alias.name
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in functions:
            found.append(f"line {node.lineno}: {func.id}()")
        elif isinstance(func, ast.Attribute):
            owner = ast.unparse(func.value)
            if owner in modules and func.attr in READERS[modules[owner]]:
                found.append(f"line {node.lineno}: {owner}.{func.attr}()")
    return found


def test_only_the_jose_module_reads_jwts():
    offenders = {}
    for path in sorted(ROOT.rglob("*.py")):
        if path == THE_MODULE or path in PENDING:
            continue
        calls = _reads(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        if calls:
            offenders[str(path.relative_to(ROOT.parent))] = calls
    assert not offenders, (
        "Verify JWTs in idp/services/jose.py (one expected typ per token kind), "
        f"not here: {offenders}")


def test_the_jose_module_does_read_jwts():
    """The check above is not vacuous: it finds the calls of the module that makes them."""
    assert _reads(ast.parse(THE_MODULE.read_text(encoding="utf-8")))


@pytest.mark.parametrize("source", [
    "from joserfc import jwt\njwt.decode(v, k)",
    "from joserfc import jwt as j\nj.decode(v, k)",
    "from joserfc.jwt import decode\ndecode(v, k)",
    "from joserfc.jws import deserialize_compact as d\nd(v, k)",
    "import joserfc.jws\njoserfc.jws.deserialize_compact(v, k)",
])
def test_the_check_sees_every_spelling(source):
    assert _reads(ast.parse(source))


def test_the_check_ignores_other_decodes():
    assert not _reads(ast.parse("import base64\nbase64.b64decode(v)\nb'x'.decode()\n"
                                "from joserfc import jwt\njwt.encode(h, c, k)"))
