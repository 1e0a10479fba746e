"""Compile the translation catalogues (``.po`` → ``.mo``): a build step, not a start-up one.

Run by the package build (``setup.py``'s build_py), by ``scripts/setup`` and by hand::

    python -m idp.catalogs          # compile every catalogue whose .mo is missing or stale
    python -m idp.catalogs --check  # exit 1, naming them, if any is missing or stale

Imports nothing but the standard library and Babel, so the build can load it by path
before the package's own dependencies are installed.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def compiled(po_path: Path) -> bytes:
    """The .mo bytes for one .po file."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po_path.open("rb") as handle:
        catalog = read_po(handle)
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def directories(root: Path = PACKAGE) -> list[Path]:
    """Each area's ``translations`` directory (``idp/translations``, ``idp/admin/translations``…)."""
    return sorted(p for p in root.glob("**/translations") if p.is_dir())


def sources(root: Path = PACKAGE) -> list[Path]:
    return sorted(po for d in directories(root) for po in d.glob("*/LC_MESSAGES/*.po"))


def _messages(mo: bytes) -> dict:
    from babel.messages.mofile import read_mo

    return {(m.id, m.context): m.string for m in read_mo(io.BytesIO(mo)) if m.id}


def stale(root: Path = PACKAGE) -> list[Path]:
    """The .po files whose .mo is missing or holds other messages than they compile to.

    Messages are compared, not bytes: the compiled header carries the time of compilation.
    """
    return [po for po in sources(root)
            if not po.with_suffix(".mo").is_file()
            or _messages(po.with_suffix(".mo").read_bytes()) != _messages(compiled(po))]


def compile_all(root: Path = PACKAGE) -> list[Path]:
    """Write the .mo of every stale catalogue under ``root``; returns the .po files compiled."""
    done = stale(root)
    for po in done:
        po.with_suffix(".mo").write_bytes(compiled(po))
    return done


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[args.index("--root") + 1]) if "--root" in args else PACKAGE
    if "--check" in args:
        missing = stale(root)
        for po in missing:
            print(f"{po.with_suffix('.mo')} is missing or out of date: run python -m idp.catalogs",
                  file=sys.stderr)
        return 1 if missing else 0
    for po in compile_all(root):
        print(f"compiled {po.with_suffix('.mo')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
