"""The sympy-derived expansion of L s^{2/L} in powers of 1/L."""

from __future__ import annotations

import numpy as np
import sympy as sp

from cbn.theory.expansion import T, expansion_coefficient_functions, expansion_coefficients


def test_first_coefficients_match_exp_series_by_hand():
    # exp(2t/L) = 1 + 2t/L + (2t)^2/(2 L^2) + (2t)^3/(6 L^3): times L gives 1, 2t, 2t^2, 4t^3/3.
    c = expansion_coefficients(4)
    assert sp.simplify(c[0] - 1) == 0
    assert sp.simplify(c[1] - 2 * T) == 0
    assert sp.simplify(c[2] - 2 * T**2) == 0
    assert sp.simplify(c[3] - sp.Rational(4, 3) * T**3) == 0


def test_truncated_series_error_is_third_order():
    s = np.array([0.3, 1.7, 4.0])
    funcs = expansion_coefficient_functions(3)
    errs = []
    depths = np.array([50.0, 100.0, 200.0, 400.0])
    for L in depths:
        approx = sum(f(np.log(s)) * L ** (1 - k) for k, f in enumerate(funcs))
        errs.append(np.max(np.abs(L * s ** (2 / L) - approx)))
    slope = np.polyfit(np.log(depths), np.log(errs), 1)[0]
    assert abs(slope + 2) < 0.05  # first neglected term is c_3 L^{-2}


def test_functions_broadcast_constants():
    f0 = expansion_coefficient_functions(3)[0]
    assert f0(np.zeros((2, 3))).shape == (2, 3)
