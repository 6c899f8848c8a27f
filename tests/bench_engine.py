"""Engine benchmarks. Run: ``pytest -m bench tests/bench_engine.py -s``.

1. Minimal-norm search against the naive protocol on a linear target (1-D, d = 16, 8 channels,
   depth 6, 256 samples): the naive protocol is a spatial circular convolution (torch
   ``conv1d`` after circular padding, full-size filters) trained with Adam and
   ``weight_decay``; ours is :func:`cbn.numerics.search.min_norm_fit`. Both report the gap
   ``(||theta||^2 - R) / R`` to the exact closed form ``R`` and the residual
   ``max|f(X) - Y| / max|Y|``; a protocol "reaches 1e-3" when both are ``<= 1e-3`` (ours is
   checked after each augmented-Lagrangian step, the naive one every 0.5 s).
2. Forward + backward throughput of :class:`cbn.numerics.network.CircularCNN` at MNIST size
   (28 x 28, 32 channels, depth 8, ReLU, batch 1024) in float32 and float64 on this machine,
   against the previous engine route in the same process (``previous_forward``, a copy kept
   in :mod:`numerics.benchmarks.throughput`, timed under glibc's default memory policy; the
   engine under the one the ``cbn`` command sets), with a FLOP count, a byte count and the
   fraction of this machine's measured float32 matmul rate.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np
import pytest
import torch

from cbn.numerics.benchmarks.engine import linear_target, naive_conv, run_naive
from cbn.numerics.benchmarks.throughput import (
    AGREEMENT_RTOL,
    compare,
    engine_flops,
    matmul_flops_per_second,
)
from cbn.numerics.fourier import circular_conv, multipliers_from_filters
from cbn.numerics.linear import representation_cost
from cbn.numerics.search import Architecture, SearchSettings, Start, min_norm_fit

pytestmark = pytest.mark.bench

#: Wall-clock budget of the naive protocol (the issue asks for 60 s).
NAIVE_BUDGET_S = 60.0

#: (weight_decay, lr) of the naive Adam runs, each for ``NAIVE_BUDGET_S``: weight decays small
#: enough that the penalised optimum interpolates to ~1e-3, Adam's usual learning rate and a
#: ten times larger one; the best of them is the baseline.
NAIVE_SETTINGS = [(1e-5, 1e-3), (1e-5, 1e-2), (1e-6, 1e-2)]

#: Seeds of our search (random starts); the slowest one sets the speed-up.
OUR_SEEDS = (0, 1, 2)


def test_naive_conv_is_the_same_operator():
    rng = np.random.default_rng(0)
    W, X = rng.standard_normal((3, 2, 16)), rng.standard_normal((4, 2, 16))
    got = naive_conv(torch.as_tensor(W), torch.as_tensor(X)).numpy()
    # same float64 operator by two routes; O(1) values, round-off ~1e-15
    np.testing.assert_allclose(got, circular_conv(W, X), rtol=0, atol=1e-12)


def test_minnorm_against_naive_protocol():
    depth = 6
    W, X, Y = linear_target()
    cost = representation_cost(multipliers_from_filters(W), depth)
    print(f"\n[minnorm] closed form R = {cost:.6f} (exact)")
    reach_ours = []
    for seed in OUR_SEEDS:
        t0 = time.perf_counter()
        ours = min_norm_fit(X, Y, Architecture(depth, [8] * (depth - 1),
                                               activation="identity", bias=False),
                            Start.random(seed))
        t_ours = time.perf_counter() - t0
        gap = (ours.norm_sq - cost) / cost
        hist = ours.settings["history"]
        reach = next((h[3] for h in hist if abs(h[2] - cost) <= 1e-3 * cost and h[1] <= 1e-3),
                     None)
        reach_ours.append(math.inf if reach is None else reach)
        print(f"[minnorm] ours, random start seed {seed}: 1e-3 reached after "
              f"{reach_ours[-1]:.2f} s (checked after each augmented-Lagrangian step); phase 1 "
              f"{ours.settings['phase1_iterations']} its {ours.settings['phase1_seconds']:.2f} s;"
              f" final norm {ours.norm_sq:.9f} (upper bound), gap {gap:.2e}, max residual/"
              f"max|Y| {ours.residual_max_abs / np.abs(Y).max():.1e}, {ours.iterations} L-BFGS "
              f"its, {t_ours:.1f} s, converged={ours.converged}")
        assert ours.converged and abs(gap) <= 1e-5
    t0 = time.perf_counter()
    full = min_norm_fit(X, Y, Architecture(depth, [8] * (depth - 1),
                                           activation="identity", bias=False),
                        Start.random(0), SearchSettings(compress_linear=False))
    reach = next((h[3] for h in full.settings["history"]
                  if abs(h[2] - cost) <= 1e-3 * cost and h[1] <= 1e-3), math.inf)
    print(f"[minnorm] ours without the linear compression (all 256 samples, L-BFGS memory "
          f"{full.settings['history_size']}), seed 0: 1e-3 after {reach:.2f} s, gap "
          f"{(full.norm_sq - cost) / cost:.2e}, {time.perf_counter() - t0:.1f} s")
    naive_runs = []
    for lam, lr in NAIVE_SETTINGS:
        naive = run_naive(X, Y, depth, cost, lam=lam, lr=lr, budget_s=NAIVE_BUDGET_S)
        naive_runs.append(naive)
        reach = naive["time_to_1e-3"]
        print(f"[minnorm] naive Adam(lr={lr:g}, weight_decay={lam:g}), {NAIVE_BUDGET_S:.0f} s, "
              f"{naive['steps']} steps: best max(|gap|, residual) "
              f"{naive['best_max_gap_residual']:.2e}; "
              f"time to 1e-3: {'not reached' if reach is None else f'{reach:.1f} s'}")
    reached = [n["time_to_1e-3"] for n in naive_runs if n["time_to_1e-3"] is not None]
    naive_time = min(reached) if reached else NAIVE_BUDGET_S
    ratio = naive_time / max(reach_ours)
    print(f"[minnorm] speed-up to 1e-3 (best naive setting / slowest of our seeds): "
          f"{'' if reached else '>= '}{ratio:.1f}x")


def mnist_bytes(n, channels, spatial, itemsize):
    """Bytes moved, counting one read and one write of every activation-sized tensor per op:
    forward rfft, matmul, irfft, bias+ReLU; backward twice that (a lower bound: no caches)."""
    d = math.prod(spatial)
    nfreq = spatial[0] * (spatial[1] // 2 + 1)
    total = 0.0
    for ci, co in zip(channels[:-1], channels[1:]):
        real_in, real_out = n * ci * d * itemsize, n * co * d * itemsize
        cplx_in, cplx_out = 2 * n * ci * nfreq * itemsize, 2 * n * co * nfreq * itemsize
        fwd = (real_in + cplx_in) + (cplx_in + cplx_out) + (cplx_out + real_out) + 2 * real_out
        total += 3 * fwd
    return total


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_throughput_mnist_size(dtype):
    n, spatial, channels = 1024, (28, 28), [1] + [32] * 8
    res = compare(n, spatial, channels, dtype, repeats=3)
    t, t_old = res["seconds"], res["previous_seconds"]
    flops = engine_flops(n, channels, spatial)
    nbytes = mnist_bytes(n, channels, spatial, torch.finfo(dtype).bits // 8)
    peak = matmul_flops_per_second()
    name = str(dtype).removeprefix("torch.")
    print(f"\n[throughput] CPU ({torch.get_num_threads()} threads, {os.cpu_count()} cores, load "
          f"{os.getloadavg()[0]:.1f}), {name}, batch {n}, best of 3 forward+backward: engine "
          f"{t:.2f} s, previous route {t_old:.2f} s -> {t_old / t:.2f}x (previous route with "
          f"freed memory kept {res['previous_retained_seconds']:.2f} s); {flops / 1e9:.1f} "
          f"GFLOP -> {flops / t / 1e9:.1f} GFLOP/s ({flops / t_old / 1e9:.1f} before) = "
          f"{flops / t / peak:.1%} of the measured float32 matmul rate {peak / 1e9:.1f} GFLOP/s;"
          f" {nbytes / 1e9:.2f} GB moved -> {nbytes / t / 1e9:.1f} GB/s; max rel difference "
          f"{res['max_rel_difference']:.1e}")
    assert math.isfinite(t)
    assert res["max_rel_difference"] <= AGREEMENT_RTOL[name]
