"""Closed-form linear costs: construction, optimality, L = 2 SDP, d = 1, expansion, exact DFT."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cbn.numerics.fourier import multipliers_from_filters
from cbn.numerics.linear import (
    analyze_linear_filter,
    compose_multipliers,
    expansion_terms,
    kept_singular_values,
    minimal_norm_weights,
    ranks_per_frequency,
    representation_cost,
)
from cbn.numerics.weights import Network
from cbn.theory.exact_dft import exact_cost, exact_ranks

# The construction is a product of SVD factors and two FFTs: its error is a few ulps times the
# condition of the blocks (O(10) for random Gaussian targets), so 1e-10 relative is the issue's
# requirement and leaves ~4 orders of margin.
CONSTRUCTION_RTOL = 1e-10


def random_rank_target(rng, c_out, c_in, spatial, ranks_max):
    """Multipliers (*spatial, c_out, c_in) of a real filter whose blocks have rank <= ranks_max
    (the composition of two thin real filters)."""
    left = rng.standard_normal((c_out, ranks_max, *spatial))
    right = rng.standard_normal((ranks_max, c_in, *spatial))
    return compose_multipliers([right, left])


CASES = [
    # (c_out, c_in, spatial, depth, widths)
    (2, 2, (6,), 3, [3, 3]),
    (2, 3, (5,), 1, []),
    (3, 2, (4, 4), 2, [3]),
    (1, 1, (7,), 5, [1, 1, 1, 1]),
    (2, 2, (3, 4), 4, [2, 4, 2]),
    (4, 3, (1,), 6, [3, 5, 3, 3, 3]),
]


@pytest.mark.parametrize("c_out,c_in,spatial,depth,widths", CASES)
@pytest.mark.parametrize("convention", ["scaled", "plain"])
def test_construction_attains_closed_form(c_out, c_in, spatial, depth, widths, convention, rng):
    W = rng.standard_normal((c_out, c_in, *spatial))
    A = multipliers_from_filters(W, convention)
    layers = minimal_norm_weights(A, depth, widths, convention)
    assert len(layers) == depth
    assert all(np.isrealobj(f) for f in layers)
    dims = [c_in, *widths, c_out]
    assert [f.shape[:2] for f in layers] == [(dims[i + 1], dims[i]) for i in range(depth)]
    represented = compose_multipliers(layers, convention)
    err = np.linalg.norm(represented - A) / np.linalg.norm(A)
    assert err < CONSTRUCTION_RTOL
    cost = representation_cost(A, depth, convention)
    assert abs(Network(layers).norm_sq() - cost) / cost < CONSTRUCTION_RTOL


def test_balanced_layers_have_root_singular_values(rng):
    W = rng.standard_normal((2, 2, 6))
    A = multipliers_from_filters(W)
    layers = minimal_norm_weights(A, 4, [2, 2, 2])
    target_sv = kept_singular_values(A) ** 0.25
    for f in layers:
        sv = np.linalg.svd(multipliers_from_filters(f), compute_uv=False)
        np.testing.assert_allclose(np.sort(sv, axis=-1), np.sort(target_sv, axis=-1), atol=1e-12)


def test_rank_deficient_target(rng):
    A = random_rank_target(rng, 3, 3, (6,), 1)
    A[2] = 0.0  # kill one conjugate pair (m = 2 and m = 4) and keep symmetry
    A[4] = 0.0
    ranks = ranks_per_frequency(A)
    assert ranks.tolist() == [1, 1, 0, 1, 0, 1]
    layers = minimal_norm_weights(A, 3)
    assert [f.shape[0] for f in layers[:-1]] == [1, 1]
    assert np.linalg.norm(compose_multipliers(layers) - A) / np.linalg.norm(A) < 1e-10
    r0, _, _ = expansion_terms(A)
    assert r0 == 4.0


def test_width_too_small_is_a_clear_error(rng):
    A = multipliers_from_filters(rng.standard_normal((3, 3, 4)))
    with pytest.raises(ValueError, match="smaller than the largest per-frequency rank 3"):
        minimal_norm_weights(A, 3, [3, 2])
    with pytest.raises(ValueError, match="needs 2 hidden widths"):
        minimal_norm_weights(A, 3, [3])


def test_no_random_network_beats_the_closed_form(rng):
    """Hundreds of random real linear CNNs: ||theta||^2 >= R(represented operator; L)."""
    worst = np.inf
    for trial in range(300):
        spatial = [(4,), (5,), (3, 3), (2, 4)][trial % 4]
        depth = 1 + trial % 5
        dims = rng.integers(1, 4, size=depth + 1)
        layers = [rng.standard_normal((dims[i + 1], dims[i], *spatial)) for i in range(depth)]
        for convention in ("scaled", "plain"):
            A = compose_multipliers(layers, convention)
            cost = representation_cost(A, depth, convention, rtol=0.0)
            margin = (Network(layers).norm_sq() - cost) / cost
            worst = min(worst, margin)
    # A random net is strictly suboptimal except at depth 1 (margin exactly 0 up to round-off).
    assert worst > -1e-12, worst


def _augmented_lagrangian_linear(W_target, depth, widths, seed, convention="scaled"):
    """min sum ||W_l||^2 s.t. W_L * ... * W_1 = target, by augmented Lagrangian + L-BFGS.

    Written here, independently of the closed form, as the gradient-based oracle.
    """
    torch.manual_seed(seed)
    spatial = W_target.shape[2:]
    d = int(np.prod(spatial))
    scale = d ** -0.5 if convention == "scaled" else 1.0
    axes = tuple(range(2, 2 + len(spatial)))
    dims = [W_target.shape[1], *widths, W_target.shape[0]]
    params = [
        (0.5 * torch.randn(dims[i + 1], dims[i], *spatial, dtype=torch.float64)).requires_grad_()
        for i in range(depth)
    ]
    target = torch.as_tensor(W_target)

    def end_to_end():
        prod = None
        for p in params:
            m = torch.fft.fftn(p, dim=axes).movedim((0, 1), (-2, -1)) * scale
            prod = m if prod is None else m @ prod
        return torch.fft.ifftn(prod.movedim((-2, -1), (0, 1)) / scale, dim=axes).real

    lam = torch.zeros_like(target)
    mu = 10.0
    opt = torch.optim.LBFGS(params, lr=1, max_iter=500, tolerance_grad=1e-14,
                            tolerance_change=1e-16, history_size=50,
                            line_search_fn="strong_wolfe")
    def closure():
        opt.zero_grad()
        c = end_to_end() - target
        loss = sum((p**2).sum() for p in params) + (lam * c).sum() + 0.5 * mu * (c**2).sum()
        loss.backward()
        return loss

    for _ in range(40):
        opt.step(closure)
        with torch.no_grad():
            c = end_to_end() - target
            lam += mu * c
            if c.abs().max() < 1e-12:
                break
            mu = min(mu * 2, 1e4)
    layers = [p.detach().numpy() for p in params]
    residual = float(np.abs(end_to_end().detach().numpy() - W_target).max())
    return layers, residual


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradient_minimisation_approaches_closed_form_from_above(seed, rng):
    W = np.random.default_rng(100 + seed).standard_normal((2, 2, 5))
    A = multipliers_from_filters(W)
    depth = 3
    layers, residual = _augmented_lagrangian_linear(W, depth, [2, 2], seed)
    norm = Network(layers).norm_sq()
    cost = representation_cost(A, depth)
    # The constraint is met to round-off, so the norm is an upper bound on R up to O(residual).
    assert residual < 1e-9
    # What the trained net represents is at most residual away; its own closed form is exact:
    own = representation_cost(compose_multipliers(layers), depth, rtol=0.0)
    assert norm >= own * (1 - 1e-12)
    # Issue requirement: within 1e-6 relative of the closed form, never below (beyond residual).
    gap = (norm - cost) / cost
    assert -1e-9 < gap < 1e-6, gap


def test_depth_two_is_twice_nuclear_norm_sdp(rng):
    """R(A; 2) = 2 sum_m ||A(m)||_*, cross-checked by an SDP per frequency (SCS, named)."""
    W = rng.standard_normal((2, 3, 4))
    A = multipliers_from_filters(W)
    closed = representation_cost(A, 2)
    total = 0.0
    for m in range(4):
        block = A[m]
        X1 = cp.Variable((2, 2), hermitian=True)
        X2 = cp.Variable((3, 3), hermitian=True)
        lmi = cp.bmat([[X1, block], [block.conj().T, X2]])
        prob = cp.Problem(cp.Minimize(cp.real(cp.trace(X1) + cp.trace(X2)) / 2), [lmi >> 0])
        prob.solve(solver=cp.SCS, eps_abs=1e-9, eps_rel=1e-9, max_iters=200000)
        assert prob.status == cp.OPTIMAL, prob.status
        total += prob.value
    # SCS at eps 1e-9 gives objective accuracy ~1e-7 relative on these O(1) SDPs.
    assert abs(2 * total - closed) / closed < 1e-6
    nuclear = 2 * sum(np.linalg.norm(A[m], "nuc") for m in range(4))
    assert abs(nuclear - closed) / closed < 1e-13


def test_d1_reduces_to_fully_connected(rng):
    M = rng.standard_normal((4, 3))
    W = M[:, :, None]  # d = 1
    s = np.linalg.svd(M, compute_uv=False)
    for depth in (1, 2, 3, 7):
        fc = depth * np.sum(s ** (2 / depth))
        for convention in ("scaled", "plain"):  # identical at d = 1
            A = multipliers_from_filters(W, convention)
            assert np.isclose(representation_cost(A, depth, convention), fc, rtol=1e-13)


def test_expansion_terms_by_hand(rng):
    A = random_rank_target(rng, 3, 2, (5,), 1)
    sv = np.linalg.svd(A, compute_uv=False)
    kept = sv[sv > 1e-8 * sv.max()]
    r0, r1, r2 = expansion_terms(A)
    assert r0 == len(kept) == 5
    assert np.isclose(r1, 2 * np.sum(np.log(kept)), rtol=1e-13)
    assert np.isclose(r2, 2 * np.sum(np.log(kept) ** 2), rtol=1e-13)
    r0p, r1p, r2p = expansion_terms(A, "plain")  # plain carries 1/d on every term
    assert np.isclose(r0p, r0 / 5) and np.isclose(r1p, r1 / 5) and np.isclose(r2p, r2 / 5)


def test_expansion_remainder_decays_like_inverse_square(rng):
    """|R(A;L) - (L R0 + R1 + R2/L)| ~ C / L^2: fitted log-log slope over L in [16, 512]."""
    A = multipliers_from_filters(rng.standard_normal((2, 2, 2, 3)))
    r0, r1, r2 = expansion_terms(A)
    depths = np.array([16, 32, 64, 128, 256, 512])
    err = np.array([abs(representation_cost(A, L) - (L * r0 + r1 + r2 / L)) for L in depths])
    slope, intercept = np.polyfit(np.log(depths), np.log(err), 1)
    resid = np.log(err) - (slope * np.log(depths) + intercept)
    # The next term is R3/L^2 with R3 = (4/3) sum (log s)^3 != 0, so the slope is -2 up to the
    # R4/L^3 correction (relative size R4/(R3 L) < 0.1 at L >= 16): allow 0.1 on the slope.
    assert abs(slope + 2) < 0.1, slope
    assert np.max(np.abs(resid)) < 0.1


INTEGER_FILTERS = [
    ([[[1, 2, 0, -1, 0, 0], [0, 1, 1, 0, 0, 0]], [[2, 4, 0, -2, 0, 0], [0, 2, 2, 0, 0, 0]]], (6,)),
    ([[[1, 1, 1, 1]]], (4,)),  # rank only at m = 0
    ([[[[1, -1, 0], [0, 2, 1]]], [[[0, 1, 0], [1, 0, -1]]]], (2, 3)),
    ([[[1, 0, -1, 0, 1]], [[0, 1, 0, -1, 0]]], (5,)),
]


@pytest.mark.parametrize("filters,spatial", INTEGER_FILTERS)
def test_exact_sympy_agrees_with_float(filters, spatial):
    W = np.array(filters, dtype=float)
    ranks = exact_ranks(filters, spatial)
    float_ranks = ranks_per_frequency(multipliers_from_filters(W))
    for m, r in ranks.items():
        assert float_ranks[m] == r
    for convention in ("scaled", "plain"):
        A = multipliers_from_filters(W, convention)
        for depth in (1, 2, 3, 10):
            exact = float(exact_cost(filters, spatial, depth, convention, digits=30))
            # float64 SVD + FFT of integer data: ~1e-15 relative; 1e-12 leaves margin.
            assert abs(representation_cost(A, depth, convention) - exact) <= 1e-12 * exact


def test_analyze_report_fields(rng):
    W = rng.standard_normal((2, 2, 4, 4))
    report = analyze_linear_filter(W, [2, 4], "plain").to_dict()
    assert report["cbn_rank"] == 32 and report["bound"] == "exact"
    assert np.array(report["rank_per_frequency"]).shape == (4, 4)
    assert np.isclose(report["R0"], 32 / 16)


@settings(max_examples=30, deadline=None)
@given(
    spatial=st.lists(st.integers(1, 6), min_size=1, max_size=2).map(tuple),
    c_out=st.integers(1, 3),
    c_in=st.integers(1, 3),
    depth=st.integers(1, 5),
    convention=st.sampled_from(["scaled", "plain"]),
    seed=st.integers(0, 2**31 - 1),
)
def test_property_construction(spatial, c_out, c_in, depth, convention, seed):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((c_out, c_in, *spatial))
    A = multipliers_from_filters(W, convention)
    layers = minimal_norm_weights(A, depth, convention=convention)
    cost = representation_cost(A, depth, convention)
    assert np.isclose(Network(layers).norm_sq(), cost, rtol=1e-9)
    np.testing.assert_allclose(compose_multipliers(layers, convention), A, atol=1e-9 * abs(A).max())
