"""The benchmarks of ``cbn bench``, collected by ``pytest -m bench`` (quick sizes; run with
``-s`` to see the table). Each asserts the agreement its ratio stands on: a ratio between two
routes that give different numbers would measure nothing."""

from __future__ import annotations

import math

import pytest

from cbn.figures.commands.bench import table
from cbn.numerics.benchmarks import BENCHMARKS, run_benchmark

pytestmark = pytest.mark.bench


def _agrees(result) -> None:
    d = result.detail
    if result.name == "linear_closed_form":
        assert d["relative_difference"] <= 1e-10  # two float64 routes to one spectrum
    elif result.name == "convex_interpolation":
        assert abs(d["certified_gap"]) <= 1e-8 * d["value"]  # certificate to round-off
        assert abs(d["scs_value"] - d["value"]) <= 1e-3 * d["value"]  # SCS default accuracy
    elif result.name == "engine_vs_naive":
        assert max(abs(g) for g in d["our_gaps"]) <= 1e-5  # the closed form, reached
    elif result.name == "sweep_store":
        assert d["reused_second"] == d["runs"]  # the second call computed nothing
        assert d["norm_gap"] <= 1e-6  # linear runs reach their closed form
    else:
        assert math.isfinite(d["engine_gflops"]) and d["engine_gflops"] > 0


@pytest.mark.parametrize("name", BENCHMARKS)
def test_benchmark_quick(name):
    result = run_benchmark(name, quick=True)
    print("\n" + table([result]))
    assert result.seconds > 0 and result.baseline_seconds > 0
    _agrees(result)
