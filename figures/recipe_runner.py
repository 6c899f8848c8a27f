"""Run figure recipes through the result store and collect what the report needs.

A recipe is a module in :mod:`figures.recipes` exposing

* ``NAME`` (str), ``TITLE`` (str), ``CAPTION`` (str: what the reader should see);
* ``PROVENANCE`` (:class:`figures.provenance.Provenance`): the statement the figure tests,
  quoted from ``paper_notes/``, and what of its setup is the toolkit's own reconstruction;
* ``config(mode) -> dict`` for ``mode`` in ``{"tiny", "quick", "full"}`` (sizes, depths,
  ridge, learning rate, seeds, data: everything the numbers depend on);
* ``compute(config, device) -> (record, arrays)``: deterministic per config, JSON-able
  ``record`` and ``arrays`` (name -> ndarray); the expensive part, cached in the store;
* ``plot(record, arrays, out_dir) -> list[Path]``: PNG files, reading results only;
* ``verdict(record) -> (agrees: bool | None, line: str)``: whether the numbers agree with the
  theory, as one caption line (None when the figure makes no checkable prediction).
"""

from __future__ import annotations

import importlib
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from figures.provenance import Provenance
from figures.recipes import RECIPES
from numerics.store import DEFAULT_STORE, ResultStore

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
    return importlib.import_module(f"figures.recipes.{name}")


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
    stored = store.load(key)
    if stored is None:
        record, arrays = module.compute(cfg, device)
        stored = store.save(key, record, arrays)
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
