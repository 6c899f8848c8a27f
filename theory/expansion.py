"""Large-depth expansion of the linear representation cost, derived symbolically.

For one singular value ``s > 0`` the depth-``L`` cost is ``L s^{2/L} = L exp((2/L) log s)``.
Writing ``t = log s`` and ``eps = 1/L`` this is ``exp(2 eps t) / eps``; its Laurent series in
``eps`` gives ``L s^{2/L} = sum_k c_k(t) L^{1-k}``. Summed over singular values and frequencies,
``c_0`` yields ``R0`` (the rank), ``c_1`` yields ``R1`` and ``c_2`` yields ``R2``
(paper_notes/theory.md section 3).

Nothing here is typed in by hand: the coefficients come from :func:`sympy.series`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np
import sympy as sp

#: Symbol for ``log s``.
T = sp.Symbol("t", real=True)
#: Symbol for ``1 / L``.
EPS = sp.Symbol("epsilon", positive=True)


@cache
def expansion_coefficients(order: int = 3) -> tuple[sp.Expr, ...]:
    """Coefficients ``c_0 .. c_{order-1}`` of ``L s^{2/L} = sum_k c_k(log s) L^{1-k}``.

    Returns
    -------
    tuple of sympy expressions in :data:`T`. For example ``c_0 = 1, c_1 = 2 t, c_2 = 2 t^2``.
    """
    if order < 1:
        raise ValueError("order must be >= 1")
    series = sp.series(sp.exp(2 * EPS * T) / EPS, EPS, 0, order - 1).removeO()
    expanded = sp.expand(series * EPS)  # polynomial in eps: sum_k c_k eps^k
    return tuple(sp.simplify(expanded.coeff(EPS, k)) for k in range(order))


@cache
def expansion_coefficient_functions(order: int = 3) -> tuple[Callable, ...]:
    """NumPy-callable versions of :func:`expansion_coefficients`.

    Each function maps an array of ``log s`` values to an array of the same shape.
    """
    funcs = [sp.lambdify(T, c, "numpy") for c in expansion_coefficients(order)]
    return tuple(_broadcasting(f) for f in funcs)


def _broadcasting(func: Callable) -> Callable:
    def wrapped(t):
        return np.broadcast_to(np.asarray(func(t), dtype=float), np.shape(t)).copy()

    return wrapped

