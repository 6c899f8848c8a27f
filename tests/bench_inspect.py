"""Benchmark: ``cbn inspect``'s computation on a 16-layer, 64-channel 2-D CNN on a 32x32 grid
(3x3 circular kernels, biases, ReLU), and the ratio to the dense route at a size both handle.

Goal: spectra (and the constant-input bounds) in under 30 s on 2 cores, memory bounded: the
dense operator of one such layer would be 65536 x 65536 (34 GB); the peak traced by
``tracemalloc`` (numpy registers its buffers there) is printed and bounded.

Run on demand: ``OMP_NUM_THREADS=2 pytest -m bench tests/bench_inspect.py -s``.
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest
import torch
from torch import nn

from cbn.numerics.fourier import dense_operator
from cbn.numerics.inspection import inspect_network, layer_spectra
from cbn.numerics.spectra import weight_spectra
from cbn.numerics.torch_import import import_model

#: Memory bound of the goal: 16 layers of multipliers (64 MB each) never need to be held at
#: once; 1.5 GB leaves room for one layer's FFT, SVD workspace and the converted filters.
MEMORY_BOUND = 1.5e9


def _model(depth: int, width: int) -> nn.Sequential:
    torch.manual_seed(0)
    mods: list[nn.Module] = []
    for i in range(depth):
        mods += [nn.Conv2d(1 if i == 0 else width, width, 3, padding=1,
                           padding_mode="circular", dtype=torch.float64), nn.ReLU()]
    return nn.Sequential(*mods)


def _dense_singular_values(layer) -> np.ndarray:
    """The naive route: the layer's dense circulant operator, then one big SVD."""
    return np.linalg.svd(dense_operator(layer.filter, "plain"), compute_uv=False)


@pytest.mark.bench
def test_bench_inspect_16_layers_64_channels_32x32():
    model = _model(16, 64)
    start = time.perf_counter()
    net = import_model(model, (32, 32))
    t_import = time.perf_counter() - start
    tracemalloc.start()
    start = time.perf_counter()
    result = inspect_network(net)  # spectra, counts, bounds at 3 constant inputs
    t_inspect = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    start = time.perf_counter()
    layer_spectra(net)
    t_spectra = time.perf_counter() - start
    print(f"\n16 layers, 64 channels, 32x32: import {t_import:.2f} s, spectra {t_spectra:.2f} s, "
          f"spectra + bounds {t_inspect:.2f} s (goal < 30 s), peak traced memory "
          f"{peak / 1e6:.0f} MB (bound {MEMORY_BOUND / 1e6:.0f} MB), "
          f"threads {torch.get_num_threads()}")
    assert peak < MEMORY_BOUND
    assert result.best_bound().lower_bound <= result.weight_norm_sq

    # ratio to the baselines in this process, at a size where the dense route runs
    small = import_model(_model(2, 8), (12, 12))
    t_ours = min(_timed(lambda: layer_spectra(small)) for _ in range(5))
    t_full = min(_timed(lambda: weight_spectra([l.filter for l in small.layers], "plain"))
                 for _ in range(5))
    t_dense = min(_timed(lambda: [_dense_singular_values(l) for l in small.layers])
                  for _ in range(2))
    ours = np.sort(layer_spectra(small)[1].singular_values.ravel())[::-1]
    dense = _dense_singular_values(small.layers[1])
    np.testing.assert_allclose(ours, dense[:ours.size], atol=1e-12)  # same spectrum
    print(f"12x12, 8 channels, 2 layers: spectra {t_ours * 1e3:.2f} ms, all-frequency SVDs "
          f"{t_full * 1e3:.2f} ms ({t_full / t_ours:.1f}x), dense SVD {t_dense:.3f} s "
          f"({t_dense / t_ours:.0f}x)")


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
