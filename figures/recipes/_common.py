"""Helpers shared by the figure recipes: frequency labels and a warm-started min-norm ladder.

Not a recipe (the name starts with an underscore, it is not in ``RECIPES``).

The ladder target is the registered ``relu_lowpass`` (:mod:`cbn.numerics.targets.relu_lowpass`):
``f(x) = relu(P_K x)``, which factors through the frequencies ``|m|_inf <= K``, so
``R0 <= #{m : |m|_inf <= K}`` (an UPPER bound, paper_notes/theory.md section 4); its explicit
network is the
target's :meth:`construction`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from cbn.numerics.fourier import centred_labels, frequency_degrees, frequency_types
from cbn.numerics.search import Architecture, SearchSettings, Start, min_norm_fit
from cbn.numerics.starts import pad_to_depth, perturbed_network
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


@lru_cache(maxsize=8)
def _ladder(key: str, device: str) -> tuple:
    cfg = json.loads(key)
    _, X, Y = relu_lowpass_data(cfg["spatial"], cfg["K"], cfg["samples"], cfg["seed"])
    runs, net = [], None
    for L in cfg["depths"]:
        init = None if net is None else pad_to_depth(net, L, X)
        start = Start.random(cfg["seed"]) if init is None else Start.given(init, cfg["seed"],
                                                                            kind="ladder")
        res = min_norm_fit(X, Y, Architecture.uniform(L, cfg["width"]), start,
                           _settings(cfg, device))
        net = res.to_network()
        runs.append(res)
    return tuple(runs)


def min_norm_ladder(cfg: dict, device: str = "cpu") -> list:
    """Min-norm ReLU fits of ``relu(P_K x)`` at increasing depths, each warm-started from the
    previous one by :func:`cbn.numerics.starts.pad_to_depth`.

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


def factorisation_start_fit(cfg: dict, depth: int, device: str = "cpu"):
    """Min-norm ReLU fit of ``relu(P_K x)`` at ``depth`` started from the factorisation network.

    The start is the target's construction with ``cfg['width']`` channels, every filter
    entry moved by ``cfg['start_noise']`` times its layer's rms
    (:func:`cbn.numerics.starts.perturbed_network`, seeded by ``cfg['seed']``): unperturbed, its
    dropped frequencies and padded channels are exact zeros that no gradient moves. ``cfg`` has
    the keys of :func:`min_norm_ladder` plus ``start_noise``.

    Returns
    -------
    :class:`cbn.numerics.search.MinNormResult` (its norm is an UPPER bound, like the ladder's).
    """
    target, X, Y = relu_lowpass_data(cfg["spatial"], cfg["K"], cfg["samples"], cfg["seed"])
    net = target.construction(depth, cfg["width"], X)
    start = perturbed_network(net.filters, net.biases, cfg["start_noise"], cfg["seed"])
    return min_norm_fit(X, Y, Architecture.uniform(depth, cfg["width"]),
                        Start.given(start, cfg["seed"]), _settings(cfg, device))
