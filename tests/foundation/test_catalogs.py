"""Translation catalogues: compiled by the build (never at start-up), checked here."""

from __future__ import annotations

import shutil
from pathlib import Path

import idp
from idp import catalogs, i18n

PACKAGE = Path(idp.__file__).resolve().parent


def test_every_po_has_an_up_to_date_mo():
    # A missing or stale .mo means the build step (setup.py build_py, scripts/setup:
    # python -m idp.catalogs) did not run: fail here rather than show English in production.
    assert catalogs.sources(), "no catalogue found"
    assert catalogs.stale() == []


def test_every_po_is_found_and_idp_logout_is_gone():
    assert sorted(PACKAGE.rglob("*.po")) == catalogs.sources()
    assert i18n.translation_directories() == [str(p.parents[2]) for p in catalogs.sources()]
    assert not (PACKAGE / "logout").exists()  # its messages are in idp/translations


def test_the_app_does_not_compile_at_start(config, tmp_path, monkeypatch):
    def refuse(*_args, **_kwargs):
        raise AssertionError("catalogues compiled at start-up")

    monkeypatch.setattr(catalogs, "compile_all", refuse)
    idp.create_app(config)


def test_check_names_a_stale_catalogue_and_compile_fixes_it(tmp_path, capsys):
    root = tmp_path / "idp"
    shutil.copytree(PACKAGE / "translations", root / "translations",
                    ignore=shutil.ignore_patterns("*.mo"))
    assert catalogs.main(["--check", "--root", str(root)]) == 1
    assert "messages.mo is missing or out of date" in capsys.readouterr().err
    assert catalogs.main(["--root", str(root)]) == 0
    assert catalogs.main(["--check", "--root", str(root)]) == 0
    po = next(root.glob("translations/*/LC_MESSAGES/*.po"))
    po.write_text(po.read_text() + '\nmsgid "New"\nmsgstr "Mới"\n', encoding="utf-8")
    assert catalogs.main(["--check", "--root", str(root)]) == 1


def test_the_logout_pages_are_translated(client, app):
    from flask_babel import gettext

    with app.test_request_context("/?lang=vi"):
        app.preprocess_request()
        assert gettext("Sign out?") == "Đăng xuất?"
