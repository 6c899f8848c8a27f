"""Exact DFTs of small integer filters over cyclotomic fields, and exact ranks and costs.

The DFT of an integer filter on ``Z_{d1} x ... x Z_{dk}`` has entries in ``Q(zeta_n)`` with
``n = lcm(d_i)`` and ``zeta_n = exp(2 pi i / n)``. Arithmetic in that field is exact (sympy's
algebraic-number domain), so per-frequency ranks are exact integers, and the singular values
are square roots of the roots of an exactly known characteristic polynomial, evaluated here to
``digits`` significant digits with mpmath. These are the ground truth for the float64 path of
:mod:`cbn.numerics.linear`.

Conventions are those of paper_notes/theory.md section 1: DFT ``x^(m) = sum_p x(p) exp(-2 pi i
<m,p>/d)``;
scaled multipliers ``M(m) = d^{-1/2} W^(m)``, plain ``M(m) = W^(m)``.
"""

from __future__ import annotations

import itertools
import math
from functools import cache

import mpmath
import sympy as sp
from sympy.polys.matrices import DomainMatrix


@cache
def cyclotomic_field(n: int):
    """The field ``Q(zeta_n)`` and its generator ``zeta_n = exp(2 pi i / n)`` as an element."""
    zeta = sp.exp(2 * sp.pi * sp.I / n)
    field = sp.QQ.algebraic_field(zeta)
    return field, field.from_sympy(zeta)


def _power(field, gen, exponent: int, n: int):
    return field.one if exponent % n == 0 else gen ** (exponent % n)


def _conjugate(field, element, gen, n: int):
    """Complex conjugate of an element of ``Q(zeta_n)``: substitute ``zeta -> zeta^{-1}``.

    Elements are stored as polynomials in the generator ``zeta_n`` (coefficients highest power
    first), so conjugation maps ``sum_k c_k zeta^k`` to ``sum_k c_k zeta^{n-k}``.
    """
    out = field.zero
    for k, c in enumerate(reversed(element.to_list())):
        if c:
            out += field.convert(sp.Rational(c)) * _power(field, gen, -k, n)
    return out


def exact_dft(filters: list, spatial: tuple[int, ...]):
    """Exact unnormalised DFT ``W^(m)`` of an integer filter.

    Parameters
    ----------
    filters : nested list of ints, shape (c_out, c_in, *spatial)
    spatial : grid sizes

    Returns
    -------
    field : the cyclotomic field
    blocks : dict mapping each frequency index tuple to a ``DomainMatrix`` (c_out x c_in)
    n : order of the root of unity
    """
    n = math.lcm(*spatial)
    field, gen = cyclotomic_field(n)
    c_out, c_in = len(filters), len(filters[0])

    def entry(i: int, j: int, pix: tuple[int, ...]) -> int:
        v = filters[i][j]
        for p in pix:
            v = v[p]
        return int(v)

    pixels = list(itertools.product(*[range(s) for s in spatial]))
    blocks = {}
    for m in itertools.product(*[range(s) for s in spatial]):
        rows = []
        for i in range(c_out):
            row = []
            for j in range(c_in):
                acc = field.zero
                for pix in pixels:
                    w = entry(i, j, pix)
                    if w:
                        e = -sum(mi * pi * (n // di) for mi, pi, di in zip(m, pix, spatial))
                        acc += field.convert(w) * _power(field, gen, e, n)
                row.append(acc)
            rows.append(row)
        blocks[m] = DomainMatrix(rows, (c_out, c_in), field)
    return field, blocks, n


def exact_ranks(filters: list, spatial: tuple[int, ...]) -> dict[tuple[int, ...], int]:
    """Exact rank of every ``W^(m)`` (the same for both conventions)."""
    _, blocks, _ = exact_dft(filters, spatial)
    return {m: int(b.rank()) for m, b in blocks.items()}


def _hermitian_transpose(field, block: DomainMatrix, gen, n: int) -> DomainMatrix:
    rows, cols = block.shape
    entries = block.to_list()
    out = [[_conjugate(field, entries[i][j], gen, n) for i in range(rows)] for j in range(cols)]
    return DomainMatrix(out, (cols, rows), field)


def exact_squared_singular_values(
    filters: list, spatial: tuple[int, ...], digits: int = 50
) -> dict[tuple[int, ...], list]:
    """Nonzero eigenvalues of ``W^(m)^H W^(m)`` per frequency, to ``digits`` digits.

    The characteristic polynomial is computed exactly in ``Q(zeta_n)``; its exactly-zero
    trailing coefficients are removed (their count is ``c_in - rank``), and the remaining roots
    are found with mpmath at the requested precision.
    """
    field, blocks, n = exact_dft(filters, spatial)
    _, gen = cyclotomic_field(n)
    out = {}
    with mpmath.workdps(digits + 10):
        for m, block in blocks.items():
            gram = _hermitian_transpose(field, block, gen, n) * block
            coeffs = list(gram.charpoly())
            while coeffs and coeffs[-1] == field.zero:
                coeffs.pop()
            numeric = [mpmath.mpf(sp.re(field.to_sympy(c)).evalf(digits + 10)) for c in coeffs]
            if len(numeric) <= 1:
                out[m] = []
                continue
            roots = mpmath.polyroots(numeric, maxsteps=200, extraprec=4 * digits)
            out[m] = sorted((mpmath.re(r) for r in roots), reverse=True)
    return out


def exact_cost(
    filters: list, spatial: tuple[int, ...], depth: int, convention: str = "scaled",
    digits: int = 50,
):
    """``R(A; L)`` of an integer filter to ``digits`` digits (an mpmath number).

    Scaled: ``L sum_m sum_i (lambda_i / d)^{1/L}``; plain: ``(L/d) sum_m sum_i lambda_i^{1/L}``,
    with ``lambda_i`` the nonzero eigenvalues of ``W^(m)^H W^(m)``.
    """
    d = math.prod(spatial)
    lams = exact_squared_singular_values(filters, spatial, digits)
    with mpmath.workdps(digits + 10):
        power = mpmath.mpf(1) / depth
        total = mpmath.fsum(lam**power for values in lams.values() for lam in values)
        scale = d ** (-power) if convention == "scaled" else mpmath.mpf(1) / d
        return depth * scale * total
