"""Figure records are keyed by the figure code too: an edited recipe is recomputed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import cbn.figures
import cbn.figures.recipe_runner as runner
from cbn import figures, numerics, theory

#: The fastest tiny recipe (about a second); its ``compute`` is what the test edits.
RECIPE = "dynamics_stages"

RUN = """
import sys
from pathlib import Path
import cbn.figures
from cbn.figures.recipe_runner import run_recipe
from cbn.numerics.store import ResultStore
here = Path(cbn.figures.__file__).resolve()
assert here.is_relative_to(Path.cwd().resolve()), here
store = Path(sys.argv[1])
result = run_recipe(sys.argv[2], "tiny", store.parent / "out", "cpu", ResultStore(store))
print("loaded" if result.from_store else "computed")
"""

MODULES = """
import importlib, sys
from pathlib import Path
from cbn.figures.recipes import RECIPES
for name in RECIPES:
    importlib.import_module("cbn.figures.recipes." + name)
imported = {Path(m.__file__).resolve() for n, m in list(sys.modules.items())
            if n.split(".")[:2] == ["cbn", "figures"] and getattr(m, "__file__", None)}
from cbn.figures.recipe_runner import figure_source_files
print(sorted(map(str, imported - set(figure_source_files()))))
"""


def _python(tree: Path, code: str, *args: str) -> str:
    """stdout of ``code`` run by a fresh interpreter on the sources copied into ``tree``."""
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=tree, text=True,
                         capture_output=True, env={**os.environ, "PYTHONPATH": str(tree)})
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def _copy_tree(tmp_path: Path) -> Path:
    """The three packages copied to ``tree/cbn/`` (importable as ``cbn.*`` from ``tree``)."""
    tree = tmp_path / "tree"
    for package in (figures, numerics, theory):
        folder = Path(package.__file__).parent
        shutil.copytree(folder, tree / "cbn" / folder.name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    return tree


def test_edited_recipe_is_recomputed_and_unedited_one_loaded(tmp_path):
    tree = _copy_tree(tmp_path)
    store = str(tmp_path / "store")
    assert _python(tree, RUN, store, RECIPE) == "computed"
    assert _python(tree, RUN, store, RECIPE) == "loaded"
    recipe = tree / "cbn" / "figures" / "recipes" / f"{RECIPE}.py"
    source = recipe.read_text()
    signature = "def compute(cfg: dict, device: str):\n"
    assert source.count(signature) == 1
    # The edit changes a constant that compute uses (the same config gives other numbers).
    recipe.write_text(source.replace(
        signature, signature + '    cfg = {**cfg, "n_times": cfg["n_times"] + 1}\n'))
    assert _python(tree, RUN, store, RECIPE) == "computed"
    assert _python(tree, RUN, store, RECIPE) == "loaded"


def test_every_figures_module_a_recipe_imports_is_fingerprinted(tmp_path):
    assert _python(_copy_tree(tmp_path), MODULES) == "[]"


def test_figure_sources_are_the_recipes_package_and_its_imports():
    names = {p.relative_to(Path(cbn.figures.__file__).resolve().parent).as_posix()
             for p in runner.figure_source_files()}
    assert {f"recipes/{name}.py" for name in runner.RECIPES} <= names
    assert {"__init__.py", "recipes/__init__.py", "recipes/_common.py", "plotting.py"} <= names
    assert "cli.py" not in names and "recipe_runner.py" not in names
