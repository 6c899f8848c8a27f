"""Depth-2 linear CNN interpolation: closed form, independent spatial formulation, rebuild."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest

import cbn.numerics.convex.interpolation as interpolation
from cbn.numerics.convex.interpolation import data_spectra, interpolate
from cbn.numerics.convex.solver import InfeasibleDataError
from cbn.numerics.fourier import (
    circular_conv,
    multipliers_from_filters,
    negated_frequencies,
    self_conjugate_mask,
)
from cbn.numerics.linear import ranks_per_frequency, representation_cost

# Instances: (N, c_in, c_out, spatial). N >= c_in makes every X(m) full row rank (generic data).
FULL_ROW_RANK = [(4, 3, 2, (6,)), (5, 2, 3, (4, 3)), (3, 3, 3, (5,))]
RANK_DEFICIENT = [(2, 3, 2, (4,)), (1, 2, 2, (3, 2)), (2, 4, 2, (5,))]


def _instance(rng, n, c_in, c_out, spatial, convention="scaled"):
    W = rng.standard_normal((c_out, c_in, *spatial))
    X = rng.standard_normal((n, c_in, *spatial))
    return W, X, circular_conv(W, X, convention)


def _spatial_formulation(X, Y, convention):
    """One cvxpy problem over real spatial filters W (c_out, c_in, d), no Fourier halving.

    Constraint: the circular convolution written pixel by pixel; objective: the nuclear norms of
    the multipliers at *every* frequency, through the real embedding
    ||A||_* = (1/2) ||[[Re A, -Im A], [Im A, Re A]]||_*.
    """
    n, c_in = X.shape[:2]
    c_out = Y.shape[1]
    spatial = X.shape[2:]
    d = int(np.prod(spatial))
    s = d**-0.5 if convention == "scaled" else 1.0
    pix = np.array(np.unravel_index(np.arange(d), spatial)).T  # (d, k)
    diff = (pix[:, None, :] - pix[None, :, :]) % np.array(spatial)  # p - q
    shift = np.ravel_multi_index(tuple(diff.transpose(2, 0, 1)), spatial)  # [p, q] -> p - q
    W = [cp.Variable((c_out, d)) for _ in range(c_in)]
    cons = []
    for k in range(n):
        xf = X[k].reshape(c_in, d)
        # y_i(p) = s sum_j sum_q W_ij(q) x_j(p - q):  Y_k = sum_j W_j @ T_kj, T_kj[q, p] = x_j(p-q)
        pred = sum(W[j] @ (s * xf[j][shift].T) for j in range(c_in))
        cons.append(pred == Y[k].reshape(c_out, d))
    phase = 2 * np.pi * (pix @ (pix / np.array(spatial)).T)  # [m, q] -> <m, q> / d * 2 pi
    C, S = np.cos(phase), -np.sin(phase)
    total = 0
    for m in range(d):
        re = cp.hstack([cp.reshape(W[j] @ C[m], (c_out, 1), order="C") for j in range(c_in)])
        im = cp.hstack([cp.reshape(W[j] @ S[m], (c_out, 1), order="C") for j in range(c_in)])
        # multiplier of the scaled convention: d^{-1/2} W^(m); plain: W^(m) with cost / d.
        re, im = s * re, s * im
        total = total + 0.5 * cp.normNuc(cp.bmat([[re, -im], [im, re]]))
    factor = 1.0 if convention == "scaled" else 1.0 / d
    problem = cp.Problem(cp.Minimize(2 * factor * total), cons)
    problem.solve(solver="CLARABEL")
    assert problem.status == "optimal"
    return problem.value


@pytest.mark.parametrize("convention", ["scaled", "plain"])
@pytest.mark.parametrize("sizes", FULL_ROW_RANK)
def test_full_row_rank_equals_closed_form(rng, sizes, convention):
    W, X, Y = _instance(rng, *sizes, convention=convention)
    res = interpolate(X, Y, convention)
    # Issue formula 2 sum_m ||Y(m) X(m)^+||_* over ALL frequencies, with numpy's pinv.
    Xm, Ym = data_spectra(X, Y)
    A = Ym @ np.linalg.pinv(Xm)
    d = int(np.prod(sizes[3]))
    factor = 1.0 if convention == "scaled" else 1.0 / d
    expected = 2 * factor * np.linalg.svd(A, compute_uv=False).sum()
    # The data determine A uniquely: it is the generating filter's multiplier, whose depth-2 cost
    # is the foundation's closed form (an independent code path).
    generating = representation_cost(multipliers_from_filters(W, convention), 2, convention)
    # Both are sums of O(10) singular values computed in float64: round-off ~1e-14 relative.
    assert res.value == pytest.approx(expected, rel=1e-10)
    assert res.value == pytest.approx(generating, rel=1e-10)
    np.testing.assert_array_equal(
        res.rank_per_frequency, ranks_per_frequency(multipliers_from_filters(W, convention)))


@pytest.mark.parametrize("convention", ["scaled", "plain"])
@pytest.mark.parametrize("sizes", RANK_DEFICIENT)
def test_rank_deficient_agrees_with_spatial_formulation(rng, sizes, convention):
    _, X, Y = _instance(rng, *sizes, convention=convention)
    Xm, _ = data_spectra(X, Y)
    assert np.linalg.matrix_rank(Xm[(0,) * len(sizes[3])]) < sizes[1]  # really rank deficient
    res = interpolate(X, Y, convention)
    oracle = _spatial_formulation(X, Y, convention)
    # Issue criterion 1e-6: Clarabel's default gap tolerance (1e-8 relative) on O(10) values.
    assert res.value == pytest.approx(oracle, abs=1e-6, rel=1e-6)


@pytest.mark.parametrize("solver", ["SCS", "CLARABEL"])
@pytest.mark.parametrize("sizes", [FULL_ROW_RANK[0], RANK_DEFICIENT[0], RANK_DEFICIENT[1]])
def test_halved_cvxpy_route_agrees_with_closed_form(rng, sizes, solver):
    _, X, Y = _instance(rng, *sizes)
    closed = interpolate(X, Y)
    res = interpolate(X, Y, method="cvxpy", solver=solver)
    assert res.record.solver == solver and res.record.status == "optimal"
    # Solver tolerance 1e-9 (SCS eps / Clarabel gap) on values of size ~10-100: 1e-7 relative
    # leaves room for the conditioning of the equality constraints.
    assert res.value == pytest.approx(closed.value, rel=1e-7)
    assert res.record.primal_residual < 1e-7


@pytest.mark.parametrize("convention", ["scaled", "plain"])
@pytest.mark.parametrize("sizes", [FULL_ROW_RANK[1], RANK_DEFICIENT[2]])
def test_rebuilt_network_fits_and_its_norm_is_the_value(rng, sizes, convention):
    _, X, Y = _instance(rng, *sizes, convention=convention)
    res = interpolate(X, Y, convention)
    W1, W2 = res.weights
    out = circular_conv(W2, circular_conv(W1, X, convention), convention)
    # FFTs, an SVD and a pseudo-inverse on O(1) data: round-off ~1e-14; 1e-10 is generous.
    np.testing.assert_allclose(out, Y, atol=1e-10 * np.abs(Y).max())
    norm_sq = float(np.sum(W1**2) + np.sum(W2**2))
    assert norm_sq == pytest.approx(res.value, rel=1e-10)
    assert res.weights_norm_sq == pytest.approx(norm_sq, rel=1e-12)


def test_multipliers_are_conjugate_symmetric_and_real_at_self_conjugate(rng):
    _, X, Y = _instance(rng, 2, 3, 2, (4, 6))
    mult = interpolate(X, Y).multipliers
    np.testing.assert_array_equal(negated_frequencies(mult, 2), np.conj(mult))
    assert np.all(mult[self_conjugate_mask((4, 6))].imag == 0)


def test_certificate_closes_the_gap(rng):
    _, X, Y = _instance(rng, *RANK_DEFICIENT[2])
    cert = interpolate(X, Y).record.certificate
    # Dual certificate built from the SVD: its dual norm is 1 and the gap is round-off.
    assert cert["dual_norm"] == pytest.approx(1.0, abs=1e-10)
    assert abs(cert["certified_gap"]) < 1e-10 * cert["dual_lower_bound"]


def _low_rank_instance(rng, convention="scaled"):
    """5 samples whose 4 channels are mixtures of 2: every X(m) (4 x 5) has rank 2, so its two
    other singular values are FFT round-off (~1e-16 relative), not data."""
    B = rng.standard_normal((4, 2))
    X = np.einsum("cr,nrp->ncp", B, rng.standard_normal((5, 2, 6)))
    W = rng.standard_normal((3, 4, 6))
    return X, circular_conv(W, X, convention)


@pytest.mark.parametrize("convention", ["scaled", "plain"])
def test_value_is_covariant_under_rescaling_the_data(rng, convention):
    """A = Y X^+ gives value(cX, Y) = value(X, Y) / c and value(X, cY) = c value(X, Y): the
    pseudo-inverse threshold must be relative. An absolute one inverts the round-off of 1e12 X
    and drops all of 1e-12 X."""
    X, Y = _low_rank_instance(rng, convention)
    base = interpolate(X, Y, convention)
    assert base.rank_per_frequency.max() == 2
    for c in (1e-12, 1e-6, 1e6, 1e12):
        # singular values of cX are c times those of X to a few ulps; the pseudo-inverse of
        # a rank-2 block of condition ~10 keeps that: 1e-10 relative is round-off with margin
        assert interpolate(c * X, Y, convention).value == pytest.approx(base.value / c,
                                                                        rel=1e-10)
        assert interpolate(X, c * Y, convention).value == pytest.approx(base.value * c,
                                                                        rel=1e-10)
        np.testing.assert_array_equal(interpolate(c * X, Y, convention).rank_per_frequency,
                                      base.rank_per_frequency)


def test_certificate_flags_a_suboptimal_point(rng, monkeypatch):
    """Weak duality: at any feasible A the dual certificate's lower bound stays below the
    optimum, so the certified gap of a suboptimal point is at least its excess over the
    optimum. The closed form is replaced by a feasible but suboptimal A + G (I - X X^+)."""
    X, Y = _low_rank_instance(rng)
    optimum = interpolate(X, Y).value
    true_blocks = interpolation._closed_form_blocks

    def suboptimal(Xh, Yh):
        A, Xpinv = true_blocks(Xh, Yh)
        null = np.eye(Xh.shape[1]) - Xh @ Xpinv  # projector onto range(X)^perp: (A + G P) X = Y
        G = np.random.default_rng(0).standard_normal(A.shape)
        return A + G @ null, Xpinv

    monkeypatch.setattr(interpolation, "_closed_form_blocks", suboptimal)
    res = interpolate(X, Y)
    cert = res.record.certificate
    excess = res.value - optimum
    assert excess > 0.1 * optimum  # really suboptimal (measured: +49%)
    # The lower bound is <= the optimum up to round-off (1e-12 relative on O(100) sums) ...
    assert cert["dual_lower_bound"] <= optimum * (1 + 1e-12)
    # ... so the gap certifies at least the excess: the certificate sees the point is not optimal
    assert cert["certified_gap"] >= excess * (1 - 1e-12)


def test_single_sample_gives_rank_at_most_one(rng):
    _, X, Y = _instance(rng, 1, 3, 3, (6,))
    res = interpolate(X, Y)
    assert res.rank_per_frequency.max() == 1


def test_infeasible_data_raise(rng):
    X = rng.standard_normal((6, 2, 5))
    Y = rng.standard_normal((6, 2, 5))  # N > c_in: generic Y is no linear function of X
    with pytest.raises(InfeasibleDataError, match="no linear CNN interpolates the data"):
        interpolate(X, Y)
    X[:, :, :] = 0.0
    with pytest.raises(InfeasibleDataError):
        interpolate(X, Y)


def test_shape_mismatch_raises(rng):
    with pytest.raises(ValueError, match="same N and grid"):
        interpolate(rng.standard_normal((3, 2, 5)), rng.standard_normal((2, 2, 5)))


def test_planted_absolute_pseudo_inverse_threshold_fails_rescaling(rng, monkeypatch):
    """The bug that survived the suite once: s > DATA_RTOL instead of s > DATA_RTOL * s_max."""

    def absolute(Xh, Yh):
        U, s, Vh = np.linalg.svd(Xh, full_matrices=False)
        keep = s > interpolation.DATA_RTOL
        inv = np.where(keep, 1.0 / np.where(keep, s, 1.0), 0.0)
        Xpinv = np.conj(np.swapaxes(Vh, -1, -2)) * inv[:, None, :] @ np.conj(
            np.swapaxes(U, -1, -2))
        return Yh @ Xpinv, Xpinv

    monkeypatch.setattr(interpolation, "_closed_form_blocks", absolute)
    with pytest.raises((AssertionError, InfeasibleDataError)):
        test_value_is_covariant_under_rescaling_the_data(rng, "scaled")


def test_planted_primal_as_dual_certificate_is_caught(rng, monkeypatch):
    """The bug that survived the suite once: the dual value reported as the primal value."""
    true = interpolation._dual_certificate

    def primal_as_dual(*args):
        lam, primal, _ = true(*args)
        return lam, primal, primal

    monkeypatch.setattr(interpolation, "_dual_certificate", primal_as_dual)
    with pytest.raises(AssertionError):
        test_certificate_flags_a_suboptimal_point(rng, monkeypatch)
