"""Minimal-norm search: closed forms from above, Schatten lower bounds, d = 1 slope, ridge."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from cbn.numerics.fourier import (
    circular_conv,
    dense_operator,
    filters_from_multipliers,
    multipliers_from_filters,
)
from cbn.numerics.inputs import InputError
from cbn.numerics.linear import compose_multipliers, representation_cost
from cbn.numerics.network import CircularCNN
from cbn.numerics.search import (
    Architecture,
    MinNormResult,
    RidgeSettings,
    SearchSettings,
    Start,
    min_norm_fit,
    ridge_fit,
)
from cbn.numerics.search.orientation import orient_linear_start as _orient_linear_start
from cbn.numerics.starts import linear_closed_form_init, pad_to_depth

# Issue requirement: the search reaches the closed form within 1e-4 relative, from above.
CLOSED_FORM_GAP = 1e-4
# "Never below": the fit meets max|f(X) - Y| <= 1e-10 max|Y|, so the function it represents is
# ~1e-10 away from the target and its exact cost can sit below R(A) by ~ ||grad R|| * 1e-10;
# with singular values O(0.1..10) the gradient of L sum s^{2/L} is O(10..100), so 1e-8 relative
# bounds that dip with margin while still catching any genuine undershoot.
BELOW_SLACK = 1e-8


def linear_problem(seed, grid, c_out, c_in, n_extra=2):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((c_out, c_in, *grid))
    X = rng.standard_normal((c_in + n_extra, c_in, *grid))  # generic: spans every frequency
    return W, X, circular_conv(W, X)


def assert_from_above(res: MinNormResult, cost: float, convention: str = "scaled"):
    assert res.converged, res.message
    assert res.bound == "upper"
    gap = (res.norm_sq - cost) / cost
    assert -BELOW_SLACK <= gap <= CLOSED_FORM_GAP, (gap, res.to_dict())
    # The trained net represents exactly its own composed multipliers; their closed form is an
    # exact lower bound on its norm (equal only at a balanced optimum). Both are sums of the same
    # O(100) float64 numbers: 1e-12 relative covers the summation round-off.
    own = representation_cost(compose_multipliers(res.filters, convention), res.depth,
                              convention, rtol=0.0)
    assert res.norm_sq >= own * (1 - 1e-12)


LINEAR_CASES = [  # (seed, grid, c_out, c_in, depth): 1-D and multichannel 2-D targets;
    (0, (6,), 3, 2, 2),  # depths 2..8 on four targets run in the full suite below
    (1, (6,), 3, 2, 5),
    (3, (3, 3), 2, 2, 3),
]


@pytest.mark.parametrize("seed, grid, c_out, c_in, depth", LINEAR_CASES)
def test_linear_search_reaches_closed_form_from_above(seed, grid, c_out, c_in, depth):
    W, X, Y = linear_problem(seed, grid, c_out, c_in)
    cost = representation_cost(multipliers_from_filters(W), depth)
    res = min_norm_fit(X, Y, Architecture(depth, [max(c_out, c_in)] * (depth - 1),
                                          activation="identity", bias=False),
                       Start.random(seed))
    assert res.residual_max_abs <= 1e-10 * np.abs(Y).max()
    assert_from_above(res, cost)


def rank_deficient_problem(seed=0, d=8, c=3, rank=2, n=32):
    """Target with rank ``rank`` at ``|m| <= d/4`` and rank 0 elsewhere (width ``rank``): the
    depth-2 search has frequency blocks that the optimum leaves empty."""
    rng = np.random.default_rng(seed)
    left = multipliers_from_filters(rng.standard_normal((c, rank, d)))
    right = multipliers_from_filters(rng.standard_normal((rank, c, d)))
    A = left @ right
    m = np.fft.fftfreq(d, 1 / d)
    A[np.abs(m) > d // 4] = 0.0
    W = filters_from_multipliers(A)
    X = np.random.default_rng(seed + 1).standard_normal((n, c, d))
    return W, X, circular_conv(W, X)


@pytest.mark.parametrize("seed", [0, 3])
def test_linear_depth_two_with_empty_blocks_converges_without_restoration(seed):
    """Depth 2 with blocks the optimum leaves empty: phase 2 starts from zero multipliers
    (least-squares ones hold the empty blocks at a flat, quartic point: these seeds stalled at
    max residual ~6e-9 for 3500-5800 iterations, then needed Gauss-Newton restoration)."""
    W, X, Y = rank_deficient_problem()
    cost = representation_cost(multipliers_from_filters(W), 2)
    res = min_norm_fit(X, Y, Architecture(2, [2], activation="identity", bias=False),
                       Start.random(seed))
    assert res.settings["initial_multipliers"] == "zero"
    assert "restoration" not in res.settings, res.message
    assert res.iterations <= 2000, res.iterations  # measured 775 and 505 (stalled: 3528, 5816)
    assert_from_above(res, cost)


@pytest.mark.full
@pytest.mark.parametrize("grid, c_out, c_in", [((8,), 2, 2), ((4, 4), 2, 3), ((6,), 3, 2),
                                               ((3, 4), 3, 3)])
def test_linear_search_closed_form_all_depths(grid, c_out, c_in):
    """Depths 2..8: depth 2 from a random start, each next depth warm-started from the last
    optimum (pad_to_depth with the data projector), the intended depth-sweep workflow. (From
    random starts with the default orthogonal, oriented start, measured once: every case and
    depth converges within 1e-7 of the closed form except (4, 4) 2x3 at L = 8, gap 3e-5 but not
    converged in the iteration budget; with Gaussian starts (3, 4) 3x3 failed at L = 7, 8.)"""
    W, X, Y = linear_problem(17, grid, c_out, c_in)
    A = multipliers_from_filters(W)
    width = max(c_out, c_in)
    res = None
    for depth in range(2, 9):
        init = None if res is None else pad_to_depth(res.to_network(), depth, X)
        res = min_norm_fit(X, Y, Architecture(depth, [width] * (depth - 1),
                                              activation="identity", bias=False),
                           Start.random(depth) if init is None
                           else Start.given(init, depth, kind="ladder"))
        cost = representation_cost(A, depth)
        print(f"{grid} {c_out}x{c_in} L={depth}: gap {(res.norm_sq - cost) / cost:.2e}, "
              f"{res.iterations} its")
        assert_from_above(res, cost)


def test_compressed_and_full_data_find_the_same_minimum():
    """The linear compression changes the samples the objective sees, not the problem."""
    W, X, Y = linear_problem(2, (6,), 2, 2, n_extra=20)
    cost = representation_cost(multipliers_from_filters(W), 3)
    runs = [min_norm_fit(X, Y, Architecture(3, [3, 3], activation="identity", bias=False),
                         Start.random(1), SearchSettings(compress_linear=c)) for c in (True, False)]
    assert [r.settings["fit_samples"] for r in runs] == [2, 22]
    for res in runs:
        assert_from_above(res, cost)


def test_stopping_rules_see_all_the_data_not_the_compression():
    """Data no linear CNN interpolates (N = 8 > c_in = 2, Y generic): the compressed samples
    are interpolated exactly by the least-squares fit, all of (X, Y) are not. A fit that judged
    feasibility or convergence on the compression would report this fit as converged."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((8, 2, 4))
    Y = rng.standard_normal((8, 1, 4))
    res = min_norm_fit(X, Y, Architecture(2, [2],
                                          activation="identity", bias=False), Start.random(),
                       SearchSettings(max_iter=600, inner_iter=100))
    assert res.settings["fit_samples"] == 2  # the objective saw the compression ...
    assert not res.converged and res.message.startswith("infeasible start"), res.message
    # ... and the record reports the residual on all the data (the least-squares residual)
    assert res.residual_max_abs > 0.1 * np.abs(Y).max()


def test_planted_stopping_rules_on_the_compression_are_caught(monkeypatch):
    """The bug that survived the suite once: the compressed samples passed as the check data."""
    import cbn.numerics.search.fit as minnorm

    true = minnorm.augmented_lagrangian

    def on_compression(net, fit, check, *rest):
        return true(net, fit, fit, *rest)

    monkeypatch.setattr(minnorm, "augmented_lagrangian", on_compression)
    with pytest.raises(AssertionError):
        test_stopping_rules_see_all_the_data_not_the_compression()


def test_linear_start_is_oriented_to_the_data_determinant_sign():
    """Square linear nets: at a self-conjugate frequency the start's det sign must match the
    least-squares map's, else the search has to cross a singular network."""
    W, X, Y = linear_problem(4, (6,), 2, 2)
    A = multipliers_from_filters(W)
    for seed in range(6):
        net = CircularCNN([2, 2, 2], (6,), activation="identity", bias=False, seed=seed,
                          init_scheme="orthogonal")
        flips = _orient_linear_start(net, X, Y)
        P = compose_multipliers(net.to_numpy()[0])
        for m in (0, 3):  # the self-conjugate frequencies of Z_6
            assert np.linalg.det(P[m].real) * np.linalg.det(A[m].real) > 0
        assert 0 <= flips <= 2
    wide = CircularCNN([2, 3, 2], (6,), activation="identity", bias=False, seed=0)
    assert _orient_linear_start(wide, X, Y) == 0  # a wider layer connects both signs


def test_plain_convention_closed_form():
    W, X, Y = linear_problem(7, (5,), 2, 2)
    cost = representation_cost(multipliers_from_filters(W, "plain"), 3, "plain")
    Yp = circular_conv(W, X, "plain")
    res = min_norm_fit(X, Yp, Architecture(3, [2, 2],
                                           activation="identity", convention="plain", bias=False),
                       Start.random(0))
    assert_from_above(res, cost, "plain")


def test_closed_form_init_attains_cost_and_search_keeps_it():
    W, X, Y = linear_problem(5, (4, 3), 2, 2)
    A = multipliers_from_filters(W)
    net = linear_closed_form_init(A, 4, [2, 2, 2])
    cost = representation_cost(A, 4)
    # the construction is exact up to FFT round-off (~1e-15 relative on O(100) sums)
    assert net.parameter_norm_sq().item() == pytest.approx(cost, rel=1e-12)
    res = min_norm_fit(X, Y, Architecture(4, [2, 2, 2], activation="identity", bias=False),
                       Start.given(net))
    assert_from_above(res, cost)
    assert res.settings["from_init"] is True


# ---------------------------------------------------------------------------------------------
# ReLU networks
# ---------------------------------------------------------------------------------------------


def dense_jacobian(net: CircularCNN, x0: np.ndarray) -> np.ndarray:
    """Jacobian of the net at one input as a dense (c_out d, c_in d) matrix (autograd)."""
    x = torch.as_tensor(x0[None])
    jac = torch.autograd.functional.jacobian(lambda v: net(v)[0], x)
    return jac.reshape(np.prod(jac.shape[:len(x0.shape)]), -1).numpy()


def schatten_bound(jac: np.ndarray, depth: int) -> float:
    """L sum_i s_i(J)^{2/L}. In the scaled convention ||W_l||_F^2 is the squared Frobenius norm
    of the layer's dense operator, so by the Schatten-Hoelder inequality for products (ReLU
    masks are contractions) ||theta||^2 >= this, at any input. At a constant input J is block
    diagonal in frequency and its singular values are those of the blocks J_m
    (paper_notes/theory.md section 4)."""
    s = np.linalg.svd(jac, compute_uv=False)
    return depth * float(np.sum(s[s > 1e-12 * s.max()] ** (2.0 / depth)))


def test_relu_fit_respects_schatten_lower_bound():
    """Omega = a constant input x0 and x0 +- h e_j: the fit pins the Jacobian at x0."""
    grid, depth, h = (4,), 3, 1e-2
    teacher = CircularCNN([1, 3, 3, 1], grid, seed=11)
    with torch.no_grad():
        for b in teacher.biases:
            b.copy_(torch.linspace(0.2, 0.5, b.numel(), dtype=torch.float64))
    x0 = np.full((1, *grid), 0.7)
    eye = np.eye(4).reshape(4, 1, *grid)
    X = np.concatenate([x0[None], x0 + h * eye, x0 - h * eye])
    with torch.no_grad():
        Y = teacher(torch.as_tensor(X)).numpy()
    j_target = dense_jacobian(teacher, x0)
    lower = schatten_bound(j_target, depth)
    # 200 L-BFGS steps per augmented-Lagrangian step (the ReLU default is 2000): the checks
    # below hold for any network that interpolates the 9 points, however well polished, and at
    # 2000 one of the restarts spends the whole 20000-step budget (100 s) creeping from max
    # residual 5e-7 to 2e-10 at norms equal to 1e-7 relative (plateau_steps counts outer steps)
    res = min_norm_fit(X, Y, Architecture(depth, [4, 4]), Start.random(0),
                       SearchSettings(restarts=3, inner_iter=200))
    # what the Jacobian comparison below needs: interpolation to 1e-10 max|Y| (a converged run,
    # or one the plateau stop ended and the restoration made exact)
    assert res.residual_max_abs <= 1e-10 * np.abs(Y).max(), res.message
    net = res.to_network()
    j_fit = dense_jacobian(net, x0)
    # The fit interpolates the 9 points to 1e-10 max|Y| and is affine on the h-neighbourhood
    # (no ReLU kink inside it), so its Jacobian equals the teacher's up to residual / h ~ 1e-8.
    np.testing.assert_allclose(j_fit, j_target, rtol=0, atol=1e-6)
    teacher_norm = teacher.parameter_norm_sq().item()
    print(f"Schatten lower bound {lower:.6f} <= found (upper) {res.norm_sq:.6f} "
          f"<= teacher {teacher_norm:.6f}")
    # the bound of the fit's own Jacobian holds for every network (an inequality, round-off only)
    assert res.norm_sq >= schatten_bound(j_fit, depth) * (1 - 1e-12)
    # the target's bound: J_fit = J_target to 1e-6, which moves the bound by < 1e-5 relative
    assert res.norm_sq >= lower * (1 - 1e-5)
    # the teacher is one network representing f, so the minimal norm is at most its norm
    assert res.norm_sq <= teacher_norm * (1 + 1e-9)


def rank_k_positive_problem():
    """A rank-2 map with nonnegative factors on positive inputs (d = 1: fully connected)."""
    rng = np.random.default_rng(1)
    B = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    C = np.array([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]])
    A = B @ C
    X = rng.uniform(0.5, 1.5, (20, 4, 1))
    return A, X, np.einsum("oi,nip->nop", A, X)


def depth_sweep(X, Y, depths, width, restarts):
    """Depth sweep with warm starts: the depth-L optimum padded (data projector) to L + 1."""
    res = min_norm_fit(X, Y, Architecture(depths[0], [width] * (depths[0] - 1)), Start.random(0),
                       SearchSettings(restarts=restarts))
    out = [res]
    for L in depths[1:]:
        init = pad_to_depth(res.to_network(), L, X)
        res = min_norm_fit(X, Y, Architecture(L, [width] * (L - 1)), Start.given(init))
        out.append(res)
    return out


def slope_fit(depths, norms):
    """Least-squares fit of norm = a L + b + c / L; returns (a, b, c, max abs residual)."""
    L = np.asarray(depths, float)
    M = np.stack([L, np.ones_like(L), 1.0 / L], axis=1)
    coef, *_ = np.linalg.lstsq(M, np.asarray(norms), rcond=None)
    return (*coef, float(np.max(np.abs(M @ coef - norms))))


@pytest.mark.full
def test_d1_relu_slope_is_rank_full():
    A, X, Y = rank_k_positive_problem()
    depths = [3, 4, 5, 6, 7, 8, 10, 12]
    runs = depth_sweep(X, Y, depths, 6, restarts=4)
    assert all(r.converged for r in runs), [r.message for r in runs]
    a, b, c, resid = slope_fit(depths, [r.norm_sq for r in runs])
    s = np.linalg.svd(A, compute_uv=False)[:2]
    a_low = slope_fit(depths, [L * float(np.sum(s ** (2.0 / L))) for L in depths])[0]
    print(f"d=1 slope fit over L={depths}: a={a:.5f} (rank 2; bound's fit {a_low:.5f}), "
          f"b={b:.5f}, c={c:.5f}, max residual {resid:.1e}")
    # norms optimal to ~1e-9: slopes agree to ~1e-7; the bound's own slope is 2.0065 over this
    # range (the R3/L^2 leak of a 3-term fit), hence 0.01 around 2
    assert abs(a - a_low) < 1e-5
    assert abs(a - 2.0) < 0.01


def test_d1_relu_slope_is_rank():
    """Fully connected (d = 1): the norm grows with slope rank(A) = 2 in the depth."""
    A, X, Y = rank_k_positive_problem()
    depths = [3, 4, 5]
    runs = depth_sweep(X, Y, depths, 6, restarts=1)
    assert all(r.converged for r in runs), [r.message for r in runs]
    s = np.linalg.svd(A, compute_uv=False)[:2]
    for L, r in zip(depths, runs):
        # Schatten lower bound on the open positive orthant (J = A there): L sum s^{2/L}
        lower = L * float(np.sum(s ** (2.0 / L)))
        assert r.norm_sq >= lower * (1 - 1e-8)  # residual-level slack, as BELOW_SLACK
    a, b, c, resid = slope_fit(depths, [r.norm_sq for r in runs])
    a_low = slope_fit(depths, [L * float(np.sum(s ** (2.0 / L))) for L in depths])[0]
    print(f"d=1 slope fit over L={depths}: a={a:.5f} (rank 2; the lower bound's own 3-term fit "
          f"gives {a_low:.5f}), b={b:.5f}, c={c:.5f}")
    # The norms meet the Schatten bound to ~1e-9 relative; an exact 3-point fit amplifies that
    # by ~L^2 ~ 25, so the two slopes agree to 1e-6 (1e-5 allows for it).
    assert abs(a - a_low) < 1e-5
    # With 3 depths the R3/L^2 term leaks into a: for this A the bound's own fit gives
    # 2.0239 (2.0065 over L = 3..12 in the full test, 2.0010 over 4..32), so 0.03 bounds the
    # leak and still rejects slope 1 or 3.
    assert abs(a - 2.0) < 0.03


# ---------------------------------------------------------------------------------------------
# warm starts
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [dict(channels=[2, 3, 3, 2], spatial=(6,)),
     dict(channels=[1, 3, 2], spatial=(4, 4), stride=2),
     dict(channels=[2, 3, 3], spatial=(6,), head_classes=4)],
)
@pytest.mark.parametrize("with_data", [False, True])
def test_pad_to_depth_keeps_the_function(kwargs, with_data, rng):
    net = CircularCNN(**kwargs, seed=2)
    with torch.no_grad():
        for b in net.biases:
            b.normal_(0, 0.3)
    X = rng.standard_normal((7, net.channels[0], *net.spatial))
    deeper = pad_to_depth(net, net.depth + 2, X if with_data else None)
    assert deeper.depth == net.depth + 2
    xt = torch.as_tensor(X)
    # both routes are exact on X (the projector keeps every direction the data spans); the
    # rebalancing multiplies by powers of O(1) factors: 1e-11 covers the float64 round-off
    np.testing.assert_allclose(deeper(xt).detach().numpy(), net(xt).detach().numpy(),
                               rtol=0, atol=1e-11)
    if not with_data:  # the identity layer is exact on every input, not only on X
        z = torch.randn((3, net.channels[0], *net.spatial), dtype=torch.float64)
        np.testing.assert_allclose(deeper(z).detach().numpy(), net(z).detach().numpy(),
                                   rtol=0, atol=1e-11)


def test_pad_to_depth_rejects_impossible_requests():
    with pytest.raises(ValueError, match="cannot pad"):
        pad_to_depth(CircularCNN([1, 2, 1], (4,)), 1)
    with pytest.raises(ValueError, match="one layer"):
        pad_to_depth(CircularCNN([1, 1], (4,)), 3)


# ---------------------------------------------------------------------------------------------
# ridge protocol, records, errors
# ---------------------------------------------------------------------------------------------


def test_ridge_depth_one_matches_ridge_regression(rng):
    """Depth 1, linear: GD on (1/N) sum ||W * x - y||^2 + lam ||W||^2 has a closed form."""
    grid, lam = (5,), 0.1
    X = rng.standard_normal((6, 2, *grid))
    Y = rng.standard_normal((6, 1, *grid))
    # f(x) = Phi(x) w is linear in the filter: build Phi column by column from the dense oracle
    n_w = 1 * 2 * 5
    cols = []
    for k in range(n_w):
        e = np.zeros(n_w)
        e[k] = 1.0
        op = dense_operator(e.reshape(1, 2, *grid))
        cols.append(np.concatenate([op @ x.reshape(-1) for x in X]))
    Phi, y = np.stack(cols, axis=1), Y.reshape(-1)
    w_star = np.linalg.solve(Phi.T @ Phi / 6 + lam * np.eye(n_w), Phi.T @ y / 6)
    res = ridge_fit(X, Y, Architecture(1, [], activation="identity", bias=False),
                    RidgeSettings(lam=lam, lr=0.2, steps=5000, gtol=1e-12), Start.random())
    assert res.converged, res.message
    # at max|grad| <= 1e-12 and curvature >= 2 lam = 0.2 the iterate is within 5e-12 of w*
    np.testing.assert_allclose(res.filters[0].reshape(-1), w_star, rtol=0, atol=1e-10)
    assert res.method == "ridge_gd" and res.bound == "upper"


def test_ridge_is_deterministic_and_reports_divergence(rng):
    X = rng.standard_normal((8, 1, 6))
    Y = rng.standard_normal((8, 1, 6))
    a = ridge_fit(X, Y, Architecture(3, [3, 3]),
                  RidgeSettings(lam=1e-3, lr=0.05, steps=50, batch_size=4), Start.random(3))
    b = ridge_fit(X, Y, Architecture(3, [3, 3]),
                  RidgeSettings(lam=1e-3, lr=0.05, steps=50, batch_size=4), Start.random(3))
    assert a.norm_sq == b.norm_sq and a.method == "ridge_sgd" and a.iterations == 50
    assert not a.converged and a.message.startswith("steps")
    bad = ridge_fit(X, Y, Architecture(3, [3, 3]), RidgeSettings(lam=0.0, lr=1e6, steps=100),
                    Start.random())
    assert not bad.converged and bad.message.startswith("diverged")


def test_search_is_deterministic_and_record_is_json():
    W, X, Y = linear_problem(9, (4,), 1, 1)
    a = min_norm_fit(X, Y, Architecture(3, [1, 1], activation="identity", bias=False),
                     Start.random(4))
    b = min_norm_fit(X, Y, Architecture(3, [1, 1], activation="identity", bias=False),
                     Start.random(4))
    assert a.norm_sq == b.norm_sq and a.iterations == b.iterations
    rec = json.loads(json.dumps(a.to_dict()))
    assert "filters" not in rec and rec["bound"] == "upper"
    for key in ("norm_sq", "residual_max_abs", "residual_rel", "loss", "iterations",
                "wall_time", "device", "converged", "stop_reason"):
        assert key in rec


def test_non_convergence_is_reported():
    W, X, Y = linear_problem(10, (6,), 2, 2)
    res = min_norm_fit(X, Y, Architecture(4, [2, 2, 2], activation="identity", bias=False),
                       Start.random(), SearchSettings(max_iter=5))
    assert not res.converged
    assert res.message.startswith(("max_iter", "infeasible"))
    assert res.iterations <= 5


@pytest.mark.parametrize(
    "X, Y, depth, widths, match",
    [
        (np.zeros((2, 1, 4)), np.zeros((3, 1, 4)), 2, [1], "same N"),
        (np.zeros((2, 1)), np.zeros((2, 1)), 2, [1], "spatial"),
        (np.zeros((2, 1, 4)), np.zeros((2, 1, 4)), 3, [1], "hidden widths"),
        (np.full((2, 1, 4), np.nan), np.zeros((2, 1, 4)), 2, [1], "NaN"),
        (np.zeros((2, 1, 4)), np.zeros((2, 1, 4)), 0, [], "depth"),
    ],
)
def test_bad_input_is_rejected(X, Y, depth, widths, match):
    with pytest.raises(InputError, match=match):
        min_norm_fit(X, Y, Architecture(depth, widths), Start.random())


# ---------------------------------------------------------------------------------------------
# feasibility restoration after the augmented Lagrangian
# ---------------------------------------------------------------------------------------------


def _teacher_problem():
    """A depth-3 ReLU teacher on d = 4 and 6 samples. With ``max_iter=400, inner_iter=50`` the
    augmented Lagrangian stops on its budget at max residual ~7e-4 (measured), inside the
    basin where Gauss-Newton converges."""
    rng = np.random.default_rng(0)
    teacher = CircularCNN([1, 3, 3, 1], (4,), activation="relu", bias=True, seed=1)
    X = rng.standard_normal((6, 1, 4))
    with torch.no_grad():
        Y = teacher(torch.as_tensor(X)).numpy()
    return X, Y, dict(max_iter=400, inner_iter=50)


def _max_residual_numpy(res: MinNormResult, X, Y) -> float:
    """``max|f(X) - Y| / max|Y|`` through the numpy forward pass (independent of torch)."""
    from cbn.numerics.spectra import forward

    out = forward(res.filters, res.biases, X, "relu", res.convention)[-1]
    return float(np.abs(out - Y).max() / np.abs(Y).max())


def test_restoration_makes_a_stopped_run_fit_at_almost_the_same_norm():
    X, Y, kw = _teacher_problem()
    plain = min_norm_fit(X, Y, Architecture(3, [4, 4]), Start.random(),
                         SearchSettings(restore=False, **kw))
    fixed = min_norm_fit(X, Y, Architecture(3, [4, 4]), Start.random(), SearchSettings(**kw))
    # the augmented Lagrangian alone stops short of the data (the situation restoration is for)
    assert not plain.converged and _max_residual_numpy(plain, X, Y) > 1e-5
    rest = fixed.settings["restoration"]
    assert rest["norm_before"] == plain.norm_sq  # same deterministic run up to the restoration
    # tol = 1e-10 is the engine's own stopping target; the numpy forward pass differs from the
    # torch one by rounding only (~1e-15)
    assert _max_residual_numpy(fixed, X, Y) <= 1e-10
    assert rest["residual_max_rel_after"] <= 1e-10 and fixed.norm_sq == rest["norm_after"]
    # the minimum-norm corrections move theta by O(residual) (~7e-4 relative here), so the norm
    # moves by that order too (measured 2.5e-4 relative)
    assert abs(fixed.norm_sq - plain.norm_sq) <= 1e-3 * plain.norm_sq
    assert not fixed.converged and "Gauss-Newton restoration" in fixed.message


def test_restoration_undoes_steps_that_raise_the_residual(monkeypatch):
    import cbn.numerics.search.restoration as mn

    X, Y, kw = _teacher_problem()
    plain = min_norm_fit(X, Y, Architecture(3, [4, 4]), Start.random(),
                         SearchSettings(restore=False, **kw))
    # fault injection: a negated Jacobian turns every Gauss-Newton step uphill
    true_jacobian = mn.constraint_jacobian
    monkeypatch.setattr(mn, "constraint_jacobian", lambda out, params: -true_jacobian(out, params))
    bad = min_norm_fit(X, Y, Architecture(3, [4, 4]), Start.random(), SearchSettings(**kw))
    rest = bad.settings["restoration"]
    assert rest["steps"] >= 1 and "diverge" in rest["stopped"]
    assert rest["residual_max_rel_after"] == rest["residual_max_rel_before"]
    assert bad.norm_sq == plain.norm_sq and bad.residual_rel == plain.residual_rel


def test_restoration_is_skipped_above_its_size_limit():
    X, Y, kw = _teacher_problem()
    plain = min_norm_fit(X, Y, Architecture(3, [4, 4]), Start.random(),
                         SearchSettings(restore=False, **kw))
    limit = X.shape[0] * 4 - 1  # 24 constraints
    skipped = min_norm_fit(X, Y, Architecture(3, [4, 4]), Start.random(),
                           SearchSettings(restore_max_constraints=limit, **kw))
    rest = skipped.settings["restoration"]
    assert rest["stopped"].startswith("skipped") and rest["steps"] == 0
    assert skipped.norm_sq == plain.norm_sq and skipped.residual_rel == plain.residual_rel


def test_a_stalled_phase_one_is_finished_by_gauss_newton():
    X, Y, _ = _teacher_problem()
    kw = dict(max_iter=8, inner_iter=4)  # phase 1 may use 4 L-BFGS iterations only
    plain = min_norm_fit(X, Y, Architecture(3, [4, 4]), Start.random(),
                         SearchSettings(restore=False, **kw))
    assert plain.message.startswith("infeasible start")
    fixed = min_norm_fit(X, Y, Architecture(3, [4, 4]), Start.random(), SearchSettings(**kw))
    rest = fixed.settings["phase1_restoration"]
    # same deterministic phase 1, then the steps reach the phase-1 tolerance 1e-4
    assert rest["residual_max_rel_before"] == plain.settings["phase1_residual_max_rel"] > 1e-4
    assert rest["residual_max_rel_after"] <= 1e-4 and rest["steps"] >= 1
    assert fixed.settings["history"] and "phase 1 had stalled" in fixed.message
    # phase 2 and the final restoration then fit the data to the engine's tol (1e-10)
    assert _max_residual_numpy(fixed, X, Y) <= 1e-10


def test_small_fits_run_on_one_thread_and_restore_the_setting(monkeypatch):
    """Below SMALL_FIT_ELEMENTS the search runs single-threaded (extra threads only wait on
    ops too small to split); the caller's thread count is restored afterwards."""
    import cbn.numerics.search.augmented_lagrangian as al
    import cbn.numerics.search.lbfgs as mn

    seen = []
    real = mn.lbfgs

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(al, "lbfgs", spy)
    W, X, Y = linear_problem(0, (6,), 2, 2)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        min_norm_fit(X, Y, Architecture(2, [2], activation="identity", bias=False), Start.random(0),
                     SearchSettings(max_iter=50))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert seen and set(seen) == {1}
    assert mn.is_small(torch.zeros(8, 2, 6), [2], 2, "cpu")
    assert not mn.is_small(torch.zeros(1024, 32, 28, 28), [32] * 7, 10, "cpu")
