"""Fits of the depth scaling ``R(L) = L R0 + R1 + R2 / L + ...`` (paper_notes/theory.md section 2).

Two stages, because the series is asymptotic and a free fit of few terms on moderate depths
absorbs the truncated terms into ``R1`` (on exact linear costs at depths 2..8 a free
``L R0 + R1 + R2/L`` fit gets ``R0`` within 0.1 but ``R1`` only within ~15%):

1. **free fit** of ``L R0 + R1 (+ R2/L)`` by least squares: ``R0_free`` with a leave-one-out
   interval (range of the estimates with one depth left out) and residuals;
2. **integer-R0 fit**: ``R0`` is a sum of per-frequency ranks, an integer, so it is fixed at
   the exact value when one is known, else at ``round(R0_free)`` when the depths resolve it,
   and ``norm - L R0 = R1 + R2/L + R3/L^2 ...`` is fitted with as many correction terms as the
   depths allow (at most 3, keeping at least one degree of freedom); ``R1`` and its
   leave-one-out interval come from this stage.

The depths **resolve** ``R0`` when the leave-one-out range of ``R0_free`` exists (4 depths or
more) and is at most ``2 * INTEGER_TOLERANCE`` wide, and ``R0_free`` is within
``INTEGER_TOLERANCE`` of an integer. Otherwise no integer is claimed and no ``R1`` is fitted:
the series has not reached its asymptotic regime at these depths (targets with singular values
far from 1: ``|2 log s| / L`` not small at the deepest depth; at shallow depths the truncated
free fit is biased low by ``~R2 / L^2``, and ``R2 = 2 sum (log s)^2 > 0`` for linear targets).
The flags on a sweep (optimisation failures, with their evidence) are in
:mod:`cbn.numerics.diagnosis`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

#: Distance of ``R0_free`` to the nearest integer beyond which the rounded ``R0`` is flagged as
#: ambiguous. The free fit's truncation bias on exact linear costs (depths >= 2) is < 0.1, so
#: 0.25 separates "an integer seen through truncation" from "between two integers".
INTEGER_TOLERANCE = 0.25


def _design(depths: np.ndarray, powers: Sequence[int]) -> np.ndarray:
    return np.stack([depths ** float(p) for p in powers], axis=1)


def _lstsq(depths: np.ndarray, values: np.ndarray, powers: Sequence[int]) -> np.ndarray:
    coef, *_ = np.linalg.lstsq(_design(depths, powers), values, rcond=None)
    return coef


def _loo_range(depths, values, powers, index) -> list[float] | None:
    """Range of coefficient ``index`` over leave-one-out fits (None if too few points)."""
    n = len(depths)
    if n - 1 < len(powers) + 1:
        return None
    est = []
    for i in range(n):
        keep = np.arange(n) != i
        est.append(float(_lstsq(depths[keep], values[keep], powers)[index]))
    return [min(est), max(est)]


@dataclass(frozen=True)
class DepthFit:
    """Result of :func:`fit_depth_scaling`.

    ``R0_free``/``R1_free``/``R2_free`` and ``residuals_free`` come from the free fit;
    ``R0`` (integer), ``R1``, ``R2`` and ``residuals`` from the fit with ``R0`` fixed, all None
    when ``R0`` is neither known nor resolved (``R0_source``: ``"exact"``, ``"fit"`` or
    ``"unresolved"``). The intervals are leave-one-out ranges (None when too few depths). All
    values are estimates of the fitted quantity, with the bound status of the norms they were
    fitted to.
    """

    depths: list[int]
    norms: list[float]
    R0_free: float
    R1_free: float
    R2_free: float | None
    residuals_free: list[float]
    R0_interval: list[float] | None
    R0_resolved: bool
    R0_source: str
    R0: int | None
    R1: float | None
    R2: float | None
    R1_interval: list[float] | None
    residuals: list[float] | None
    correction_powers: list[int]
    method: str

    def to_dict(self) -> dict:
        return asdict(self)


def resolves(R0_free: float, interval: Sequence[float] | None) -> bool:
    """Whether a free-fit slope and its leave-one-out range resolve an integer ``R0``."""
    return (interval is not None and interval[1] - interval[0] <= 2 * INTEGER_TOLERANCE
            and abs(R0_free - round(R0_free)) <= INTEGER_TOLERANCE)


def fit_depth_scaling(depths: Sequence[int], norms: Sequence[float],
                      r0_known: int | None = None) -> DepthFit:
    """Fit ``norm(L) ~ L R0 + R1 + R2/L + ...`` (see the module docstring).

    Parameters
    ----------
    depths : at least 3 distinct depths
    norms : squared parameter norms (or costs) at those depths
    r0_known : the exact ``R0`` when theory gives it (a linear target fitted by linear
        networks); the second stage then uses it instead of the rounded free slope

    Raises
    ------
    ValueError
        On fewer than 3 distinct depths, mismatched lengths or non-finite norms.
    """
    L = np.asarray(depths, dtype=float)
    y = np.asarray(norms, dtype=float)
    if L.shape != y.shape or L.ndim != 1:
        raise ValueError(f"depths and norms must be 1-D of equal length, got {L.shape}, {y.shape}")
    if len(np.unique(L)) != len(L) or len(L) < 3:
        raise ValueError(f"the depth fit needs at least 3 distinct depths, got {list(depths)}")
    if not np.all(np.isfinite(y)):
        raise ValueError("the depth fit got a non-finite norm")
    order = np.argsort(L)
    L, y = L[order], y[order]
    free_powers = [1, 0, -1] if len(L) >= 5 else [1, 0]
    free = _lstsq(L, y, free_powers)
    res_free = y - _design(L, free_powers) @ free
    interval = _loo_range(L, y, free_powers, 0)
    resolved = resolves(float(free[0]), interval)
    n_corr = max(1, min(3, len(L) - 2))
    corr_powers = [0, -1, -2][:n_corr]
    if r0_known is not None:
        r0, source = int(r0_known), "exact"
    elif resolved:
        r0, source = int(round(free[0])), "fit"
    else:
        r0, source = None, "unresolved"
    corr = res = r1_interval = None
    if r0 is not None:
        z = y - r0 * L
        corr = _lstsq(L, z, corr_powers)
        res = (z - _design(L, corr_powers) @ corr).tolist()
        r1_interval = _loo_range(L, z, corr_powers, 0)
    return DepthFit(
        depths=[int(v) for v in L],
        norms=[float(v) for v in y],
        R0_free=float(free[0]),
        R1_free=float(free[1]),
        R2_free=float(free[2]) if len(free_powers) == 3 else None,
        residuals_free=res_free.tolist(),
        R0_interval=interval,
        R0_resolved=resolved,
        R0_source=source,
        R0=r0,
        R1=None if corr is None else float(corr[0]),
        R2=float(corr[1]) if corr is not None and n_corr >= 2 else None,
        R1_interval=r1_interval,
        residuals=res,
        correction_powers=corr_powers,
        method=(
            f"free least squares on L^{free_powers}; then R0 fixed ({source}) and "
            f"norm - L*R0 fitted on L^{corr_powers}; intervals: leave-one-out ranges"
        ),
    )


def depths_to_resolve(depths: Sequence[int], cost: Callable[[int], float],
                      r0: int, max_factor: int = 64) -> list[int] | None:
    """Deeper depths that, added to ``depths``, let the fit of the costs ``cost(L)`` resolve
    ``R0`` at its true value ``r0``: the shortest doubling ladder ``2 D, 4 D, ...`` beyond the
    deepest depth ``D`` (None if none up to ``max_factor * D`` does). Meant for exact closed
    forms, whose fit at more depths is what a sweep at those depths would give.
    """
    deepest, extra = max(depths), []
    while 2 * (extra[-1] if extra else deepest) <= max_factor * deepest:
        extra.append(2 * (extra[-1] if extra else deepest))
        trial = sorted(set(depths) | set(extra))
        fit = fit_depth_scaling(trial, [cost(L) for L in trial])
        if fit.R0_resolved and round(fit.R0_free) == r0:
            return extra
    return None
