"""The build step that pyproject.toml cannot declare: compile the translation catalogues.

Everything else about the package is in pyproject.toml. ``build_py`` writes each
``idp/**/translations/*/LC_MESSAGES/*.mo`` beside its ``.po`` (in the build directory, or in
the source tree for an editable install), so an installed provider never compiles at start.
"""

import importlib.util
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


def _catalogs():
    # Loaded by path: importing the idp package would need Flask, absent from the build env.
    spec = importlib.util.spec_from_file_location("idp_catalogs", HERE / "idp" / "catalogs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildWithCatalogs(build_py):
    def run(self):
        catalogs = _catalogs()
        catalogs.compile_all()  # the source tree: editable installs and the package data
        super().run()
        if not getattr(self, "editable_mode", False):
            catalogs.compile_all(Path(self.build_lib) / "idp")


setup(cmdclass={"build_py": BuildWithCatalogs})
