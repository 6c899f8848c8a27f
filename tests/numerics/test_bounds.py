"""Constant-input Jacobian blocks, Schatten lower bound and bottleneck inequality
(paper_notes/theory.md section 4)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cbn.numerics.bounds import (
    bottleneck_terms,
    constant_input_jacobian,
    jacobian_blocks_fd,
    schatten_lower_bound,
)
from cbn.numerics.fourier import dense_operator, filters_from_multipliers, multipliers_from_filters
from cbn.numerics.linear import minimal_norm_weights, representation_cost
from cbn.numerics.spectra import forward


def random_net(rng, spatial, depth, bias=True):
    """A random real ReLU circular CNN: widths 1..4, filter scale and bias scale random."""
    widths = [int(rng.integers(1, 5)) for _ in range(depth + 1)]
    filters, biases = [], []
    for i in range(depth):
        scale = rng.uniform(0.2, 2.0)
        filters.append(scale * rng.standard_normal((widths[i + 1], widths[i], *spatial)))
        biases.append(rng.standard_normal(widths[i + 1]) if bias else None)
    return filters, biases


def fd_net_jacobian(filters, biases, value, activation, convention):
    fn = lambda X: forward(filters, biases, X, activation, convention)[-1]  # noqa: E731
    spatial = filters[0].shape[2:]
    return jacobian_blocks_fd(fn, value, spatial)


@pytest.mark.parametrize("spatial", [(6,), (4, 3), (1,)])
@pytest.mark.parametrize("convention", ["scaled", "plain"])
def test_jacobian_blocks_match_finite_differences(spatial, convention):
    rng = np.random.default_rng(1)
    for _ in range(5):
        filters, biases = random_net(rng, spatial, int(rng.integers(1, 5)))
        value = rng.standard_normal(filters[0].shape[1])
        blocks = constant_input_jacobian(filters, biases, value, "relu", convention)
        fd, off = fd_net_jacobian(filters, biases, value, "relu", convention)
        scale = max(np.abs(blocks).max(), 1.0)
        # ReLU nets are piecewise linear: central differences with step 1e-6 are exact up to
        # round-off ~1e-16 * |f| / 1e-6 ~ 1e-10 relative unless a kink lies within 1e-6
        # (probability ~1e-6 for these random biases). 1e-7 leaves a margin of 1000.
        assert np.abs(blocks - fd).max() / scale < 1e-7
        # Block-diagonality at a constant input (paper_notes/theory.md section 4): off-diagonal mass
        # is round-off.
        assert off < 1e-7


def test_jacobian_blocks_match_torch_autograd_dense():
    """Dense Jacobian from torch autograd (an independent FFT forward) vs the blocks."""
    rng = np.random.default_rng(2)
    spatial = (5,)
    filters, biases = random_net(rng, spatial, 3)
    value = rng.standard_normal(filters[0].shape[1])

    def torch_forward(x):
        a = x
        for i, (w, b) in enumerate(zip(filters, biases)):
            # dense circulant oracle (no FFT) as the convolution, in torch
            dense = torch.tensor(dense_operator(w, "scaled"))
            z = (dense @ a.reshape(-1)).reshape(w.shape[0], *spatial) + torch.tensor(b)[:, None]
            a = z if i == len(filters) - 1 else torch.relu(z)
        return a

    x0 = torch.tensor(np.repeat(value[:, None], spatial[0], axis=1))
    jac = torch.autograd.functional.jacobian(torch_forward, x0).numpy()
    c_out = filters[-1].shape[0]
    jac = jac.reshape(c_out * spatial[0], -1)
    blocks = constant_input_jacobian(filters, biases, value, "relu", "scaled")
    rebuilt = dense_operator(filters_from_multipliers(blocks, "scaled"), "scaled")
    # both sides are exact float64 linear algebra on O(10) numbers: round-off ~1e-14
    np.testing.assert_allclose(rebuilt, jac, atol=1e-12 * max(1.0, np.abs(jac).max()))


def test_linear_network_jacobian_is_product_and_bound_is_attained():
    """Linear net: J_m = A(m) and the balanced construction attains the Schatten bound."""
    rng = np.random.default_rng(3)
    target = rng.standard_normal((2, 3, 6))
    mult = multipliers_from_filters(target)
    for depth in (2, 3, 5):
        filters = minimal_norm_weights(mult, depth)
        jac = constant_input_jacobian(filters, None, np.zeros(3), "identity")
        np.testing.assert_allclose(jac, mult, atol=1e-12)  # exact product, round-off only
        norm = sum(np.sum(f**2) for f in filters)
        lb = schatten_lower_bound(jac, depth)
        # equality case: both equal the closed form to round-off (1e-14 relative x O(10) terms)
        assert abs(norm - lb) < 1e-10 * norm
        assert abs(lb - representation_cost(mult, depth)) < 1e-10 * norm
        terms = bottleneck_terms(filters, None, np.zeros(3), "identity")
        # bottleneck inequality holds; slack is sum_l sum_i (s^2 - 1 - 2 log s - (s-1)^2) >= 0
        assert terms.slack >= -1e-9 * norm


@pytest.mark.parametrize("convention", ["scaled", "plain"])
def test_schatten_and_bottleneck_bounds_hold_on_300_random_relu_nets(convention):
    rng = np.random.default_rng(4)
    worst_schatten, worst_bottleneck = np.inf, np.inf
    for trial in range(300):
        spatial = [(1,), (4,), (6,), (3, 2), (2, 2)][trial % 5]
        depth = int(rng.integers(1, 7))
        filters, biases = random_net(rng, spatial, depth, bias=bool(trial % 4))
        value = rng.standard_normal(filters[0].shape[1]) * rng.uniform(0.1, 3)
        jac = constant_input_jacobian(filters, biases, value, "relu", convention)
        terms = bottleneck_terms(filters, biases, value, "relu", convention)
        norm = terms.norm_sq
        lb = schatten_lower_bound(jac, depth, convention)
        worst_schatten = min(worst_schatten, (norm - lb) / norm)
        worst_bottleneck = min(worst_bottleneck, terms.slack / norm)
    # inequalities: only round-off (1e-12 relative) may push the slack below 0
    assert worst_schatten > -1e-12, worst_schatten
    assert worst_bottleneck > -1e-12, worst_bottleneck


def test_bottleneck_terms_reduce_to_fully_connected_case():
    """d = 1 is a fully-connected net: terms computed by hand from plain matrices."""
    rng = np.random.default_rng(5)
    filters, biases = random_net(rng, (1,), 3)
    value = rng.standard_normal(filters[0].shape[1])
    mats = [f[..., 0] for f in filters]
    a, jac = value, None
    for i, (w, b) in enumerate(zip(mats, biases)):
        z = w @ a + b
        step = w if i == len(mats) - 1 else (z > 0)[:, None] * w
        jac = step if jac is None else step @ jac
        a = np.maximum(z, 0)
    np.testing.assert_allclose(
        constant_input_jacobian(filters, biases, value)[0], jac, atol=1e-13
    )  # same arithmetic in a different order: round-off only
    s = np.linalg.svd(jac, compute_uv=False)
    k = int(np.sum(s > 1e-8 * s.max()))
    terms = bottleneck_terms(filters, biases, value)
    assert terms.rank_term == 3 * k
    np.testing.assert_allclose(terms.log_pdet_term, 2 * np.sum(np.log(s[:k])), rtol=1e-12)


@pytest.mark.parametrize("convention", ["scaled", "plain"])
def test_bottleneck_slack_equals_its_closed_form(convention):
    """Independent oracle for the slack. With Parseval, ``norm - bound`` simplifies to
    ``||b||^2 + 2 c sum_m [sum_l sum_{i<=k_m} s_i(M_l(m)) - L k_m - log|J_m|_+]`` (``c`` = 1
    scaled, 1/d plain): every term of the bound (rank, log, kept, dropped) enters it."""
    rng = np.random.default_rng(6)
    for trial in range(40):
        spatial = [(4,), (5,), (3, 2)][trial % 3]
        depth = int(rng.integers(1, 6))
        filters, biases = random_net(rng, spatial, depth)
        value = rng.standard_normal(filters[0].shape[1])
        terms = bottleneck_terms(filters, biases, value, "relu", convention)
        c = 1.0 if convention == "scaled" else 1.0 / np.prod(spatial)
        k = terms.ranks[..., None]
        jac = constant_input_jacobian(filters, biases, value, "relu", convention)
        sj = np.linalg.svd(jac, compute_uv=False)
        log_pdet = np.sum(np.where(np.arange(sj.shape[-1]) < k, np.log(np.maximum(sj, 1e-300)),
                                   0.0))
        kept_sum = sum(np.sum(np.where(np.arange(s.shape[-1]) < k, s, 0.0)) for s in
                       (np.linalg.svd(multipliers_from_filters(w, convention), compute_uv=False)
                        for w in filters))
        slack = (sum(np.sum(b**2) for b in biases)
                 + 2 * c * (kept_sum - depth * terms.ranks.sum() - log_pdet))
        # two float64 evaluations of the same O(10-100) sums in different orders: round-off
        assert terms.slack == pytest.approx(slack, rel=1e-10, abs=1e-10 * terms.norm_sq)


def test_bottleneck_bound_is_attained_with_its_dropped_term():
    """Linear nets with kept singular values 1 and nonzero dropped ones attain the bound; a
    bound without the dropped term would leave slack sum_l dropped > 0."""
    from cbn.numerics.checks.relu import bottleneck_equality_nets

    for filters, _, convention in bottleneck_equality_nets(12, 7):
        terms = bottleneck_terms(filters, None, np.zeros(filters[0].shape[1]), "identity",
                                 convention)
        assert sum(terms.dropped) > 0.1
        # exact multipliers through one FFT round trip: round-off ~1e-15 per singular value
        assert abs(terms.slack) <= 1e-12 * terms.norm_sq
