"""Max-margin problem of a depth-2 single-channel linear CNN (paper_notes/theory.md section 3).

    min_beta  ||F beta||_1   subject to   y_n <x_n, beta> >= 1   (n = 1..N),

with ``beta`` a real signal on ``G``, ``F`` the unitary DFT (``F beta = fftn(beta) / sqrt(d)``)
and ``|.|`` the complex modulus. Gunasekar et al. (2018): gradient descent on a depth-``L``
linear circular CNN with the exponential/logistic loss converges in direction to a stationary
point of ``min ||F beta||_{2/L}`` under the same constraints; at ``L = 2`` the problem is convex
and this solution is the limit direction. (Its value times ``2 sqrt(d)`` is the depth-2 cost
``R = 2 sum_m |A(m)|`` of the classifier ``x -> (A x)(0)`` in the scaled convention.)

The objective is summed over half of the frequencies (conjugate pairs counted twice); the record
carries a weak-duality certificate built from the multipliers ``lambda >= 0`` of the
constraints: with ``g = sum_n lambda_n y_n x_n``, ``sum_n lambda_n / max(1, ||F g||_inf)`` is a
lower bound on the optimum (the sup-norm taken over the support when ``beta`` is restricted).
"""

from __future__ import annotations

from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from cbn.numerics.convex.solver import DEFAULT_SOLVER, SolveRecord, solve
from cbn.numerics.fourier import frequency_multiplicity, half_frequency_mask, negated_frequencies


@dataclass
class MarginResult:
    """Solution of the max-margin program.

    Attributes
    ----------
    value : ``||F beta||_1`` at the optimum (exact up to the solver tolerance)
    beta : real array, shape ``spatial``: the minimal-norm classifier with margin 1
    direction : ``beta / ||beta||_2``
    fourier_abs : ``|F beta|``, shape ``spatial``
    record : :class:`SolveRecord` (certificate: weak-duality lower bound and gap)
    """

    value: float
    beta: np.ndarray
    direction: np.ndarray
    fourier_abs: np.ndarray
    record: SolveRecord


def unitary_dft_rows(spatial: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Real and imaginary parts of the unitary DFT rows at half the frequencies.

    Returns
    -------
    re, im : arrays, shape (K, d): ``(F beta)(m_k) = re[k] @ beta + 1j * im[k] @ beta`` for
        ``beta`` flattened in C order, ``m_k`` the frequencies of :func:`half_frequency_mask`
    weight : array, shape (K,): 1 for self-conjugate frequencies, 2 for pair representatives
    """
    d = int(np.prod(spatial))
    basis = np.eye(d).reshape(d, *spatial)
    rows = np.fft.fftn(basis, axes=tuple(range(1, len(spatial) + 1))) / np.sqrt(d)  # (d, *sp)
    half = half_frequency_mask(spatial)
    F = rows[:, half].T  # (K, d): column j is the DFT of basis vector j
    return F.real.copy(), F.imag.copy(), frequency_multiplicity(spatial)[half].astype(float)


def max_margin(
    X: np.ndarray,
    labels: np.ndarray,
    solver: str = DEFAULT_SOLVER,
    support: np.ndarray | None = None,
) -> MarginResult:
    """Solve the depth-2 max-margin program.

    Parameters
    ----------
    X : array, shape (N, 1, *spatial) (single channel) or (N, *spatial)
    labels : array, shape (N,), values in {-1, +1}
    support : optional bool array, shape ``spatial``, closed under ``m -> -m``: restrict
        ``beta`` to these frequencies (``F beta(m) = 0`` elsewhere). The restricted optima are
        the other stationary points of the depth-2 problem in parameter space (a frequency
        whose two factors are both 0 receives no gradient).

    Raises
    ------
    ValueError
        On bad shapes or labels.
    InfeasibleDataError
        If the data are not linearly separable (through the origin).
    """
    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64).reshape(-1)
    if X.ndim >= 3 and X.shape[1] == 1:
        X = X[:, 0]
    elif X.ndim >= 3 and X.shape[1] != 1:
        raise ValueError(f"the margin program is single-channel: X has {X.shape[1]} channels")
    if X.ndim < 2 or X.shape[0] != labels.shape[0]:
        raise ValueError(f"X {X.shape} and labels {labels.shape} need the same number of samples")
    if not np.all(np.isin(labels, (-1.0, 1.0))):
        raise ValueError("labels for the margin program must be -1 or +1")
    spatial = X.shape[1:]
    flat = X.reshape(X.shape[0], -1)
    re, im, weight = unitary_dft_rows(spatial)
    beta = cp.Variable(flat.shape[1])
    moduli = cp.norm(cp.vstack([re @ beta, im @ beta]), 2, axis=0)
    margin = cp.multiply(labels, flat @ beta) >= 1
    constraints = [margin]
    if support is not None:
        support = np.asarray(support, dtype=bool)
        mirrored = negated_frequencies(support, len(spatial))
        if support.shape != spatial or np.any(support != mirrored):
            raise ValueError(f"support must be a boolean array of shape {spatial} closed under "
                             f"m -> -m")
        off = ~support[half_frequency_mask(spatial)]
        if off.any():
            constraints += [re[off] @ beta == 0, im[off] @ beta == 0]
    problem = cp.Problem(cp.Minimize(weight @ moduli), constraints)
    record = solve(problem, "margin", solver,
                   infeasible_message="the data are not linearly separable (through the origin)")
    b = np.asarray(beta.value, dtype=float)
    lam = np.maximum(np.asarray(margin.dual_value, dtype=float), 0.0)
    g = (lam * labels) @ flat
    g_hat = np.fft.fftn(g.reshape(spatial)) / np.sqrt(g.size)
    if support is not None:  # off the support the equality multipliers absorb F g
        g_hat = g_hat[support]
    dual_norm = float(np.abs(g_hat).max())
    lower = float(lam.sum()) / max(1.0, dual_norm)
    record.certificate.update(
        {"dual_lower_bound": lower, "certified_gap": record.value - lower, "dual_norm": dual_norm,
         "dual_kind": "weak duality from the constraint multipliers"})
    fabs = np.abs(np.fft.fftn(b.reshape(spatial))) / np.sqrt(b.size)
    return MarginResult(
        value=record.value,
        beta=b.reshape(spatial),
        direction=(b / np.linalg.norm(b)).reshape(spatial),
        fourier_abs=fabs,
        record=record,
    )
