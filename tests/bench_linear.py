"""Benchmark: closed-form linear cost on a 64x64 grid with 64 -> 64 channels, and the ratio to
the naive route (singular values of the dense convolution operator) at a size both can handle.

Run on demand: ``pytest -m bench tests/bench_linear.py -s``. Not part of the default suite.
"""

from __future__ import annotations

import numpy as np
import pytest

from cbn.numerics.benchmarks.linear import dense_cost
from cbn.numerics.benchmarks.result import best_time
from cbn.numerics.linear import analyze_linear_filter


@pytest.mark.bench
def test_bench_closed_form_large_and_ratio_to_dense():
    rng = np.random.default_rng(0)
    big = rng.standard_normal((64, 64, 64, 64))
    t_big, _ = best_time(lambda: analyze_linear_filter(big, [4]), 3)

    small = rng.standard_normal((8, 8, 12, 12))
    ours = analyze_linear_filter(small, [4]).cost[0]
    naive = dense_cost(small, 4)
    assert abs(ours - naive) / naive < 1e-10  # same number by both routes
    t_ours, _ = best_time(lambda: analyze_linear_filter(small, [4]), 5)
    t_naive, _ = best_time(lambda: dense_cost(small, 4), 2)
    print(f"\nclosed form, 64x64 grid, 64->64 channels: {t_big:.3f} s (goal < 2 s)")
    print(f"12x12 grid, 8->8 channels: closed form {t_ours * 1e3:.2f} ms, dense SVD "
          f"{t_naive:.3f} s, ratio {t_naive / t_ours:.0f}x")
