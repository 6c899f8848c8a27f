"""Closed-form representation costs of linear circular CNNs (paper_notes/theory.md section 3).

For a linear translation-equivariant target with multipliers ``A(m)`` (shape
``(*spatial, c_out, c_in)``, see :mod:`cbn.numerics.fourier`), hidden widths at least
``max_m rank A(m)`` and depth ``L >= 1``:

* scaled convention: ``R(A; L) = L sum_m sum_i s_i(A(m))^{2/L}``;
* plain convention:  ``R(A; L) = (L/d) sum_m sum_i s_i(A(m))^{2/L}``.

These values are **exact** (no network beats them; the balanced construction of
:func:`minimal_norm_weights` attains them). Singular values below ``rtol * s_max`` (``s_max``
the largest singular value over all frequencies) are treated as exact zeros: without that, FFT
round-off of order 1e-16 would contribute ``(1e-16)^{2/L}``, which is not small at large ``L``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from cbn.numerics.fourier import (
    Convention,
    check_convention,
    filters_from_multipliers,
    half_frequency_mask,
    multipliers_from_filters,
    self_conjugate_mask,
)
from cbn.theory.expansion import expansion_coefficient_functions

#: Default relative rank threshold for closed forms (paper_notes/theory.md section 7): singular
# values of an exactly
#: rank-deficient block come out of the FFT at ~1e-15 relative, genuine ones of the targets we
#: study are far above 1e-8.
RANK_RTOL = 1e-8


def singular_values(multipliers: np.ndarray) -> np.ndarray:
    """Per-frequency singular values, shape ``(*spatial, min(c_out, c_in))``, descending."""
    return np.linalg.svd(multipliers, compute_uv=False)


def kept_singular_values(multipliers: np.ndarray, rtol: float = RANK_RTOL) -> np.ndarray:
    """Singular values with those ``<= rtol * s_max`` set to exactly 0 (same shape)."""
    if not rtol >= 0:
        raise ValueError(f"rank threshold rtol must be >= 0, got {rtol}")
    sv = singular_values(multipliers)
    smax = float(sv.max()) if sv.size else 0.0
    return np.where(sv > rtol * smax, sv, 0.0)


def ranks_per_frequency(multipliers: np.ndarray, rtol: float = RANK_RTOL) -> np.ndarray:
    """Integer rank of each ``A(m)``, shape ``spatial`` (threshold ``rtol * s_max``)."""
    return np.count_nonzero(kept_singular_values(multipliers, rtol), axis=-1)


def _convention_factor(multipliers: np.ndarray, convention: Convention) -> float:
    check_convention(convention)
    if convention == "scaled":
        return 1.0
    return 1.0 / float(np.prod(multipliers.shape[:-2]))


def _check_depth(depth: int) -> int:
    if int(depth) != depth or depth < 1:
        raise ValueError(f"depth must be an integer >= 1, got {depth}")
    return int(depth)


def representation_cost(
    multipliers: np.ndarray,
    depth: int,
    convention: Convention = "scaled",
    rtol: float = RANK_RTOL,
) -> float:
    """Exact ``R(A; L)`` of a linear target given by its multipliers.

    Parameters
    ----------
    multipliers : complex array, shape (*spatial, c_out, c_in)
    depth : int, ``L >= 1``
    convention : 'scaled' (``L sum s^{2/L}``) or 'plain' (``(L/d) sum s^{2/L}``)
    rtol : relative rank threshold (singular values at or below it count as 0)
    """
    sv = kept_singular_values(multipliers, rtol)
    return _cost_from_kept(sv, depth, _convention_factor(multipliers, convention))


def _cost_from_kept(kept_sv: np.ndarray, depth: int, factor: float) -> float:
    depth = _check_depth(depth)
    kept = kept_sv[kept_sv > 0]
    return factor * depth * float(np.sum(kept ** (2.0 / depth)))


def expansion_terms(
    multipliers: np.ndarray,
    convention: Convention = "scaled",
    rtol: float = RANK_RTOL,
    order: int = 3,
) -> tuple[float, ...]:
    """``(R0, R1, R2, ...)`` of ``R(A; L) = L R0 + R1 + R2 / L + ...``.

    The per-singular-value coefficients come from
    :func:`cbn.theory.expansion.expansion_coefficients`
    (sympy): ``R0 = sum_m rank A(m)``, ``R1 = 2 sum_m log|A(m)|_+``, ``R2 = 2 sum (log s)^2``,
    each times ``1/d`` in the plain convention.
    """
    sv = kept_singular_values(multipliers, rtol)
    return _expansion_from_kept(sv, _convention_factor(multipliers, convention), order)


def _expansion_from_kept(kept_sv: np.ndarray, factor: float, order: int) -> tuple[float, ...]:
    logs = np.log(kept_sv[kept_sv > 0])
    return tuple(
        factor * float(np.sum(c(logs))) for c in expansion_coefficient_functions(order)
    )


@dataclass(frozen=True)
class LinearCostReport:
    """Exact closed-form costs of one linear target (all values are exact, not bounds)."""

    convention: str
    spatial: tuple[int, ...]
    channels: tuple[int, int]
    depths: list[int]
    cost: list[float]
    R0: float
    R1: float
    R2: float
    cbn_rank: int
    rank_per_frequency: list
    rank_rtol: float
    rank_rule: str = "s_i(A(m)) > rank_rtol * max_{m,i} s_i(A(m))"
    bound: str = "exact"

    def to_dict(self) -> dict:
        out = asdict(self)
        out["spatial"] = list(self.spatial)
        out["channels"] = list(self.channels)
        return out


def analyze_linear_filter(
    filters: np.ndarray,
    depths: Sequence[int],
    convention: Convention = "scaled",
    rtol: float = RANK_RTOL,
) -> LinearCostReport:
    """Closed-form cost at each depth, expansion terms and ranks of a real filter.

    Parameters
    ----------
    filters : real array, shape (c_out, c_in, *spatial)
    depths : depths ``L >= 1``
    """
    mult = multipliers_from_filters(filters, convention)
    sv = kept_singular_values(mult, rtol)
    factor = _convention_factor(mult, convention)
    ranks = np.count_nonzero(sv, axis=-1)
    r0, r1, r2 = _expansion_from_kept(sv, factor, 3)
    return LinearCostReport(
        convention=convention,
        spatial=tuple(int(n) for n in filters.shape[2:]),
        channels=(int(filters.shape[0]), int(filters.shape[1])),
        depths=[_check_depth(L) for L in depths],
        cost=[_cost_from_kept(sv, L, factor) for L in depths],
        R0=r0,
        R1=r1,
        R2=r2,
        cbn_rank=int(ranks.sum()),
        rank_per_frequency=ranks.tolist(),
        rank_rtol=rtol,
    )


def _balanced_factors(block: np.ndarray, rank: int, depth: int, widths: Sequence[int]):
    """Balanced factors ``M_L ... M_1 = block`` with ``s_i(M_l) = s_i(block)^{1/L}``."""
    u, s, vh = np.linalg.svd(block)
    root = s[:rank] ** (1.0 / depth)
    dims = [block.shape[1], *widths, block.shape[0]]
    factors = []
    for layer in range(depth):
        f = np.zeros((dims[layer + 1], dims[layer]), dtype=block.dtype)
        if depth == 1:
            f[:] = block
        elif layer == 0:
            f[:rank] = root[:, None] * vh[:rank]
        elif layer == depth - 1:
            f[:, :rank] = u[:, :rank] * root[None, :]
        else:
            f[np.arange(rank), np.arange(rank)] = root
        factors.append(f)
    return factors


def minimal_norm_weights(
    multipliers: np.ndarray,
    depth: int,
    widths: Sequence[int] | None = None,
    convention: Convention = "scaled",
    rtol: float = RANK_RTOL,
) -> list[np.ndarray]:
    """Real filters of a depth-``L`` linear CNN attaining ``R(A; L)`` exactly.

    Factors are balanced per frequency; factors at ``-m`` are the conjugates of those at ``m``
    and self-conjugate blocks use real SVDs, so the inverse DFT gives real filters.

    Parameters
    ----------
    multipliers : complex array, shape (*spatial, c_out, c_in), conjugate-symmetric
    depth : ``L >= 1``
    widths : hidden widths ``c_1 .. c_{L-1}``; default all equal to ``max_m rank A(m)`` (>= 1)

    Returns
    -------
    list of ``L`` real arrays; layer ``l`` has shape ``(c_l, c_{l-1}, *spatial)``.

    Raises
    ------
    ValueError
        If a hidden width is smaller than the largest per-frequency rank.
    """
    depth = _check_depth(depth)
    nsp = multipliers.ndim - 2
    spatial = multipliers.shape[:nsp]
    ranks = ranks_per_frequency(multipliers, rtol)
    need = max(int(ranks.max()), 1)
    widths = [need] * (depth - 1) if widths is None else [int(w) for w in widths]
    if len(widths) != depth - 1:
        raise ValueError(f"depth {depth} needs {depth - 1} hidden widths, got {len(widths)}")
    if widths and min(widths) < need:
        raise ValueError(
            f"hidden width {min(widths)} is smaller than the largest per-frequency rank {need}; "
            f"use widths >= {need}"
        )
    dims = [multipliers.shape[-1], *widths, multipliers.shape[-2]]
    layers = [np.zeros((*spatial, dims[i + 1], dims[i]), dtype=complex) for i in range(depth)]
    half = half_frequency_mask(spatial)
    selfc = self_conjugate_mask(spatial)
    for idx in zip(*np.nonzero(half)):
        block = multipliers[idx]
        if selfc[idx]:
            block = block.real
        factors = _balanced_factors(block, int(ranks[idx]), depth, widths)
        partner = tuple(int((-i) % n) for i, n in zip(idx, spatial))
        for layer, f in zip(layers, factors):
            layer[idx] = f
            layer[partner] = np.conj(f)
    return [filters_from_multipliers(m, convention) for m in layers]


def compose_multipliers(
    filters: Sequence[np.ndarray], convention: Convention = "scaled"
) -> np.ndarray:
    """Multipliers ``M_L(m) ... M_1(m)`` of a linear CNN given as a list of filters."""
    out = None
    for f in filters:
        m = multipliers_from_filters(f, convention)
        out = m if out is None else m @ out
    return out

