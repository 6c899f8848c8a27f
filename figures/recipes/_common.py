"""Helpers shared by the figure recipes: frequency labels and a warm-started min-norm ladder.

Not a recipe (the name starts with an underscore, it is not in ``RECIPES``).

The ladder target is ``f(x) = relu(P_K x)`` with ``P_K`` the orthogonal low-pass projection on
the frequencies ``|m|_inf <= K`` (``numerics.targets`` 'lowpass'). It factors through those
frequencies: on the samples, ``g = P_K x + B >= 0`` for a constant ``B``, a projection layer is
the identity on ``g`` and ``relu(g - B)`` gives ``f``; so ``R0 <= #{m : |m|_inf <= K}`` (an UPPER
bound, THEORY.md 4) and the CBN picture predicts exactly those frequencies kept inside the
bottleneck, one singular value near 1 each, every other frequency near 0.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from numerics.fourier import (
    centred_labels,
    filters_from_multipliers,
    frequency_degrees,
    frequency_types,
)
from numerics.minnorm import pad_to_depth
from numerics.search import Architecture, SearchSettings, Start, min_norm_fit
from numerics.sweep import pad_hidden_channels, perturbed_network
from numerics.targets import get_target


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


def lowpass_relu_data(spatial: Sequence[int], K: int, samples: int,
                      seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian inputs ``X`` (N, 1, *spatial), ``Y = relu(P_K X)`` and the predicted kept mask.

    Returns
    -------
    X, Y : arrays (N, 1, *spatial); keep : bool array ``spatial``, True where ``|m|_inf <= K``.
    """
    spatial = tuple(int(n) for n in spatial)
    target = get_target("lowpass", spatial=spatial, K=K)
    X = np.random.default_rng(seed).standard_normal((samples, 1, *spatial))
    Y = np.maximum(target.evaluate(X), 0.0)
    return X, Y, frequency_degrees(spatial)["linf"] <= K


def factorisation_network(spatial: Sequence[int], K: int, X: np.ndarray,
                          depth: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """One-channel ReLU net computing ``relu(P_K x)`` exactly on ``X`` (THEORY.md 4 construction).

    ``depth = 2``: ``P_K``, then the identity. ``depth >= 3``: ``z_1 = P_K x + B`` with
    ``B = max(0, max(-P_K X))`` so ``relu`` is the identity on the samples, ``depth - 3`` layers
    ``P_K`` (the identity on that representation), ``z = P_K a - B = P_K x``, ``relu``, identity.
    Its norm is an UPPER bound on the cost of ``relu(P_K x)`` on ``X``.

    Returns
    -------
    filters, biases : lists of ``depth`` arrays (layout of :mod:`numerics.fourier`)
    """
    spatial = tuple(int(n) for n in spatial)
    keep = frequency_degrees(spatial)["linf"] <= K
    proj = filters_from_multipliers(keep.astype(np.complex128)[..., None, None])
    ident = filters_from_multipliers(np.ones((*spatial, 1, 1), dtype=np.complex128))
    if depth == 2:
        return [proj, ident], [np.zeros(1), np.zeros(1)]
    low = get_target("lowpass", spatial=spatial, K=K).evaluate(X)
    B = max(0.0, float(np.max(-low)))
    filters = [proj] * (depth - 1) + [ident]
    biases = [np.array([B])] + [np.zeros(1)] * (depth - 3) + [np.array([-B]), np.zeros(1)]
    return filters, biases


def network_arrays(prefix: str, filters: list[np.ndarray], biases: list[np.ndarray]) -> dict:
    """Flatten a network into store arrays ``{prefix}W{l}`` and ``{prefix}b{l}``."""
    out = {f"{prefix}W{i}": np.asarray(w) for i, w in enumerate(filters)}
    out.update({f"{prefix}b{i}": np.asarray(b) for i, b in enumerate(biases)})
    return out


def network_from(arrays: dict, prefix: str, depth: int) -> tuple[list, list]:
    """Inverse of :func:`network_arrays`."""
    return ([arrays[f"{prefix}W{i}"] for i in range(depth)],
            [arrays[f"{prefix}b{i}"] for i in range(depth)])


def _settings(cfg: dict, device: str) -> SearchSettings:
    """The search settings of a recipe config: its L-BFGS budgets, the rest default."""
    return SearchSettings(max_iter=cfg["max_iter"], inner_iter=cfg["inner_iter"], device=device)


@lru_cache(maxsize=8)
def _ladder(key: str, device: str) -> tuple:
    cfg = json.loads(key)
    X, Y, _ = lowpass_relu_data(cfg["spatial"], cfg["K"], cfg["samples"], cfg["seed"])
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
    previous one by :func:`numerics.minnorm.pad_to_depth`.

    ``cfg`` keys: ``spatial, K, samples, seed, width, depths, max_iter, inner_iter`` (the
    L-BFGS budgets of :func:`numerics.search.min_norm_fit`, per depth). Deterministic per
    ``cfg``; cached in-process so that two recipes on the same ladder train it once.

    Returns
    -------
    list of :class:`numerics.search.MinNormResult` (norms are UPPER bounds on the cost of the
    function each network computes on the samples; residuals in each record).
    """
    keys = ("spatial", "K", "samples", "seed", "width", "depths", "max_iter", "inner_iter")
    key = json.dumps({k: cfg[k] for k in keys}, sort_keys=True)
    return list(_ladder(key, device))


def factorisation_start_fit(cfg: dict, depth: int, device: str = "cpu"):
    """Min-norm ReLU fit of ``relu(P_K x)`` at ``depth`` started from the factorisation network.

    The start is :func:`factorisation_network` padded to ``cfg['width']`` channels, every filter
    entry moved by ``cfg['start_noise']`` times its layer's rms
    (:func:`numerics.sweep.perturbed_network`, seeded by ``cfg['seed']``): unperturbed, its
    dropped frequencies and padded channels are exact zeros that no gradient moves. ``cfg`` has
    the keys of :func:`min_norm_ladder` plus ``start_noise``.

    Returns
    -------
    :class:`numerics.search.MinNormResult` (its norm is an UPPER bound, like the ladder's).
    """
    X, Y, _ = lowpass_relu_data(cfg["spatial"], cfg["K"], cfg["samples"], cfg["seed"])
    filters, biases = pad_hidden_channels(*factorisation_network(cfg["spatial"], cfg["K"], X,
                                                                 depth), cfg["width"])
    start = perturbed_network(filters, biases, cfg["start_noise"], cfg["seed"])
    return min_norm_fit(X, Y, Architecture.uniform(depth, cfg["width"]),
                        Start.given(start, cfg["seed"]), _settings(cfg, device))
