"""Two-layer ReLU convex programs: patterns, rebuild, non-convex training, Savarese's formula."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import linprog

from cbn.numerics.convex.arrangements import arrangement_patterns, cell_bound
from cbn.numerics.convex.relu2 import relu2_circular, relu2_fc
from cbn.numerics.convex.solver import InfeasibleDataError

# Agreement between the convex value and the rebuilt network's objective: the rebuild is exact
# algebra, so the difference is the solver's constraint violation (tolerance 1e-9) times the
# size of the data/weights (O(10)): 1e-7 relative.
REBUILD_RTOL = 1e-7


# ------------------------------------------------------------------------------------------------
# arrangement patterns
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n, p", [(6, 1), (7, 2), (9, 3), (10, 4)])
def test_exact_enumeration_reaches_the_cell_bound(rng, n, p):
    Z = rng.standard_normal((n, p))
    pats = arrangement_patterns(Z)
    assert pats.exact and pats.method == "enumerated"
    # Generic data: a central arrangement of n hyperplanes in R^p has 2 sum_{k<p} C(n-1, k)
    # cells; the all-zero pattern (if a cell) is dropped.
    assert pats.cell_bound == cell_bound(n, p)
    assert len(pats.masks) in (pats.cell_bound, pats.cell_bound - 1)
    # Every sampled pattern is among the enumerated ones.
    sampled = arrangement_patterns(Z, max_patterns=0, n_samples=5000)
    assert not sampled.exact and sampled.method == "sampled"
    exact_set = {m.tobytes() for m in pats.masks}
    assert all(m.tobytes() in exact_set for m in sampled.masks)


def test_degenerate_rows_are_merged(rng):
    Z = rng.standard_normal((5, 2))
    Z = np.vstack([Z, 2 * Z[:2], -Z[2:3], np.zeros((1, 2))])  # same hyperplanes, a zero row
    pats = arrangement_patterns(Z)
    assert pats.exact and pats.cell_bound == cell_bound(5, 2)


# ------------------------------------------------------------------------------------------------
# convex value = rebuilt network objective
# ------------------------------------------------------------------------------------------------


def _assert_reported_split(res, beta):
    """The reported parts add up to the value: ``fit_loss + penalty`` (``penalty`` alone when
    interpolating), and the penalty is half the rebuilt network's squared norm times beta
    (balanced neurons: ``(||a||^2 + alpha^2)/2`` is each neuron's group norm)."""
    fit = 0.0 if beta is None else res.fit_loss
    assert fit + res.penalty == pytest.approx(res.value, rel=REBUILD_RTOL)
    half_norm = 0.5 * res.network.norm_sq() * (1.0 if beta is None else beta)
    assert res.penalty == pytest.approx(half_norm, rel=REBUILD_RTOL)


@pytest.mark.parametrize("bias", ["none", "penalized", "free"])
@pytest.mark.parametrize("beta", [0.1, None])
def test_fc_rebuilt_network_attains_the_value(rng, bias, beta):
    X = rng.standard_normal((7, 2))
    y = rng.standard_normal(7)
    if beta is None and bias == "none":
        X = np.hstack([X, np.ones((7, 1))])  # interpolation without biases needs rank >= N-ish
        X = np.hstack([X, rng.standard_normal((7, 4))])
    res = relu2_fc(X, y, beta, bias, "CLARABEL")
    assert res.exact_patterns and res.bound == "exact"
    assert res.network_objective == pytest.approx(res.value, rel=REBUILD_RTOL)
    _assert_reported_split(res, beta)
    if beta is None:
        # Interpolation: the rebuilt network fits to the solver's feasibility tolerance.
        assert np.abs(res.network(X) - y).max() < 1e-7


@pytest.mark.parametrize("convention", ["scaled", "plain"])
@pytest.mark.parametrize("beta", [0.05, None])
def test_circular_rebuilt_network_attains_the_value(rng, convention, beta):
    X = rng.standard_normal((6, 1, 4))
    y = rng.standard_normal(6)
    res = relu2_circular(X, y, beta, convention, "CLARABEL")
    assert res.exact_patterns
    net = res.network
    # Unit-norm first-layer filters (exact algebra: round-off only).
    norms = np.sqrt(np.sum(net.u**2, axis=tuple(range(1, net.u.ndim))))
    np.testing.assert_allclose(norms, 1.0, atol=1e-12)
    assert res.network_objective == pytest.approx(res.value, rel=REBUILD_RTOL)
    _assert_reported_split(res, beta)


def test_circular_with_one_pixel_is_the_fully_connected_program(rng):
    # d = 1: ||F v||_{1,2} = ||v||_2 and the convolution is a matrix product
    # (paper_notes/theory.md section 2).
    X = rng.standard_normal((7, 3, 1))
    y = rng.standard_normal(7)
    circ = relu2_circular(X, y, 0.1, "scaled", "CLARABEL")
    fc = relu2_fc(X.reshape(7, 3), y, 0.1, "none", "CLARABEL")
    assert circ.value == pytest.approx(fc.value, rel=1e-7)  # two solves at tolerance 1e-9


def test_sampled_patterns_give_an_upper_bound(rng):
    X = rng.standard_normal((10, 3))
    y = rng.standard_normal(10)
    exact = relu2_fc(X, y, 0.1, "none", "CLARABEL")
    sampled = relu2_fc(X, y, 0.1, "none", "CLARABEL", max_patterns=1, n_samples=8, seed=1)
    assert exact.exact_patterns and not sampled.exact_patterns
    assert sampled.bound == "upper bound" and sampled.n_patterns < exact.n_patterns
    assert sampled.value >= exact.value * (1 - 1e-7)  # solver tolerance


def test_zero_data_edge_case():
    y = np.arange(4.0)
    res = relu2_fc(np.zeros((4, 2)), y, 0.1, "none", "CLARABEL")
    # No neuron can fit anything: the optimum is the empty network, 1/2 ||y||^2 = 7.
    assert res.value == pytest.approx(7.0, rel=1e-8) and res.n_neurons == 0
    with pytest.raises(InfeasibleDataError, match="interpolates the data"):
        relu2_fc(np.zeros((4, 2)), y, None, "none", "CLARABEL")


def test_bad_arguments_raise(rng):
    X = rng.standard_normal((5, 2))
    with pytest.raises(ValueError, match="beta must be > 0"):
        relu2_fc(X, np.zeros(5), 0.0)
    with pytest.raises(ValueError, match="bias mode"):
        relu2_fc(X, np.zeros(5), 0.1, bias="maybe")
    with pytest.raises(ValueError, match="one output per sample"):
        relu2_fc(X, np.zeros((5, 2)), 0.1)
    with pytest.raises(ValueError, match=r"\(N, c_in, \*spatial\)"):
        relu2_circular(X, np.zeros(5), 0.1)


# ------------------------------------------------------------------------------------------------
# non-convex training of the same architecture (torch, float64, L-BFGS)
# ------------------------------------------------------------------------------------------------


def _train(objective, params, steps=4000):
    """Adam (lr 1e-2, cosine decay over ``steps``) from a small initialisation, then an L-BFGS
    polish. Measured: from a 0.5-scale start, L-BFGS alone stalls 1e-4 to 1e-2 above the
    optimum on ReLU kinks; the small start reaches ~1e-6."""
    adam = torch.optim.Adam(params, lr=1e-2)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(adam, steps)
    for _ in range(steps):
        adam.zero_grad()
        objective().backward()
        adam.step()
        schedule.step()
    lbfgs = torch.optim.LBFGS(params, lr=1.0, max_iter=500, tolerance_grad=1e-14,
                              tolerance_change=1e-16, history_size=50,
                              line_search_fn="strong_wolfe")

    def closure():
        lbfgs.zero_grad()
        loss = objective()
        loss.backward()
        return loss

    lbfgs.step(closure)
    with torch.no_grad():
        return float(objective())


#: Neurons and random starts of the non-convex runs (the convex solutions use ~N+1 neurons).
WIDTH, SEEDS, INIT = 100, 2, 1e-2


def _train_fc(X, y, beta, bias, width, seed, init=INIT):
    gen = torch.Generator().manual_seed(seed)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    W = torch.randn(width, X.shape[1], generator=gen, dtype=torch.float64) * init
    b = torch.randn(width, generator=gen, dtype=torch.float64) * init
    a = torch.randn(width, generator=gen, dtype=torch.float64) * init
    c = torch.zeros((), dtype=torch.float64)
    params = [W, a] + ([b] if bias != "none" else []) + ([c] if bias == "free" else [])
    for p in params:
        p.requires_grad_(True)

    def objective():
        pre = Xt @ W.T + (b if bias != "none" else 0.0)
        f = torch.relu(pre) @ a + (c if bias == "free" else 0.0)
        norm = (W**2).sum() + (a**2).sum() + ((b**2).sum() if bias == "penalized" else 0.0)
        return 0.5 * ((f - yt) ** 2).sum() + 0.5 * beta * norm

    return _train(objective, params)


def _train_circular(X, y, beta, width, seed, convention="scaled"):
    gen = torch.Generator().manual_seed(seed)
    n, c_in, d = X.shape
    s = d**-0.5 if convention == "scaled" else 1.0
    Xh = torch.fft.fft(torch.tensor(X), dim=-1)  # (N, c_in, d)
    yt = torch.tensor(y)
    u = torch.randn(width, c_in, d, generator=gen, dtype=torch.float64).requires_grad_(True)
    a = (torch.randn(width, d, generator=gen, dtype=torch.float64) * INIT).requires_grad_(True)
    alpha = (torch.randn(width, generator=gen, dtype=torch.float64) * INIT).requires_grad_(True)

    def objective():
        unit = u / torch.sqrt((u**2).sum(dim=(1, 2), keepdim=True))
        # hidden_j = s * sum_c u_jc (*) x_c, circular convolution through the FFT
        hidden = torch.fft.ifft(s * torch.einsum("jcm,ncm->njm", torch.fft.fft(unit, dim=-1),
                                                 Xh), dim=-1).real  # (N, m, d)
        f = torch.relu((hidden * a).sum(-1)) @ alpha
        return 0.5 * ((f - yt) ** 2).sum() + 0.5 * beta * ((a**2).sum() + (alpha**2).sum())

    return _train(objective, [u, a, alpha])


@pytest.mark.parametrize(
    "bias", ["none", pytest.param("penalized", marks=pytest.mark.full)]  # ~1 min each
)
def test_fc_non_convex_training_never_beats_and_reaches_the_convex_optimum(rng, bias):
    X = rng.standard_normal((8, 2))
    y = rng.standard_normal(8)
    beta = 0.1
    res = relu2_fc(X, y, beta, bias, "CLARABEL")
    assert res.exact_patterns
    finals = [_train_fc(X, y, beta, bias, width=WIDTH, seed=s) for s in range(SEEDS)]
    # Never below: the convex optimum is the global optimum (solver tolerance 1e-9 relative).
    assert min(finals) >= res.value * (1 - 1e-7)
    # Reached within 1e-3 with enough neurons (WIDTH >> the ~N+1 the convex solution needs).
    assert min(finals) - res.value < 1e-3


@pytest.mark.full
@pytest.mark.parametrize("bias", ["none", "penalized"])
def test_fc_non_convex_survey(bias):
    """8 random instances (N = 8 in R^2, beta = 0.1), 4 starts each (init scales 1e-2 and 0.5,
    two seeds), width 100. Measured gaps (best start): all < 1e-3 except one penalized instance
    (1.5e-3: every start ends on a non-global stationary point); never below the convex value."""
    reached = 0
    for inst in range(8):
        gen = np.random.default_rng(100 + inst)
        X, y = gen.standard_normal((8, 2)), gen.standard_normal(8)
        value = relu2_fc(X, y, 0.1, bias, "CLARABEL").value
        finals = [_train_fc(X, y, 0.1, bias, WIDTH, s, init) for init in (1e-2, 0.5)
                  for s in range(2)]
        assert min(finals) >= value * (1 - 1e-7)  # never below (solver tolerance)
        reached += min(finals) - value < 1e-3
    # Threshold set from the survey above (8/8 without biases, 7/8 with penalised biases).
    assert reached >= 7


def test_circular_non_convex_training_never_beats_and_reaches_the_convex_optimum(rng):
    X = rng.standard_normal((6, 1, 4))
    y = rng.standard_normal(6)
    beta = 0.05
    res = relu2_circular(X, y, beta, "scaled", "CLARABEL")
    assert res.exact_patterns
    finals = [_train_circular(X, y, beta, width=WIDTH, seed=s) for s in range(SEEDS)]
    assert min(finals) >= res.value * (1 - 1e-7)  # solver tolerance, as above
    assert min(finals) - res.value < 1e-3


# ------------------------------------------------------------------------------------------------
# Savarese et al. (2019): R(f) = max( int |f''|, |f'(-inf) + f'(+inf)| ) on scalar inputs
# ------------------------------------------------------------------------------------------------


def _savarese_min_interpolation_cost(x, y):
    """min over interpolants of max(int|f''|, |f'(-inf)+f'(inf)|), independently of cvxpy.

    For a linear spline with secant slopes s_k and free end slopes l, r the cost is
    max(|s_1 - l| + sum |s_{k+1} - s_k| + |r - s_last|, |l + r|), and no interpolant has a
    smaller int|f''| for given end slopes; minimise over (l, r) as an LP (HiGHS).
    Returns the value and whether the |l + r| term is active at the optimum.
    """
    s = np.diff(y) / np.diff(x)
    interior = float(np.abs(np.diff(s)).sum())
    # variables l, r, p, q, t: minimise t
    A = [[0, 0, 1, 1, -1], [1, 0, -1, 0, 0], [-1, 0, -1, 0, 0], [0, 1, 0, -1, 0],
         [0, -1, 0, -1, 0], [1, 1, 0, 0, -1], [-1, -1, 0, 0, -1]]
    b = [-interior, s[0], -s[0], s[-1], -s[-1], 0, 0]
    lp = linprog([0, 0, 0, 0, 1], A_ub=A, b_ub=b, bounds=[(None, None)] * 5, method="highs")
    assert lp.status == 0
    l_, r_, *_, t = lp.x
    return lp.fun, abs(abs(l_ + r_) - t) < 1e-9


@pytest.mark.parametrize("case", ["wiggly", "almost-linear"])
def test_scalar_inputs_match_savarese_formula(rng, case):
    x = np.sort(rng.uniform(-2, 2, 7))
    y = rng.standard_normal(7) if case == "wiggly" else x + 0.02 * rng.standard_normal(7)
    expected, slopes_term_active = _savarese_min_interpolation_cost(x, y)
    if case == "almost-linear":
        assert slopes_term_active  # the |f'(-inf) + f'(+inf)| term decides the value
    res = relu2_fc(x[:, None], y, None, "free", "CLARABEL")
    assert res.exact_patterns
    # Interpolation program at Clarabel tolerance 1e-9; the equality constraints are solved to
    # that level relative to O(10) weights: 1e-6 relative (measured ~2e-8).
    assert res.value == pytest.approx(expected, rel=1e-6)


def test_regularized_network_cost_is_savarese_cost_of_its_function(rng):
    """For the regularized optimum f, (1/2)||theta||^2 = R(f) evaluated from its kinks."""
    x = np.sort(rng.uniform(-2, 2, 8))
    y = rng.standard_normal(8)
    res = relu2_fc(x[:, None], y, 0.05, "free", "CLARABEL")
    net = res.network
    w, alpha = net.W[:, 0], net.alpha
    knots = -net.b / w
    order = np.argsort(knots)
    jumps = (np.abs(w) * alpha)[order]
    groups = np.split(jumps, np.nonzero(np.diff(knots[order]) > 1e-9)[0] + 1)
    total_variation = sum(abs(g.sum()) for g in groups)
    ends = abs(np.sum((alpha * w)[w < 0]) + np.sum((alpha * w)[w > 0]))
    savarese = max(total_variation, ends)
    # The network's own cost sum |alpha_j| |w_j| (balanced); solver tolerance 1e-9.
    assert savarese == pytest.approx(res.penalty / 0.05, rel=1e-7)
