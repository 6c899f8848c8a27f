"""Run figure recipes through the result store and collect what the report needs.

A recipe is a module in :mod:`cbn.figures.recipes` exposing

* ``NAME`` (str), ``TITLE`` (str), ``CAPTION`` (str: what the reader should see);
* ``PROVENANCE`` (:class:`cbn.figures.provenance.Provenance`): the statement the figure tests,
  quoted from ``paper_notes/``, and what of its setup is the toolkit's own reconstruction;
* ``config(mode) -> dict`` for ``mode`` in ``{"tiny", "quick", "full"}`` (sizes, depths,
  ridge, learning rate, seeds, data: everything the numbers depend on);
* ``compute(config, device) -> (record, arrays)``: deterministic per config, JSON-able
  ``record`` and ``arrays`` (name -> ndarray); the expensive part, cached in the store;
* ``plot(record, arrays, out_dir) -> list[Path]``: PNG files, reading results only;
* ``verdict(record) -> (agrees: bool | None, line: str)``: whether the numbers agree with the
  theory, as one caption line (None when the figure makes no checkable prediction).

A figure record is keyed by the recipe's name, its configuration, the device kind and the code
that computed it: the numerical code (:func:`cbn.numerics.fingerprint.code_fingerprint`) and
:func:`figure_sources`, a digest of **every source file of the** ``cbn.figures.recipes`` **package**
(all recipes and their shared helpers) **plus every other** ``figures`` **module those files
import, transitively** (read from their ``import`` statements; the packages that contain them
included). The rule is deliberately coarse: editing one recipe recomputes every figure, which
is cheap next to a figure and verdict that silently show old logic, and it needs no judgement
of which helper a recipe's ``compute`` reaches. A recipe must import ``figures`` code with plain
``import`` statements (not ``importlib``), so that the scan sees it.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cbn.figures
import cbn.figures.recipes
from cbn.figures.provenance import Provenance
from cbn.figures.recipes import RECIPES
from cbn.numerics.fingerprint import package_files, source_digest
from cbn.numerics.store import DEFAULT_STORE, ResultStore

MODES = ("tiny", "quick", "full")


@dataclass
class FigureResult:
    """One rendered figure and what the report says about it."""

    name: str
    title: str
    caption: str
    agrees: bool | None
    verdict: str
    images: list[str]
    config: dict
    seconds: float
    from_store: bool
    provenance: Provenance
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-able record (the provenance as a dict)."""
        return asdict(self)


def recipe_module(name: str):
    """The recipe module called ``name`` (one-line error listing the known names)."""
    if name not in RECIPES:
        raise ValueError(f"unknown figure {name!r}; known: {', '.join(RECIPES)}")
    return importlib.import_module(f"cbn.figures.recipes.{name}")


def _imported_modules(path: Path, package: str) -> set[str]:
    """Absolute names of the modules that the import statements of ``path`` may load (for
    ``from a import b``: ``a`` and ``a.b``); ``package`` is the file's own package (for
    relative imports)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = importlib.util.resolve_name("." * node.level + base, package)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _module_files(name: str) -> list[Path]:
    """Source files that importing the ``figures`` module ``name`` runs, found on disk without
    importing anything: the module and the ``__init__.py`` of each package of ``figures`` that
    contains it; empty when ``name`` is not a module of ``figures`` (``from cbn.figures.plotting
    import save`` also yields the name ``cbn.figures.plotting.save``, say)."""
    prefix = cbn.figures.__name__.split(".")
    parts = name.split(".")
    if parts[:len(prefix)] != prefix:
        return []
    folder = Path(cbn.figures.__file__).resolve().parent
    files = [folder / "__init__.py"]
    rest = parts[len(prefix):]
    for i, part in enumerate(rest):
        if (folder / part / "__init__.py").is_file():
            folder = folder / part
            files.append(folder / "__init__.py")
        elif i == len(rest) - 1 and (folder / f"{part}.py").is_file():
            files.append(folder / f"{part}.py")
        else:
            return []
    return files


@functools.lru_cache(maxsize=1)
def figure_source_files() -> tuple[Path, ...]:
    """The ``figures`` source files a figure record depends on (the rule is in the module
    docstring), sorted."""
    root = Path(cbn.figures.__file__).resolve().parent
    files = set(package_files(cbn.figures.recipes))
    todo = list(files)
    while todo:
        path = todo.pop()
        package = ".".join([cbn.figures.__name__, *path.relative_to(root).parts[:-1]])
        for name in _imported_modules(path, package):
            for found in _module_files(name):
                if found not in files:
                    files.add(found)
                    todo.append(found)
    return tuple(sorted(files))


@functools.lru_cache(maxsize=1)
def figure_sources() -> str:
    """Digest of :func:`figure_source_files` (computed once per process): the ``sources`` of
    every figure record in the store."""
    root = Path(cbn.figures.__file__).resolve().parent.parent
    return source_digest(root, figure_source_files())


def run_recipe(name: str, mode: str, out_dir: Path, device: str = "cpu",
               store: ResultStore | None = None) -> FigureResult:
    """Compute (or load from the store) and plot one recipe into ``out_dir``."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    module = recipe_module(name)
    store = store or ResultStore(DEFAULT_STORE)
    cfg = module.config(mode)
    key = {"recipe": name, "config": cfg, "device_kind": "cuda" if device == "cuda" else "cpu"}
    start = time.perf_counter()
    stored = store.load(key, sources=figure_sources())
    if stored is None:
        record, arrays = module.compute(cfg, device)
        stored = store.save(key, record, arrays, sources=figure_sources())
        from_store = False
    else:
        from_store = True
    out_dir.mkdir(parents=True, exist_ok=True)
    images = module.plot(stored.record, stored.arrays, out_dir)
    agrees, line = module.verdict(stored.record)
    return FigureResult(name=name, title=module.TITLE, caption=module.CAPTION, agrees=agrees,
                        verdict=line, images=[str(p) for p in images], config=cfg,
                        seconds=time.perf_counter() - start, from_store=from_store,
                        provenance=module.PROVENANCE)
