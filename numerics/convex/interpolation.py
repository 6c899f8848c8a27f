"""Depth-2 linear CNN interpolation on data (paper_notes/theory.md section 3, ``L = 2``).

Program (per frequency, decoupled):

    min  sum_{m in G} ||A(m)||_*   subject to   A(m) X(m) = Y(m),

with ``X(m)`` of shape ``(c_in, N)`` (column ``n`` = DFT of sample ``n`` at ``m``), ``Y(m)`` of
shape ``(c_out, N)`` and ``A(m)`` the operator multiplier (``(W * x)^(m) = A(m) x^(m)``). The
representation cost at depth 2 is ``R = 2 sum_m ||A(m)||_*`` (scaled convention; times ``1/d``
in the plain convention): it is **exact**, the minimal ``||theta||^2`` of a depth-2 linear CNN
that fits the data.

Two routes, cross-checked in the tests:

* ``method="closed-form"`` (default): every feasible instance is solved by
  ``A(m) = Y(m) X(m)^+``. Proof: any feasible ``A`` has ``A P = Y X^+`` with ``P = X X^+`` an
  orthogonal projector, and ``||A P||_* <= ||A||_* ||P||_op = ||A||_*``. The record carries a
  dual certificate: ``Lambda(m) = U V^H (X(m)^+)^H`` (``U S V^H`` the compact SVD of ``A(m)``)
  satisfies ``||Lambda X^H||_op <= 1`` and ``Re tr(Lambda^H Y) = ||A(m)||_*``, so the duality
  gap is zero up to round-off (reported).
* ``method="cvxpy"``: one cvxpy problem over half of the frequencies (one per conjugate pair,
  complex blocks; self-conjugate blocks real), solved under :mod:`cbn.numerics.convex.solver`.

Either way only half the frequencies are solved; the partner ``-m`` gets ``conj A(m)``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from cbn.numerics.convex.solver import (
    DEFAULT_SOLVER,
    InfeasibleDataError,
    SolveRecord,
    check_solver,
    solve,
)
from cbn.numerics.fourier import (
    Convention,
    check_convention,
    frequency_multiplicity,
    half_frequency_mask,
    self_conjugate_mask,
)
from cbn.numerics.linear import RANK_RTOL, minimal_norm_weights, ranks_per_frequency
from cbn.numerics.weights import Network

#: Singular values of X(m) at or below ``DATA_RTOL * max_{m} s_max(X(m))`` are treated as zero
#: when forming pseudo-inverses: FFT round-off puts exactly-zero spectral content at ~1e-16
#: relative, genuine data content of the instances we study is far above 1e-10.
DATA_RTOL = 1e-10
#: Relative residual ``max_m ||A X - Y||_F / max_m ||Y(m)||_F`` above which the data are declared
#: to admit no interpolating linear CNN: a consistent system leaves round-off of ~1e-15 (times
#: the condition number of X(m), which DATA_RTOL caps at 1e10), an inconsistent one O(1).
FEASIBILITY_RTOL = 1e-6

METHODS: tuple[str, ...] = ("closed-form", "cvxpy")


@dataclass
class InterpolationResult:
    """Solution of the depth-2 interpolation program.

    Attributes
    ----------
    value : ``R = 2 sum_m ||A(m)||_*`` (times ``1/d`` plain): the **exact** depth-2 cost on data
    multipliers : complex array, shape ``(*spatial, c_out, c_in)``, conjugate-symmetric
    rank_per_frequency : int array, shape ``spatial`` (threshold ``RANK_RTOL * s_max``)
    weights : two real filters ``(W_1, W_2)`` of a depth-2 linear CNN fitting the data, shapes
        ``(r, c_in, *spatial)`` and ``(c_out, r, *spatial)``, ``r = max_m rank A(m)``
    weights_norm_sq : ``||W_1||^2 + ||W_2||^2`` (equals ``value`` up to round-off)
    record : :class:`SolveRecord` of the solve
    convention : 'scaled' or 'plain'
    """

    value: float
    multipliers: np.ndarray
    rank_per_frequency: np.ndarray
    weights: tuple[np.ndarray, np.ndarray]
    weights_norm_sq: float
    record: SolveRecord
    convention: str
    bound: str = "exact"


def data_spectra(X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frequency data matrices.

    Parameters
    ----------
    X : array, shape (N, c_in, *spatial)
    Y : array, shape (N, c_out, *spatial)

    Returns
    -------
    Xm : complex array, shape (*spatial, c_in, N)
    Ym : complex array, shape (*spatial, c_out, N)
    """
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if X.ndim < 3 or Y.ndim != X.ndim or X.shape[0] != Y.shape[0] or X.shape[2:] != Y.shape[2:]:
        raise ValueError(
            f"X {X.shape} and Y {Y.shape} must be (N, c_in, *spatial) and (N, c_out, *spatial) "
            f"with the same N and grid"
        )
    axes = tuple(range(2, X.ndim))
    Xh = np.fft.fftn(X, axes=axes)
    Yh = np.fft.fftn(Y, axes=axes)
    # (N, c, *spatial) -> (*spatial, c, N)
    return np.moveaxis(Xh, (0, 1), (-1, -2)), np.moveaxis(Yh, (0, 1), (-1, -2))


def _half_blocks(Xm, Ym):
    spatial = Xm.shape[:-2]
    half = half_frequency_mask(spatial)
    selfc = self_conjugate_mask(spatial)[half]
    Xh, Yh = Xm[half], Ym[half]  # (K, c, N)
    Xh = np.where(selfc[:, None, None], Xh.real, Xh)
    Yh = np.where(selfc[:, None, None], Yh.real, Yh)
    weight = frequency_multiplicity(spatial)[half].astype(float)
    return half, selfc, Xh, Yh, weight


def _convention_factor(spatial, convention: Convention) -> float:
    check_convention(convention)
    return 1.0 if convention == "scaled" else 1.0 / float(np.prod(spatial))


def _full_multipliers(spatial, half, selfc, blocks) -> np.ndarray:
    """Fill ``(*spatial, c_out, c_in)`` from half-frequency blocks, conjugates at ``-m``."""
    out = np.zeros((*spatial, *blocks.shape[1:]), dtype=complex)
    blocks = np.where(selfc[:, None, None], blocks.real, blocks)
    idx = np.argwhere(half)
    for k, m in enumerate(idx):
        partner = tuple(int((-i) % n) for i, n in zip(m, spatial))
        out[tuple(m)] = blocks[k]
        out[partner] = np.conj(blocks[k])
    return out


def _closed_form_blocks(Xh: np.ndarray, Yh: np.ndarray):
    """``A = Y X^+`` per block with a global relative rank threshold; also the dual ``Lambda``."""
    U, s, Vh = np.linalg.svd(Xh, full_matrices=False)  # Xh (K, c_in, N)
    smax = float(s.max()) if s.size else 0.0
    keep = s > DATA_RTOL * smax
    inv = np.where(keep, 1.0 / np.where(keep, s, 1.0), 0.0)
    Xpinv = np.conj(np.swapaxes(Vh, -1, -2)) * inv[:, None, :] @ np.conj(np.swapaxes(U, -1, -2))
    return Yh @ Xpinv, Xpinv  # (K, c_out, c_in), (K, N, c_in)


def _check_feasible(A, Xh, Yh, name: str) -> float:
    resid = np.linalg.norm(A @ Xh - Yh, axis=(-2, -1))
    scale = max(float(np.linalg.norm(Yh, axis=(-2, -1)).max()), np.finfo(float).tiny)
    rel = float(resid.max()) / scale
    if rel > FEASIBILITY_RTOL:
        raise InfeasibleDataError(
            f"{name}: no linear CNN interpolates the data (relative residual of the best fit "
            f"{rel:.2e} > {FEASIBILITY_RTOL:g} at some frequency: Y(m) is not a linear function "
            f"of X(m))"
        )
    return float(resid.max())


def _dual_certificate(A, Xpinv, Yh, weight, factor) -> dict:
    U, s, Vh = np.linalg.svd(A, full_matrices=False)
    smax = float(s.max()) if s.size else 0.0
    keep = (s > RANK_RTOL * smax).astype(float)
    UV = (U * keep[:, None, :]) @ Vh  # (K, c_out, c_in), partial isometry
    Lam = UV @ np.conj(np.swapaxes(Xpinv, -1, -2))  # (K, c_out, N)
    primal = factor * 2.0 * float(np.sum(weight * s.sum(axis=-1)))
    pairing = np.real(np.sum(np.conj(Lam) * Yh, axis=(-2, -1)))  # Re tr(Lambda^H Y) per block
    dual_raw = factor * 2.0 * float(np.sum(weight * pairing))
    return Lam, primal, dual_raw


def interpolate(
    X: np.ndarray,
    Y: np.ndarray,
    convention: Convention = "scaled",
    method: str = "closed-form",
    solver: str = DEFAULT_SOLVER,
) -> InterpolationResult:
    """Minimal ``||theta||^2`` of a depth-2 linear circular CNN fitting ``Y = f(X)`` exactly.

    Parameters
    ----------
    X : array, shape (N, c_in, *spatial)
    Y : array, shape (N, c_out, *spatial)
    convention : 'scaled' (cost ``2 sum ||A||_*``) or 'plain' (``(2/d) sum ||A||_*``)
    method : 'closed-form' (pseudo-inverse, dual certificate) or 'cvxpy' (halved program)
    solver : for ``method='cvxpy'``: 'SCS' or 'CLARABEL'

    Raises
    ------
    InfeasibleDataError
        If no linear CNN maps X to Y.
    ConvexSolveError
        If the cvxpy route does not reach ``optimal``.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: use one of {', '.join(METHODS)}")
    Xm, Ym = data_spectra(X, Y)
    spatial = Xm.shape[:-2]
    factor = _convention_factor(spatial, convention)
    half, selfc, Xh, Yh, weight = _half_blocks(Xm, Ym)
    start = time.perf_counter()
    A_cf, Xpinv = _closed_form_blocks(Xh, Yh)
    residual = _check_feasible(A_cf, Xh, Yh, "interpolate")
    if method == "closed-form":
        A = A_cf
        Lam, primal, dual_raw = _dual_certificate(A, Xpinv, Yh, weight, factor)
        op = np.linalg.norm(Lam @ np.conj(np.swapaxes(Xh, -1, -2)), ord=2, axis=(-2, -1))
        dual_norm = float(op.max()) if op.size else 0.0
        # Weak duality: any Lambda gives the lower bound dual_raw / max(1, max_m ||Lambda X^H||).
        lower = dual_raw / max(1.0, dual_norm)
        record = SolveRecord(
            problem="interpolate", solver="closed-form", status="optimal", value=primal,
            compile_seconds=0.0, solve_seconds=time.perf_counter() - start,
            primal_residual=residual,
            certificate={"kind": "dual certificate Lambda(m) = U V^H X(m)^+H",
                         "dual_lower_bound": lower, "certified_gap": primal - lower,
                         "dual_norm": dual_norm},
            settings={"data_rtol": DATA_RTOL},
        )
    else:
        A, record = _solve_cvxpy(Xh, Yh, selfc, weight, factor, check_solver(solver))
    mult = _full_multipliers(spatial, half, selfc, A)
    ranks = ranks_per_frequency(mult, RANK_RTOL)
    weights = tuple(minimal_norm_weights(mult, 2, convention=convention))
    return InterpolationResult(
        value=record.value,
        multipliers=mult,
        rank_per_frequency=ranks,
        weights=weights,  # type: ignore[arg-type]
        weights_norm_sq=Network(weights, None, "identity", convention).norm_sq(),
        record=record,
        convention=convention,
    )


def _solve_cvxpy(Xh, Yh, selfc, weight, factor, solver):
    c_out, c_in = Yh.shape[1], Xh.shape[1]
    variables, cons, terms = [], [], []
    for k in range(Xh.shape[0]):
        A = cp.Variable((c_out, c_in), complex=not bool(selfc[k]))
        Xk, Yk = (Xh[k].real, Yh[k].real) if selfc[k] else (Xh[k], Yh[k])
        # Scale each block's constraint to unit size so that the solver tolerance is relative.
        scale = 1.0 / max(float(np.abs(Yk).max()), float(np.abs(Xk).max()), 1e-300)
        cons.append(A @ (scale * Xk) == scale * Yk)
        terms.append(weight[k] * cp.normNuc(A))
        variables.append(A)
    problem = cp.Problem(cp.Minimize(2.0 * factor * cp.sum(cp.hstack(terms))), cons)
    record = solve(problem, "interpolate", solver,
                   infeasible_message="no linear CNN interpolates the data")
    A = np.stack([np.asarray(v.value, dtype=complex) for v in variables])
    return A, record
