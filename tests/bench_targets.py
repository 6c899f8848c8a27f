"""Benchmark: the cheap checks run before any expensive work (``validate_target``) and the cost
of loading the offline data sets. Run with ``pytest -m bench tests/bench_targets.py -s``."""

from __future__ import annotations

import time

import numpy as np
import pytest

from cbn.numerics.data import load_digits, make_mnist1d
from cbn.numerics.targets import get_target, list_targets, validate_target

NEEDS_MNIST = {"mnist0_ae", "mnist_classifier"}


def best_of(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


@pytest.mark.bench
def test_bench_validation_and_data():
    timings = {}
    for name in sorted(set(list_targets()) - NEEDS_MNIST):
        target = get_target(name)
        target.sample(1, 0)  # data-set targets load their data here, outside the timing
        timings[name] = best_of(lambda t=target: validate_target(t))
    worst = max(timings, key=timings.get)
    print(f"\nvalidate_target over {len(timings)} built-in targets: median "
          f"{1e3 * np.median(list(timings.values())):.2f} ms, max {1e3 * timings[worst]:.2f} ms "
          f"({worst})")
    print(f"load_digits (after the first import): {1e3 * best_of(load_digits, 3):.1f} ms; "
          f"make_mnist1d (5000 samples): {best_of(make_mnist1d, 3):.2f} s")
