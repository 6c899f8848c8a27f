"""Benchmark: the quick ``linear_cost_depth`` figure from a fresh store, before and after the
depth-2 multiplier start, in one process.

"Before" is the search with least-squares multipliers at every depth (``cbn.numerics.search.fit.
starts_from_zero_multipliers`` patched to False), "after" the default (zero multipliers for
linear depth-2 fits). Both render the figure through :func:`cbn.figures.recipe_runner.run_recipe`
into their own empty store; the verdict must be the same ("agrees").

Run: ``OMP_NUM_THREADS=1 pytest -m bench tests/bench_linear_figure.py -s``.
"""

from __future__ import annotations

import time

import pytest

import cbn.figures.recipe_runner as runner
import cbn.numerics.search.fit as minnorm
from cbn.numerics.store import ResultStore

pytestmark = pytest.mark.bench


def _render(tmp_path, label):
    t0 = time.perf_counter()
    res = runner.run_recipe("linear_cost_depth", "quick", tmp_path / label / "out", "cpu",
                            ResultStore(tmp_path / label / "store"))
    return res, time.perf_counter() - t0


def test_linear_figure_before_and_after(tmp_path, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(minnorm, "starts_from_zero_multipliers", lambda activation, depth: False)
        before, t_before = _render(tmp_path, "before")
    after, t_after = _render(tmp_path, "after")
    assert not before.from_store and not after.from_store
    print(f"\nlinear_cost_depth (quick), fresh store: before {t_before:.1f} s, after "
          f"{t_after:.1f} s ({t_before / t_after:.1f}x)")
    for label, res in (("before", before), ("after", after)):
        print(f"  {label}: {res.verdict} agrees={res.agrees}")
        stored = ResultStore(tmp_path / label / "store").load(
            {"recipe": "linear_cost_depth", "config": res.config, "device_kind": "cpu"},
            sources=runner.figure_sources())
        for t in stored.record["trained"]:
            print(f"    depth {t['depth']}: {t['seconds']:.1f} s, {t['iterations']} iterations "
                  f"(best restart), {t['stop_reason'][:60]}")
    assert before.agrees and after.agrees
