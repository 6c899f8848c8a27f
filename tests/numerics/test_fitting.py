"""Depth-scaling fits L R0 + R1 + R2/L against exact linear costs (numerics.fitting)."""

from __future__ import annotations

import numpy as np
import pytest

from numerics.fitting import consistency_flags, fit_depth_scaling
from numerics.fourier import multipliers_from_filters
from numerics.linear import expansion_terms, representation_cost


def test_exact_three_term_series_is_recovered():
    depths = [2, 3, 4, 6, 8]
    norms = [7 * L - 3.5 + 2.25 / L for L in depths]
    fit = fit_depth_scaling(depths, norms)
    # noise-free data of exactly the fitted form: least squares recovers it to round-off
    assert fit.R0_free == pytest.approx(7, abs=1e-10)
    assert fit.R0 == 7
    assert fit.R1 == pytest.approx(-3.5, abs=1e-9)
    assert fit.R2 == pytest.approx(2.25, abs=1e-8)
    assert max(map(abs, fit.residuals)) < 1e-9
    assert fit.R0_interval[0] == pytest.approx(7, abs=1e-9)


def _target(seed: int, noise: float) -> np.ndarray:
    """2x2 filter on d=8: second column 0.3 x first (+ noise): rank 1 (noise 0) or 2."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((2, 2, 8)) * rng.uniform(0.5, 1.5)
    W[:, 1] = 0.3 * W[:, 0] + noise * rng.standard_normal((2, 8))
    return multipliers_from_filters(W)


@pytest.mark.parametrize("seed,noise", [(0, 0.0), (1, 0.0), (2, 0.0), (0, 1.0), (1, 1.0)])
def test_fit_of_exact_linear_costs_gives_rank_and_R1(seed, noise):
    """The issue's criterion on exact costs: R0 rounds to the CBN rank, R1 within 5%."""
    mult = _target(seed, noise)
    r0, r1, _ = expansion_terms(mult)
    depths = [2, 3, 4, 6, 8]
    fit = fit_depth_scaling(depths, [representation_cost(mult, L) for L in depths])
    assert fit.R0 == round(r0)
    assert abs(fit.R1 - r1) <= 0.05 * abs(r1), (fit.R1, r1)
    lo, hi = fit.R0_interval
    assert lo <= fit.R0_free <= hi
    assert consistency_flags(fit, r0_lower_bound=r0) == []


@pytest.mark.parametrize("seed", [1, 3, 7])
def test_unresolved_rank_is_flagged_not_silent(seed):
    """Singular values ~0.01: depths 2..8 cannot resolve R0; the fit must say so."""
    mult = _target(seed, 0.1)
    assert np.linalg.svd(mult, compute_uv=False).min() < 0.05
    r0 = expansion_terms(mult)[0]
    depths = [2, 3, 4, 6, 8]
    fit = fit_depth_scaling(depths, [representation_cost(mult, L) for L in depths])
    assert fit.R0 != round(r0)
    assert any("not resolved" in f for f in consistency_flags(fit))


def test_flags_catch_optimisation_failures():
    depths = [2, 3, 4, 6, 8]
    good = [4 * L + 1 for L in depths]
    fit = fit_depth_scaling(depths, good)
    assert consistency_flags(fit, r0_lower_bound=4) == []
    bad = [4 * L + 1 for L in depths[:-1]] + [20.0]  # deepest run stuck below its trend
    flags = consistency_flags(fit_depth_scaling(depths, bad), r0_lower_bound=4)
    assert any("decreases" in f for f in flags)
    assert any("below the lower bound" in f for f in flags)
    steep = consistency_flags(fit_depth_scaling(depths, [6 * L for L in depths]),
                              r0_upper_bound=4)
    assert len(steep) == 1 and "above the upper bound" in steep[0]
    flags = consistency_flags(fit, lower_bounds=[9.0, 13.0, 17.5, 25.0, 33.0])
    assert len(flags) == 1 and "depth 4" in flags[0]
    flags = consistency_flags(fit, residual_max=[0, 0, 1e-3, 0, 0], residual_tolerance=1e-6)
    assert len(flags) == 1 and "residual" in flags[0]
    half = fit_depth_scaling(depths, [3.5 * L for L in depths])
    assert any("ambiguous" in f for f in consistency_flags(half))


def test_fit_rejects_bad_input():
    with pytest.raises(ValueError, match="3 distinct"):
        fit_depth_scaling([2, 2, 3], [1, 2, 3])
    with pytest.raises(ValueError, match="non-finite"):
        fit_depth_scaling([2, 3, 4], [1, np.nan, 3])
