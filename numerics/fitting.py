"""Fits of the depth scaling ``R(L) = L R0 + R1 + R2 / L + ...`` (THEORY.md section 2).

Two stages, because the series is asymptotic and a free fit of few terms on moderate depths
absorbs the truncated terms into ``R1`` (on exact linear costs at depths 2..8 a free
``L R0 + R1 + R2/L`` fit gets ``R0`` within 0.1 but ``R1`` only within ~15%):

1. **free fit** of ``L R0 + R1 (+ R2/L)`` by least squares: ``R0_free`` with a leave-one-out
   interval (range of the estimates with one depth left out) and residuals;
2. **integer-R0 fit**: ``R0`` is a sum of per-frequency ranks, an integer, so it is fixed at
   ``round(R0_free)`` and ``norm - L R0 = R1 + R2/L + R3/L^2 ...`` is fitted with as many
   correction terms as the depths allow (at most 3, keeping at least one degree of freedom);
   ``R1`` and its leave-one-out interval come from this stage.

When ``R0_free`` is not close to an integer (:data:`INTEGER_TOLERANCE`) the rounding is
ambiguous, and when the leave-one-out range of ``R0_free`` is wider than
``2 * INTEGER_TOLERANCE`` the depths do not resolve ``R0``; :func:`consistency_flags` says both.
The second happens for targets with singular values far from 1 (``|2 log s| / L`` not small at
the deepest depth: e.g. ``s ~ 0.02`` with depths 2..8 gives ``R0_free ~ 14.7`` for a rank 16);
then deeper runs are needed.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    ``R0`` (integer), ``R1``, ``R2`` and ``residuals`` from the fit with ``R0`` fixed. The
    intervals are leave-one-out ranges (None when too few depths). All values are estimates of
    the fitted quantity, with the bound status of the norms they were fitted to.
    """

    depths: list[int]
    norms: list[float]
    R0_free: float
    R1_free: float
    R2_free: float | None
    residuals_free: list[float]
    R0_interval: list[float] | None
    R0: int
    R1: float
    R2: float | None
    R1_interval: list[float] | None
    residuals: list[float]
    correction_powers: list[int]
    method: str

    def to_dict(self) -> dict:
        return asdict(self)


def fit_depth_scaling(depths: Sequence[int], norms: Sequence[float]) -> DepthFit:
    """Fit ``norm(L) ~ L R0 + R1 + R2/L + ...`` (see the module docstring).

    Parameters
    ----------
    depths : at least 3 distinct depths
    norms : squared parameter norms (or costs) at those depths

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
    r0 = int(round(free[0]))
    z = y - r0 * L
    n_corr = max(1, min(3, len(L) - 2))
    corr_powers = [0, -1, -2][:n_corr]
    corr = _lstsq(L, z, corr_powers)
    res = z - _design(L, corr_powers) @ corr
    return DepthFit(
        depths=[int(v) for v in L],
        norms=[float(v) for v in y],
        R0_free=float(free[0]),
        R1_free=float(free[1]),
        R2_free=float(free[2]) if len(free_powers) == 3 else None,
        residuals_free=res_free.tolist(),
        R0_interval=_loo_range(L, y, free_powers, 0),
        R0=r0,
        R1=float(corr[0]),
        R2=float(corr[1]) if n_corr >= 2 else None,
        R1_interval=_loo_range(L, z, corr_powers, 0),
        residuals=res.tolist(),
        correction_powers=corr_powers,
        method=(
            f"free least squares on L^{free_powers}; then R0 rounded to an integer and "
            f"norm - L*R0 fitted on L^{corr_powers}; intervals: leave-one-out ranges"
        ),
    )


def consistency_flags(
    fit: DepthFit,
    r0_lower_bound: float | None = None,
    r0_upper_bound: float | None = None,
    lower_bounds: Sequence[float | None] | None = None,
    residual_max: Sequence[float] | None = None,
    residual_tolerance: float | None = None,
    lower_bound_rtol: float = 1e-6,
) -> list[str]:
    """Reasons to treat a sweep as an optimisation failure rather than a finding.

    Parameters
    ----------
    fit : the depth fit of the best norms
    r0_lower_bound : a proven lower bound on R0 (e.g. constant-input Jacobian ranks)
    r0_upper_bound : a proven upper bound on R0 (a construction); a steeper slope means the
        deeper runs are not at the minimum
    lower_bounds : per-depth lower bounds on the cost (closed form or Schatten), aligned with
        ``fit.depths``; a norm below its lower bound means the run did not interpolate
    residual_max : per-depth max |f_theta - f| on the data; ``residual_tolerance`` its limit
    lower_bound_rtol : relative slack below a lower bound that is still accepted; a run that
        interpolates only up to a small residual may sit that little below the exact cost

    Returns
    -------
    list of one-line flags (empty when nothing is suspicious)
    """
    flags: list[str] = []
    if abs(fit.R0_free - fit.R0) > INTEGER_TOLERANCE:
        flags.append(
            f"R0_free = {fit.R0_free:.3f} is not within {INTEGER_TOLERANCE} of an integer: "
            f"rounding to {fit.R0} is ambiguous"
        )
    if fit.R0_interval is not None and fit.R0_interval[1] - fit.R0_interval[0] > (
        2 * INTEGER_TOLERANCE
    ):
        lo, hi = fit.R0_interval
        flags.append(
            f"R0 is not resolved by these depths (leave-one-out range [{lo:.3f}, {hi:.3f}]): "
            f"the series has not reached its asymptotic regime; add deeper runs"
        )
    if r0_lower_bound is not None and fit.R0_free < r0_lower_bound - INTEGER_TOLERANCE:
        flags.append(
            f"fitted slope R0_free = {fit.R0_free:.3f} is below the lower bound "
            f"{r0_lower_bound:g}: the deeper runs are not at the minimum (optimisation failure)"
        )
    if r0_upper_bound is not None and fit.R0_free > r0_upper_bound + INTEGER_TOLERANCE:
        flags.append(
            f"fitted slope R0_free = {fit.R0_free:.3f} is above the upper bound "
            f"{r0_upper_bound:g} of a construction: the deeper runs are not at the minimum "
            f"(optimisation failure)"
        )
    norms = np.asarray(fit.norms)
    half = len(norms) // 2
    if np.any(np.diff(norms[half:]) < 0):
        flags.append(
            "norm decreases with depth among the deepest runs, against the L*R0 growth: "
            "optimisation failure"
        )
    if lower_bounds is not None:
        for L, n, lb in zip(fit.depths, norms, lower_bounds):
            if lb is not None and n < lb * (1 - lower_bound_rtol):
                flags.append(
                    f"depth {L}: norm {n:.6g} below the lower bound {lb:.6g}: the run does "
                    f"not represent the target"
                )
    if residual_max is not None and residual_tolerance is not None:
        for L, r in zip(fit.depths, residual_max):
            if r > residual_tolerance:
                flags.append(
                    f"depth {L}: interpolation residual {r:.2e} > {residual_tolerance:.0e}: "
                    f"the norm is not an upper bound on R for the target"
                )
    return flags
