"""How much a ReLU minimal-norm search moves when its samples move by round-off.

One run of the default start (the weight-decay path, seed 0) at depth 5 on each benchmark
target of ``tests/bench_search.py`` (12 samples, width 8), on the samples as drawn and on the
samples multiplied entrywise by ``1 + eps z`` (``z`` standard Gaussian, fixed seed) for each
``eps`` of :data:`EPS`. A run is deterministic on one installation, but a search through ReLU
kinks is chaotic: a change of the data at the size of one rounding step (``eps = 1e-15``) stands
for what another CPU, BLAS or numpy/torch build does to the arithmetic. The printed relative
changes of the best norm say how far a table of single-seed norms measured on one installation
can be trusted on another.

Run: ``pytest -m bench tests/bench_round_off.py -s``; ``CBN_BENCH_TARGETS`` picks the targets
(labels of :data:`bench_search.TARGET_ARGS`, default ``relu_lowpass,bottleneck-d12``),
``CBN_BENCH_DEPTH`` the depth (default 5).
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from bench_search import TARGET_ARGS

from cbn.figures.commands.fit import key_value
from cbn.numerics.search import Architecture, SearchSettings, Start, min_norm_fit
from cbn.numerics.sweep.spec import target_from_config

#: Relative sizes of the perturbation of the samples (0: the samples as drawn).
EPS = (0.0, 1e-15, 1e-13)
#: A run fits its samples at ``||f(X) - Y|| / ||Y||`` below this (the search's default).
RESIDUAL_RTOL = SearchSettings().residual_rtol


def _target(label: str):
    """The target of a :data:`TARGET_ARGS` label, its ``--param KEY=VALUE`` pairs read as
    ``cbn fit`` reads them."""
    name, args = TARGET_ARGS[label]
    parse = key_value("--param")
    return target_from_config({"spec": name, "params": dict(map(parse, args[1::2]))})


@pytest.mark.bench
def test_round_off_moves_the_search():
    labels = os.environ.get("CBN_BENCH_TARGETS", "relu_lowpass,bottleneck-d12").split(",")
    depth = os.environ.get("CBN_BENCH_DEPTH", "5")
    unknown = sorted(set(labels) - set(TARGET_ARGS))
    if unknown:
        pytest.fail(f"unknown CBN_BENCH_TARGETS {unknown}: use labels of {sorted(TARGET_ARGS)}")
    if not depth.isdigit() or int(depth) < 2:
        pytest.fail(f"CBN_BENCH_DEPTH must be an integer >= 2, got {depth!r}")
    depth = int(depth)
    architecture = Architecture.uniform(depth, 8, activation="relu")
    for label in labels:
        target = _target(label)
        X = target.sample(12, 0)
        Y = target.evaluate(X)
        z = np.random.default_rng(1).standard_normal(X.shape)
        norms = []
        print(f"\n{label}, depth {depth}, path start seed 0, 12 samples, width 8:")
        for eps in EPS:
            t0 = time.perf_counter()
            run = min_norm_fit(X * (1 + eps * z), Y, architecture, Start.path(0),
                               SearchSettings())
            # a norm is an upper bound on the cost only for a network that fits the samples
            assert run.fits(RESIDUAL_RTOL), (label, eps, run.residual_rel)
            norms.append(run.norm_sq)
            print(f"  eps {eps:7.0e}: norm {run.norm_sq:.4f} (UPPER bound), residual "
                  f"{run.residual_rel:.1e}, change {run.norm_sq / norms[0] - 1:+.2%}, "
                  f"{time.perf_counter() - t0:.0f} s")
