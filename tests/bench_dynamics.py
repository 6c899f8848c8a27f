"""Benchmarks of cbn.numerics.dynamics (run: pytest -m bench tests/bench_dynamics.py -s).

1. One CNN loss+gradient evaluation through FFTs vs the same loss and gradient through dense
   circulant matrices (the baseline; the two are also compared for agreement).
2. Wall time of every dynamics claim check in quick and full mode.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import cbn.numerics.checks.dynamics as checks
from cbn.numerics.dynamics.init import random_start
from cbn.numerics.dynamics.models import CircularCNN, correlation_loss
from cbn.numerics.fourier import dense_operator


def _dense_loss_and_grad(model: CircularCNN, theta, sigma_yx):
    """Baseline: W = sum_c R_c D_c with dense circulants D_c; gradients by matrix products."""
    filters, readout = model.unpack(theta)
    d, c_n = model.d, model.channels
    dense = [dense_operator(filters[c][None, None], model.convention) for c in range(c_n)]
    r = readout.reshape(model.n_out, c_n, d)
    total = sum(r[:, c] @ dense[c] for c in range(c_n))
    loss, g = correlation_loss(total, sigma_yx, None)
    grad_r = np.stack([g @ dense[c].T for c in range(c_n)], axis=1)
    # D_c[p, p'] = kappa w_c(p - p'): dL/dw_c(q) = kappa sum over entries with p - p' = q
    pixels = np.array(np.unravel_index(np.arange(d), model.spatial)).T
    diff = (pixels[:, None, :] - pixels[None, :, :]) % np.array(model.spatial)
    flat = np.ravel_multi_index(tuple(diff.transpose(2, 0, 1)), model.spatial).ravel()
    kappa = dense[0][0, 0] / filters[0].ravel()[0]
    grad_w = np.stack([np.bincount(flat, (r[:, c].T @ g).ravel(), minlength=d) * kappa
                       for c in range(c_n)])
    return loss, np.concatenate([grad_w.ravel(), grad_r.ravel()])


def _best_of(fun, repeats: int) -> float:
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fun()
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.bench
@pytest.mark.parametrize("n", [8, 16, 32])
def test_bench_gradient_fft_vs_dense(n):
    model = CircularCNN((n, n), 4, 10, None, "plain")
    theta = random_start(model, 1.0, 0)
    sigma_yx = np.random.default_rng(1).standard_normal((10, model.d))
    fast = model.loss_and_grad(theta, sigma_yx)
    slow = _dense_loss_and_grad(model, theta, sigma_yx)
    scale = np.max(np.abs(slow[1]))
    # FFT vs dense sums over d <= 1024 pixels: round-off ~1e-16 * d * (entry scale)
    assert np.max(np.abs(fast[1] - slow[1])) < 1e-11 * scale
    t_fft = _best_of(lambda: model.loss_and_grad(theta, sigma_yx), 20)
    t_dense = _best_of(lambda: _dense_loss_and_grad(model, theta, sigma_yx), 3)
    print(f"\nBENCH dynamics gradient {n}x{n}, C=4, 10 outputs: FFT {t_fft * 1e3:.3f} ms, "
          f"dense circulant {t_dense * 1e3:.1f} ms, speed-up {t_dense / t_fft:.0f}x")


@pytest.mark.bench
@pytest.mark.parametrize("mode", ["quick", "full"])
def test_bench_claim_checks(mode):
    names = sorted(n for n in dir(checks) if n.startswith("check_"))
    lines = []
    for name in names:
        start = time.perf_counter()
        result = getattr(checks, name)(mode)
        lines.append(f"{name} {time.perf_counter() - start:.2f} s "
                     f"({'pass' if result.passed else 'FAIL'})")
    print(f"\nBENCH dynamics checks ({mode}):\n  " + "\n  ".join(lines))
