"""Depth-scaling fits L R0 + R1 + R2/L against exact linear costs (cbn.numerics.fitting) and the
flags and notes of cbn.numerics.diagnosis."""

from __future__ import annotations

import numpy as np
import pytest

from cbn.numerics.diagnosis import diagnose
from cbn.numerics.fitting import depths_to_resolve, fit_depth_scaling
from cbn.numerics.fourier import multipliers_from_filters
from cbn.numerics.linear import expansion_terms, representation_cost


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
    assert fit.R0_resolved and fit.R0_source == "fit"
    assert diagnose(fit, r0_lower_bound=r0).flags == []


@pytest.mark.parametrize("seed", [1, 3, 7])
def test_unresolved_rank_is_noted_not_rounded(seed):
    """Singular values ~0.01: depths 2..8 cannot resolve R0; the fit claims no integer and
    says which deeper depths would resolve it (checked here on the closed form itself)."""
    mult = _target(seed, 0.1)
    assert np.linalg.svd(mult, compute_uv=False).min() < 0.05
    r0 = round(expansion_terms(mult)[0])
    depths = [2, 3, 4, 6, 8]
    cost = lambda L: representation_cost(mult, L)  # noqa: E731
    fit = fit_depth_scaling(depths, [cost(L) for L in depths])
    assert round(fit.R0_free) != r0 and not fit.R0_resolved
    assert fit.R0 is None and fit.R1 is None and fit.R0_source == "unresolved"
    d = diagnose(fit)
    assert d.flags == [] and any("not resolved" in n for n in d.notes)
    extra = depths_to_resolve(depths, cost, r0)
    assert extra is not None and f"adding depths {','.join(map(str, extra))}" in \
        diagnose(fit, exact=[cost(L) for L in depths], exact_terms=expansion_terms(mult),
                 cost=cost).notes[-1]
    wider = sorted(depths + extra)
    refit = fit_depth_scaling(wider, [cost(L) for L in wider])
    assert refit.R0_resolved and refit.R0 == r0


def test_flags_name_their_evidence():
    depths = [2, 3, 4, 6, 8]
    good = [4 * L + 1 for L in depths]
    fit = fit_depth_scaling(depths, good)
    assert diagnose(fit, r0_lower_bound=4, r0_upper_bound=4).flags == []
    bad = [4 * L + 1 for L in depths[:-1]] + [20.0]  # deepest run stuck below its trend
    flags = diagnose(fit_depth_scaling(depths, bad), r0_lower_bound=4).flags
    assert len(flags) == 1 and "depth 8: norm 20 is below depth 6's 25 (by 5)" in flags[0]
    steep = diagnose(fit_depth_scaling(depths, [6 * L for L in depths]), r0_upper_bound=4).flags
    assert len(steep) == 1 and "above the R0 upper bound 4" in steep[0] and "by 2.000" in steep[0]
    low = diagnose(fit_depth_scaling(depths, [2 * L for L in depths]), r0_lower_bound=4).flags
    assert len(low) == 1 and "below the R0 lower bound 4 by 2.000" in low[0]
    # exact costs: a norm above (below) its exact cost is flagged at its depth, nothing else
    exact = [4 * L + 1 for L in depths]
    above = list(exact)
    above[2] *= 1.01
    flags = diagnose(fit_depth_scaling(depths, above), exact=exact, exact_terms=(4, 1, 0)).flags
    assert len(flags) == 1 and flags[0].startswith("depth 4: norm 17.17 is above the exact")
    below = list(exact)
    below[2] *= 1 - 1e-5
    flags = diagnose(fit_depth_scaling(depths, below), exact=exact, exact_terms=(4, 1, 0)).flags
    assert len(flags) == 1 and "below the exact cost" in flags[0]
    half = fit_depth_scaling(depths, [3.5 * L for L in depths])
    assert half.R0 is None and not half.R0_resolved  # 3.5: between two integers


def test_exact_costs_report_truncation_bias_not_failure():
    """Exact costs of a target with R2 = 16.4 at depths 2,3,4,6: the free slope is biased low
    (14.24 for R0 = 15); every norm is exact, so that is the fit's bias, not a failure."""
    m = np.arange(16)
    mult = ((1 + np.exp(2j * np.pi * m / 16)) / 2)[:, None, None]
    r0, r1, r2 = expansion_terms(mult)
    depths = [2, 3, 4, 6]
    exact = [representation_cost(mult, L) for L in depths]
    fit = fit_depth_scaling(depths, exact, r0_known=round(r0))
    assert fit.R0_free == pytest.approx(14.2365, abs=1e-4) and not fit.R0_resolved
    d = diagnose(fit, exact=exact, exact_terms=(r0, r1, r2), r0_lower_bound=15)
    assert d.flags == []
    assert d.truncation_bias["R0_free"] == pytest.approx(fit.R0_free - 15)
    assert d.truncation_bias["R1"] == pytest.approx(fit.R1 - r1)
    assert "truncation bias" in d.notes[0]


def test_fit_rejects_bad_input():
    with pytest.raises(ValueError, match="3 distinct"):
        fit_depth_scaling([2, 2, 3], [1, 2, 3])
    with pytest.raises(ValueError, match="non-finite"):
        fit_depth_scaling([2, 3, 4], [1, np.nan, 3])
