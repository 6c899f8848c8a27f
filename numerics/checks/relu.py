"""Checks of paper_notes/theory.md sections 2 and 4 on random ReLU circular CNNs with biases."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from cbn.numerics.bounds import (
    bottleneck_terms,
    constant_input_jacobian,
    fourier_jacobian_fd,
    jacobian_blocks_fd,
    schatten_lower_bound,
)
from cbn.numerics.fourier import (
    filters_from_multipliers,
    multipliers_from_filters,
    negated_frequencies,
)
from cbn.numerics.linear import minimal_norm_weights
from cbn.numerics.spectra import forward
from cbn.numerics.weights import Network
from cbn.theory.claims import CheckResult

#: Central differences of a piecewise-linear map are exact away from kinks; what remains is
#: round-off ~ eps * |f| / step = 1e-16 / 1e-6 = 1e-10 relative. 1e-7 leaves 3 orders of margin.
FD_TOL = 1e-7
#: Lower bounds hold exactly; the margin only absorbs float64 round-off of the sums.
BOUND_TOL = 1e-12
#: Equality cases are built from exact multipliers: the FFT round trip to filters and back moves
#: each singular value by ~1e-15, and the bound sums ~100 such terms: 1e-12 relative is margin.
EQUALITY_TOL = 1e-12


def random_relu_nets(count: int, seed: int) -> Iterator[tuple[list, list, tuple, str]]:
    """Random ReLU CNNs with biases: ``(filters, biases, spatial, convention)``.

    Depths 2-6, widths 1-4, grids 4, 5, 6, 3x3, 2x4; Gaussian weights scaled by
    ``1/sqrt(fan-in)`` and biases of scale 0.5 so that units are both on and off.
    """
    rng = np.random.default_rng(seed)
    grids = [(4,), (5,), (6,), (3, 3), (2, 4)]
    for t in range(count):
        spatial = grids[t % len(grids)]
        depth = 2 + t % 5
        dims = rng.integers(1, 5, size=depth + 1)
        filters = [rng.standard_normal((dims[i + 1], dims[i], *spatial)) / np.sqrt(dims[i])
                   for i in range(depth)]
        biases = [0.5 * rng.standard_normal(dims[i + 1]) for i in range(depth)]
        yield filters, biases, spatial, ("scaled", "plain")[t % 2]


def check_constant_input_blocks(mode: str) -> CheckResult:
    """At a constant input the Jacobian is block-diagonal in frequency with blocks
    M_L D_{L-1} ... D_1 M_1; at a generic input it is not."""
    count = 20 if mode == "quick" else 200
    worst_off = worst_blocks = 0.0
    generic_off = []
    for filters, biases, spatial, convention in random_relu_nets(count, 21):
        c_in = filters[0].shape[1]
        rng = np.random.default_rng(len(generic_off))
        value = rng.standard_normal(c_in)

        def fn(X, filters=filters, biases=biases, convention=convention):
            return forward(filters, biases, X, "relu", convention)[-1]

        blocks, off = jacobian_blocks_fd(fn, value, spatial)
        exact = constant_input_jacobian(filters, biases, value, "relu", convention)
        scale = max(float(np.abs(exact).max()), 1e-300)
        worst_off = max(worst_off, off)
        worst_blocks = max(worst_blocks, float(np.abs(blocks - exact).max()) / scale)
        # Generic input: a random non-constant signal, same network.
        generic = rng.standard_normal((c_in, *spatial))
        generic_off.append(fourier_jacobian_fd(fn, generic)[1])
    measured = max(worst_off, worst_blocks)
    median_generic = float(np.median(generic_off)) if generic_off else float("nan")
    passed = measured <= FD_TOL and median_generic > 0.05
    return CheckResult(passed, 0.0, measured, FD_TOL,
                       {"max_off_diagonal_constant_input": worst_off,
                        "max_block_error_vs_formula": worst_blocks,
                        "median_off_diagonal_generic_input": median_generic,
                        "criterion_generic": "median off-diagonal ratio > 0.05 (not diagonal)",
                        "nets": count})


def bottleneck_equality_nets(count: int, seed: int) -> Iterator[tuple[list, tuple, str]]:
    """Linear CNNs (identity activation, no biases) that attain the bottleneck inequality:
    ``(filters, spatial, convention)``.

    Per frequency, layer ``l`` is ``Q_l diag(1_{i<=k_m} + t_l(m) 1_{i>k_m}) Q_{l-1}^T`` with
    real orthogonal ``Q_l``, ``0 < t < 1`` and the last layer zero beyond ``k_m``: every kept
    singular value is 1, ``|J_m|_+ = 1``, and the norm is ``sum_m (k_m L + sum_l dropped s^2)``,
    exactly the bound. The dropped singular values ``t`` are nonzero, so the bound is attained
    only with its dropped term. ``k_m`` varies over frequencies (0 to the width), symmetric under
    ``m -> -m`` so that the filters are real.
    """
    rng = np.random.default_rng(seed)
    grids = [(6,), (5,), (4, 3)]
    for t in range(count):
        spatial = grids[t % len(grids)]
        depth, width = 2 + t % 4, 3
        k = rng.integers(0, width + 1, size=spatial)
        k = np.maximum(k, negated_frequencies(k[..., None, None], len(spatial))[..., 0, 0])
        qs = [np.linalg.qr(rng.standard_normal((width, width)))[0] for _ in range(depth + 1)]
        kept = (np.arange(width) < k[..., None]).astype(float)  # (*spatial, width)
        convention = ("scaled", "plain")[t % 2]
        filters = []
        for layer in range(depth):
            tl = rng.uniform(0.1, 0.9, size=(*spatial, 1))
            tl = 0.5 * (tl + negated_frequencies(tl[..., None], len(spatial))[..., 0])
            diag = kept + (0.0 if layer == depth - 1 else tl * (1 - kept))
            mult = (qs[layer + 1] * diag[..., None, :]) @ qs[layer].T
            filters.append(filters_from_multipliers(mult.astype(complex), convention))
        yield filters, spatial, convention


def _equality_gap(mode: str, which: str) -> float:
    """Max |norm - bound| / norm over networks that attain the bound: balanced constructions
    (Schatten) or :func:`bottleneck_equality_nets` (bottleneck)."""
    worst = 0.0
    if which == "schatten":
        rng = np.random.default_rng(26)
        for t in range(6 if mode == "quick" else 30):
            spatial = [(6,), (5,), (3, 4)][t % 3]
            convention = ("scaled", "plain")[t % 2]
            A = multipliers_from_filters(rng.standard_normal((3, 2, *spatial)), convention)
            depth = 1 + t % 5
            filters = minimal_norm_weights(A, depth, convention=convention)
            jac = constant_input_jacobian(filters, None, np.zeros(2), "identity", convention)
            norm = Network(filters, None, "identity", convention).norm_sq()
            worst = max(worst, abs(norm - schatten_lower_bound(jac, depth, convention)) / norm)
        return worst
    for filters, _, convention in bottleneck_equality_nets(6 if mode == "quick" else 30, 27):
        terms = bottleneck_terms(filters, None, np.zeros(filters[0].shape[1]), "identity",
                                 convention)
        worst = max(worst, abs(terms.slack) / terms.norm_sq)
    return worst


def _min_slack(mode: str, which: str) -> tuple[float, int]:
    count = 100 if mode == "quick" else 1000
    worst = np.inf
    rng = np.random.default_rng(22)
    for filters, biases, _, convention in random_relu_nets(count, 23):
        value = rng.standard_normal(filters[0].shape[1])
        norm = Network(filters, biases, "relu", convention).norm_sq()
        if which == "schatten":
            jac = constant_input_jacobian(filters, biases, value, "relu", convention)
            bound = schatten_lower_bound(jac, len(filters), convention)
        else:
            bound = bottleneck_terms(filters, biases, value, "relu", convention).total
        worst = min(worst, (norm - bound) / norm)
    return worst, count


def _bound_result(mode: str, which: str) -> CheckResult:
    """Never violated on random nets, and attained (to round-off) where it must be: a bound
    that is too low passes the first test, one that is too high fails it, only the right one
    passes both."""
    worst, count = _min_slack(mode, which)
    gap = _equality_gap(mode, which)
    passed = worst >= -BOUND_TOL and gap <= EQUALITY_TOL
    return CheckResult(passed, ">= 0, attained by the equality cases", [worst, gap],
                       [BOUND_TOL, EQUALITY_TOL],
                       {"metric": "[min (norm - bound)/norm over random nets, max |norm - "
                        "bound|/norm over equality cases]", "nets": count})


def check_schatten_bound(mode: str) -> CheckResult:
    """||theta||^2 >= L sum_m ||J_m(x)||_{S_{2/L}}^{2/L} at every constant input, with equality
    for balanced linear networks."""
    return _bound_result(mode, "schatten")


def check_bottleneck_inequality(mode: str) -> CheckResult:
    """||theta||^2 >= sum_m [k_m L + 2 log|J_m|_+ + sum_l (kept (s-1)^2 + dropped s^2)], with
    equality for linear networks whose kept singular values are 1
    (:func:`bottleneck_equality_nets`)."""
    return _bound_result(mode, "bottleneck")


def check_fully_connected_network(mode: str) -> CheckResult:
    """d = 1: the circular CNN is exactly the fully-connected net z = W a + b (both
    conventions), and its constant-input Jacobian is the usual product W_L D ... D W_1."""
    rng = np.random.default_rng(24)
    worst = 0.0
    for filters, biases, _, convention in random_relu_nets(10 if mode == "quick" else 100, 25):
        mats = [rng.standard_normal(w.shape[:2]) for w in filters]
        fc = [m[:, :, None] for m in mats]
        X = rng.standard_normal((7, mats[0].shape[1]))
        a = X
        jac = np.eye(X.shape[1])
        for i, (m, b) in enumerate(zip(mats, biases)):
            z = a @ m.T + b
            if i < len(mats) - 1:
                jac = (z[0] > 0)[:, None] * (m @ jac)
                a = np.maximum(z, 0)
            else:
                jac = m @ jac
                a = z
        cnn = forward(fc, biases, X[:, :, None], "relu", convention)[-1][:, :, 0]
        blocks = constant_input_jacobian(fc, biases, X[0], "relu", convention)[0]
        worst = max(worst, float(np.abs(cnn - a).max()), float(np.abs(blocks - jac).max()))
    return CheckResult(worst <= 1e-12, 0.0, worst, 1e-12, {"metric": "max abs difference"})


def check_construction_upper_bound(mode: str) -> CheckResult:
    """A ReLU target factoring through a representation kept on subspaces V_m: the projector
    construction represents it exactly and each added layer costs sum_m dim V_m, so
    R0 <= sum_m dim V_m; the constant-input Jacobian ranks give R0 >= sum_m rank J_m."""
    from cbn.numerics.sweep import target_r0_lower_bound
    from cbn.numerics.targets import get_target

    target = get_target("bottleneck", spatial=[8], K=1, c_rep=2)
    X = target.sample(10 if mode == "quick" else 40, 0)
    Y = target.evaluate(X)
    upper = target.r0_upper_bound()
    depths = (4, 5, 7) if mode == "quick" else (4, 5, 7, 10, 16)
    norms, worst_rep = [], 0.0
    for depth in depths:
        net = target.construction(depth, width=6)
        worst_rep = max(worst_rep, float(np.abs(net(X) - Y).max() / np.abs(Y).max()))
        norms.append(net.norm_sq())
    slopes = np.diff(norms) / np.diff(depths)
    lower = target_r0_lower_bound(target, X)["rank_sum"]
    # Exactness: the same arithmetic through FFTs in another order (round-off ~1e-15 relative);
    # each projection layer costs trace P = sum dim V_m up to FFT round-off of 0/1 multipliers.
    # The bounds meet: at every kept frequency the constant-input Jacobian has rank dim V_m
    # (2 representation channels), so sum_m rank J_m = sum_m dim V_m pins R0 = 6 exactly.
    passed = (worst_rep <= 1e-12 and float(np.max(np.abs(slopes - upper))) <= 1e-9
              and lower == upper)
    return CheckResult(passed, upper, slopes.tolist(), 1e-9,
                       {"representation_rel_error": worst_rep, "depths": list(depths),
                        "construction_norms": norms, "R0_upper_bound": upper,
                        "R0_lower_bound_jacobian_ranks": lower,
                        "bounds": "construction = upper, Jacobian ranks = lower"})
