"""The one-thread rule for small CPU fits (:data:`cbn.numerics.search.lbfgs.SMALL_FIT_ELEMENTS`):
one float64 forward + backward of the engine's ReLU CNN on one intra-op thread against two,
in one process, under the wait policy the toolkit sets (``OMP_WAIT_POLICY=PASSIVE``, on
import of :mod:`cbn.numerics`), at sizes below and around the threshold.

Run: ``pytest -m bench tests/bench_threads.py -s`` on an otherwise idle 2-core machine. The
rule holds where the ratio ``two / one`` is at least ~1 below the threshold; above it two
threads should pay.
"""

from __future__ import annotations

import os

import pytest
import torch

import cbn.numerics  # noqa: F401  (before any torch work: the wait policy)
from cbn.numerics.benchmarks.result import best_time
from cbn.numerics.network import CircularCNN
from cbn.numerics.search.lbfgs import SMALL_FIT_ELEMENTS, intra_op_threads

pytestmark = pytest.mark.bench

#: (samples, grid side, width, depth, pooling head classes or None): the quick classifier's
#: batch, the 28x28 autoencoder of the notes, a 28x28 classifier batch, 14x14 at batch 300,
#: and one well above the threshold
CASES = [(50, 7, 32, 4, 10), (64, 28, 8, 6, None), (50, 28, 32, 4, 10), (300, 14, 32, 4, 10),
         (256, 28, 32, 4, 10)]


def _step_seconds(samples, side, width, depth, head, threads) -> float:
    channels = [1] + [width] * (depth - 1) + ([] if head else [1])
    net = CircularCNN(channels, (side, side), head_classes=head, seed=0)
    x = torch.randn(samples, 1, side, side, dtype=torch.float64,
                    generator=torch.Generator().manual_seed(0))

    def step():
        net.zero_grad()
        net(x).square().mean().backward()

    with intra_op_threads(threads):
        step()
        return best_time(step, 5)[0]


def test_one_thread_against_two_below_and_above_the_threshold():
    if (os.cpu_count() or 1) < 2:
        pytest.skip("needs two cores")
    print(f"\n[threads] float64 forward + backward, best of 5, load {os.getloadavg()[0]:.1f}; "
          f"threshold {SMALL_FIT_ELEMENTS} entries")
    for samples, side, width, depth, head in CASES:
        entries = samples * width * side * side
        one = _step_seconds(samples, side, width, depth, head, 1)
        two = _step_seconds(samples, side, width, depth, head, 2)
        rule = "one" if entries < SMALL_FIT_ELEMENTS else "default"
        print(f"  {samples} x {width} ch x {side}x{side} ({entries} entries, rule: {rule}): "
              f"1 thread {one * 1e3:.1f} ms, 2 threads {two * 1e3:.1f} ms, two/one "
              f"{two / one:.2f}")
        assert one > 0 and two > 0
