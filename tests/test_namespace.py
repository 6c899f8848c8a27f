"""The install under one namespace: ``cbn.theory``, ``cbn.numerics``, ``cbn.figures`` only.

pytest runs from the repository root, so the folders ``theory/``, ``numerics/`` and
``figures/`` are on ``sys.path`` under their bare names too. A bare import would load a second
copy of the code beside ``cbn.numerics`` (two target registries, two ``InputError`` classes that
``except`` clauses tell apart), so each package's ``__init__`` refuses a bare name; these tests
pin that, and that pyproject.toml lists every package folder (a folder missing there would be
left out of a non-editable install while an editable one still finds it).
"""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import cbn.figures
import cbn.numerics
import cbn.theory
from cbn.figures.cli import main

ROOT = Path(__file__).resolve().parents[1]
BARE = ("theory", "numerics", "figures")
EXAMPLE_FILTER = ROOT / "figures" / "examples" / "lowpass_1d.npy"


def bare_modules() -> list[str]:
    return sorted(name for name in sys.modules if name.split(".")[0] in BARE)


def test_every_module_imports_once_under_cbn(capsys):
    for package in (cbn.theory, cbn.numerics, cbn.figures):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            importlib.import_module(info.name)
    assert main(["targets"]) == 0
    assert main(["linear", str(EXAMPLE_FILTER), "--depth", "2", "--json"]) == 0
    capsys.readouterr()
    assert bare_modules() == []


@pytest.mark.parametrize("name", BARE)
def test_bare_name_refuses_to_import_from_the_repository_root(name):
    code = f"import {name}"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode != 0
    assert f"ImportError: import cbn.{name}, not {name}" in proc.stderr


def test_pyproject_lists_every_package_folder():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"] == {f"cbn.{name}": name for name in BARE}
    folders = {".".join(("cbn", *init.parent.relative_to(ROOT).parts))
               for name in BARE for init in (ROOT / name).rglob("__init__.py")}
    assert set(config["packages"]) == folders


def test_every_package_declares_all_and_each_name_resolves():
    """Every package of the distribution has ``__all__``; each name in it is an attribute of the
    package or one of its modules (a renamed or removed module fails here)."""
    import importlib.util

    packages = [info.name for root in (cbn.theory, cbn.numerics, cbn.figures)
                for info in pkgutil.walk_packages(root.__path__, root.__name__ + ".")
                if info.ispkg] + ["cbn.theory", "cbn.numerics", "cbn.figures"]
    for name in packages:
        package = importlib.import_module(name)
        assert hasattr(package, "__all__"), f"{name} has no __all__"
        for item in package.__all__:
            assert hasattr(package, item) or importlib.util.find_spec(f"{name}.{item}"), \
                f"{name}.__all__ names {item!r}, which is neither an attribute nor a module"
