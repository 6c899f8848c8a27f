"""Helpers shared by the figure recipes: frequency labels and the networks of a ``relu_lowpass``
sweep (the warm-started ladder and a perturbed-construction start, run as ``cbn fit`` runs them).

Not a recipe (the name starts with an underscore, it is not in ``RECIPES``).

The ladder target is the registered ``relu_lowpass`` (:mod:`cbn.numerics.targets.relu_lowpass`):
``f(x) = relu(P_K x)``, which factors through the frequencies ``|m|_inf <= K``, so
``R0 <= #{m : |m|_inf <= K}`` (an UPPER bound, paper_notes/theory.md section 4); its explicit
network is the
target's :meth:`construction`.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from cbn.numerics.fourier import centred_labels, frequency_degrees, frequency_types
from cbn.numerics.search import MinNormResult, SearchSettings, Start
from cbn.numerics.store import ResultStore
from cbn.numerics.sweep import SweepSpec, execute_sweep, result_from_record
from cbn.numerics.targets import get_target
from cbn.numerics.targets.relu_lowpass import ReluLowpass


def frequency_kind(spatial: Sequence[int], index: tuple[int, ...]) -> str:
    """'constant', 'Nyquist' (self-conjugate, not 0) or 'pair' (conjugate pair {m, -m})."""
    return str(frequency_types(tuple(spatial))[tuple(index)])


def frequency_label(spatial: Sequence[int], index: tuple[int, ...]) -> str:
    """Readable label of the frequency at FFT ``index``: centred label, type and degree.

    1-D: ``'m=±1 pair deg 1'``; 2-D: ``'m=±(1,-1) pair |m|1=2 |m|inf=1'``.
    """
    spatial = tuple(int(n) for n in spatial)
    index = tuple(int(i) for i in index)
    lab = tuple(int(v) for v in centred_labels(spatial)[index])
    kind = frequency_kind(spatial, index)
    sign = "±" if kind == "pair" else ""
    deg = frequency_degrees(spatial)
    if len(spatial) == 1:
        return f"m={sign}{abs(lab[0]) if sign else lab[0]} {kind} deg {int(deg['l1'][index])}"
    return (f"m={sign}({lab[0]},{lab[1]}) {kind} |m|1={int(deg['l1'][index])} "
            f"|m|inf={int(deg['linf'][index])}")


def relu_lowpass_data(spatial: Sequence[int], K: int, samples: int,
                      seed: int) -> tuple[ReluLowpass, np.ndarray, np.ndarray]:
    """The registered ``relu_lowpass`` target and its samples ``X``, ``Y = target(X)``, both
    ``(samples, 1, *spatial)`` (its sampler: Gaussian inputs seeded by ``seed``)."""
    target = get_target("relu_lowpass", spatial=tuple(int(n) for n in spatial), K=K)
    X = target.sample(samples, seed)
    return target, X, target.evaluate(X)


def _settings(cfg: dict, device: str) -> SearchSettings:
    """The search settings of a recipe config: its L-BFGS budgets, the rest default."""
    return SearchSettings(max_iter=cfg["max_iter"], inner_iter=cfg["inner_iter"], device=device)


def sweep_spec(cfg: dict, start: Start, depths: Sequence[int], device: str = "cpu") -> SweepSpec:
    """The one-seed sweep of ``relu_lowpass`` that a recipe config describes, as ``cbn fit``
    would run it (``cbn fit relu_lowpass --param spatial=... --param K=... --samples ...
    --seed SEED --width ... --seeds 1 --ladder-restarts 1``, budgets from ``cfg``).

    The sweep's runs are seeded by their seed index, here 0 (``ladder_restarts = 1``: the first
    rung starts at random from seed 0); the samples by ``cfg['seed']``. A recipe seed other
    than 0 would decouple the two, so it is refused.

    Raises
    ------
    ValueError
        If ``cfg['seed']`` is not 0.
    """
    if cfg["seed"] != 0:
        raise ValueError(f"a figure's sweep runs engine seed 0; its config seed must be 0 "
                         f"(got {cfg['seed']}) for the samples and the start to share it")
    target = {"spec": "relu_lowpass",
              "params": {"spatial": [int(n) for n in cfg["spatial"]], "K": int(cfg["K"])}}
    return SweepSpec(target=target, depths=[int(L) for L in depths], seeds=1,
                     n_samples=cfg["samples"], sample_seed=cfg["seed"], width=cfg["width"],
                     settings=_settings(cfg, device), start=start, ladder_restarts=1)


def run_sweep(spec: SweepSpec) -> list[MinNormResult]:
    """Run ``spec`` through :func:`cbn.numerics.sweep.execute_sweep` on a temporary store and
    return its runs in depth order.

    The store lives only for this call: the figure's own record (in the runner's store, keyed
    by the recipe's sources) is what is kept, so a recipe's ``compute`` keeps its interface.
    """
    with tempfile.TemporaryDirectory(prefix="cbn-figure-sweep-") as folder:
        report = execute_sweep(spec, ResultStore(folder), progress=False)
        return [result_from_record(r) for r in report.records]


@lru_cache(maxsize=8)
def _ladder(key: str, device: str) -> tuple:
    cfg = json.loads(key)
    return tuple(run_sweep(sweep_spec(cfg, Start("ladder"), cfg["depths"], device)))


def min_norm_ladder(cfg: dict, device: str = "cpu") -> list[MinNormResult]:
    """Min-norm ReLU fits of ``relu(P_K x)`` at increasing depths, each warm-started from the
    previous one (the ladder of :func:`cbn.numerics.sweep.execute_ladder`, one seed, through
    :func:`sweep_spec`).

    ``cfg`` keys: ``spatial, K, samples, seed, width, depths, max_iter, inner_iter`` (the
    L-BFGS budgets of :func:`cbn.numerics.search.min_norm_fit`, per depth). Deterministic per
    ``cfg``; cached in-process so that two recipes on the same ladder train it once.

    Returns
    -------
    list of :class:`cbn.numerics.search.MinNormResult` (norms are UPPER bounds on the cost of the
    function each network computes on the samples; residuals in each record).
    """
    keys = ("spatial", "K", "samples", "seed", "width", "depths", "max_iter", "inner_iter")
    key = json.dumps({k: cfg[k] for k in keys}, sort_keys=True)
    return list(_ladder(key, device))


def factorisation_start_fit(cfg: dict, depth: int, device: str = "cpu") -> MinNormResult:
    """Min-norm ReLU fit of ``relu(P_K x)`` at ``depth`` started from the factorisation network.

    The sweep's construction start (``--init construction --start-noise``): the target's
    construction with ``cfg['width']`` channels, every filter entry moved by
    ``cfg['start_noise']`` times its layer's rms (:func:`cbn.numerics.starts.perturbed_network`,
    seeded by the run's seed 0): unperturbed, its dropped frequencies and padded channels are
    exact zeros that no gradient moves. ``cfg`` has the keys of :func:`min_norm_ladder` plus
    ``start_noise``.

    Returns
    -------
    :class:`cbn.numerics.search.MinNormResult` (its norm is an UPPER bound, like the ladder's).
    """
    start = Start("construction", noise=cfg["start_noise"])
    (result,) = run_sweep(sweep_spec(cfg, start, [depth], device))
    return result
