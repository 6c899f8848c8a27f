"""The torch circular CNN against the numpy oracle of the foundation (dense circulant matrices)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cbn.numerics.fourier import dense_operator, downsample, multipliers_from_filters
from cbn.numerics.linear import compose_multipliers
from cbn.numerics.network import CircularCNN

# Forward outputs are O(1); an FFT path of length <= 24 differs from a dense float64 matrix
# product by ~1e-15 * log(d) * depth. 1e-11 leaves four orders of margin and still catches any
# convention or indexing error, which is O(1).
ORACLE_ATOL = 1e-11

GRIDS = [(1,), (5,), (8,), (3, 4), (4, 6), (5, 5)]


def dense_forward(filters, biases, x, convention, activation="relu"):
    """Reference forward pass: dense circulant matrices from the definition, no FFT."""
    a = x.reshape(x.shape[0], -1)  # (N, c * d), channel-major
    d = int(np.prod(x.shape[2:]))
    for layer, (f, b) in enumerate(zip(filters, biases)):
        z = a @ dense_operator(f, convention).T + np.repeat(b, d)[None, :]
        a = z if layer == len(filters) - 1 or activation == "identity" else np.maximum(z, 0.0)
    return a.reshape(x.shape[0], -1, *x.shape[2:])


def random_net(rng, channels, grid, convention, activation="relu", bias=True):
    filters = [rng.standard_normal((co, ci, *grid)) / np.sqrt(ci * np.prod(grid))
               for ci, co in zip(channels[:-1], channels[1:])]
    if convention == "scaled":
        filters = [f * np.sqrt(np.prod(grid)) for f in filters]
    biases = [0.3 * rng.standard_normal(co) for co in channels[1:]] if bias else None
    return filters, biases


@pytest.mark.parametrize("grid", GRIDS)
@pytest.mark.parametrize("convention", ["scaled", "plain"])
@pytest.mark.parametrize("activation", ["relu", "identity"])
def test_forward_matches_dense_oracle(grid, convention, activation, rng):
    channels = [2, 3, 4, 2]
    filters, biases = random_net(rng, channels, grid, convention, activation)
    net = CircularCNN.from_numpy(filters, biases, activation=activation, convention=convention)
    x = rng.standard_normal((5, 2, *grid))
    got = net(torch.as_tensor(x)).detach().numpy()
    want = dense_forward(filters, biases, x, convention, activation)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=ORACLE_ATOL)


@pytest.mark.parametrize("grid", [(5,), (4,), (3, 4)])
@pytest.mark.parametrize("convention", ["scaled", "plain"])
def test_float64_gradcheck(grid, convention):
    net = CircularCNN([2, 3, 2], grid, convention=convention, seed=3)
    with torch.no_grad():
        for b in net.biases:
            b.uniform_(-0.5, 0.5)
    x = torch.randn((3, 2, *grid), dtype=torch.float64, generator=torch.Generator().manual_seed(1),
                    requires_grad=True)
    names = [n for n, _ in net.named_parameters()]

    def fn(x, *ps):
        return torch.func.functional_call(net, dict(zip(names, ps)), (x,))

    inputs = (x, *[p.detach().clone().requires_grad_(True) for p in net.parameters()])
    # gradcheck compares autograd with central finite differences (eps 1e-6, float64); its
    # default atol 1e-5 / rtol 1e-3 is the finite-difference truncation error at that step.
    assert torch.autograd.gradcheck(fn, inputs)


def test_parameter_gradient_matches_dense_finite_differences(rng):
    """d loss / d W from autograd equals central differences of the dense numpy oracle."""
    grid, conv = (6,), "scaled"
    filters, biases = random_net(rng, [1, 3, 2], grid, conv)
    x = rng.standard_normal((4, 1, *grid))
    target = rng.standard_normal((4, 2, *grid))
    net = CircularCNN.from_numpy(filters, biases, convention=conv)
    loss = torch.sum((net(torch.as_tensor(x)) - torch.as_tensor(target)) ** 2)
    loss.backward()
    got = net.weights[0].grad.numpy()
    h = 1e-6
    want = np.zeros_like(filters[0])
    for idx in np.ndindex(*filters[0].shape):
        plus = [f.copy() for f in filters]
        minus = [f.copy() for f in filters]
        plus[0][idx] += h
        minus[0][idx] -= h
        lp = np.sum((dense_forward(plus, biases, x, conv) - target) ** 2)
        lm = np.sum((dense_forward(minus, biases, x, conv) - target) ** 2)
        want[idx] = (lp - lm) / (2 * h)
    # Central differences: truncation O(h^2 * f''') ~ 1e-12 plus round-off eps*|loss|/h ~ 1e-9
    # (loss ~ 10); ReLU kinks are crossed with probability ~ h. 1e-6 covers both with margin.
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


def test_numpy_round_trip_and_norm(rng):
    filters, biases = random_net(rng, [2, 4, 3], (3, 4), "scaled")
    net = CircularCNN.from_numpy(filters, biases)
    f2, b2 = net.to_numpy()
    for a, b in zip(filters, f2):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(biases, b2):
        np.testing.assert_array_equal(a, b)
    norm_w = sum(float(np.sum(f**2)) for f in filters)
    norm_b = sum(float(np.sum(b**2)) for b in biases)
    # two sums of the same float64 numbers in different order: ~1e-15 relative
    assert net.parameter_norm_sq().item() == pytest.approx(norm_w + norm_b, rel=1e-13)
    assert net.parameter_norm_sq(include_bias=False).item() == pytest.approx(norm_w, rel=1e-13)
    assert net.depth == 2 and net.channels == (2, 4, 3)


def test_biasless_net_reports_zero_biases(rng):
    filters, _ = random_net(rng, [1, 2, 1], (4,), "plain", bias=False)
    net = CircularCNN.from_numpy(filters, None, convention="plain")
    _, biases = net.to_numpy()
    assert [b.shape for b in biases] == [(2,), (1,)] and all(np.all(b == 0) for b in biases)
    assert len(list(net.parameters())) == 2


@pytest.mark.parametrize("convention", ["scaled", "plain"])
def test_linear_network_multipliers_compose(convention, rng):
    """An identity-activation net is the linear map with multipliers M_L ... M_1."""
    grid = (4, 3)
    filters, _ = random_net(rng, [2, 3, 3, 2], grid, convention, bias=False)
    net = CircularCNN.from_numpy(filters, None, activation="identity", convention=convention)
    mult = compose_multipliers(filters, convention)  # (*grid, 2, 2)
    x = rng.standard_normal((3, 2, *grid))
    xh = np.fft.fftn(x, axes=(2, 3))
    yh = np.einsum("abij,njab->niab", mult, xh)
    want = np.real(np.fft.ifftn(yh, axes=(2, 3)))
    got = net(torch.as_tensor(x)).detach().numpy()
    np.testing.assert_allclose(got, want, rtol=0, atol=ORACLE_ATOL)


@pytest.mark.parametrize("grid", [(8,), (4, 6)])
@pytest.mark.parametrize("n_middle", [0, 1, 2])
def test_strided_network_matches_oracle(grid, n_middle, rng):
    s = 2
    coarse = tuple(n // s for n in grid)
    channels = [1] + [3] * (n_middle + 1) + [2]
    grids = [grid] + [coarse] * n_middle + [grid]
    filters = [rng.standard_normal((co, ci, *g))
               for ci, co, g in zip(channels[:-1], channels[1:], grids)]
    biases = [0.2 * rng.standard_normal(co) for co in channels[1:]]
    net = CircularCNN.from_numpy(filters, biases, stride=s)
    assert net.grids == grids
    x = rng.standard_normal((2, 1, *grid))
    k = len(grid)
    a = np.maximum(dense_forward(filters[:1], biases[:1], x, "scaled"), 0.0)
    a = downsample(a, s, k)
    for f, b in zip(filters[1:-1], biases[1:-1]):
        a = np.maximum(dense_forward([f], [b], a, "scaled"), 0.0)
    up = np.zeros((2, 3, *grid))
    up[(Ellipsis,) + (slice(None, None, s),) * k] = a
    want = dense_forward(filters[-1:], biases[-1:], up, "scaled")
    got = net(torch.as_tensor(x)).detach().numpy()
    np.testing.assert_allclose(got, want, rtol=0, atol=ORACLE_ATOL)


def test_head_is_pooling_then_linear(rng):
    net = CircularCNN([2, 4, 3], (5, 4), head_classes=6, stride=None, seed=0)
    with torch.no_grad():
        for b in net.biases:
            b.normal_()
        net.head.bias.normal_()
    filters, biases = net.to_numpy()
    x = rng.standard_normal((3, 2, 5, 4))
    a = np.maximum(dense_forward(filters, biases, x, "scaled"), 0.0)  # last conv is activated
    v = net.head.weight.detach().numpy()
    c = net.head.bias.detach().numpy()
    want = a.mean(axis=(2, 3)) @ v.T + c
    got = net(torch.as_tensor(x)).detach().numpy()
    np.testing.assert_allclose(got, want, rtol=0, atol=ORACLE_ATOL)
    assert net.depth == 3
    extra = float(np.sum(v**2) + np.sum(c**2))
    norm = sum(float(np.sum(f**2)) for f in filters) + sum(float(np.sum(b**2)) for b in biases)
    assert net.parameter_norm_sq().item() == pytest.approx(norm + extra, rel=1e-13)


def test_seed_is_deterministic_and_float32_runs():
    a = CircularCNN([1, 2, 1], (6,), seed=7)
    b = CircularCNN([1, 2, 1], (6,), seed=7, dtype=torch.float32)
    for p, q in zip(a.parameters(), b.parameters()):
        # the same float64 draw rounded to float32: relative error <= 2^-24
        np.testing.assert_allclose(q.detach().numpy(), p.detach().numpy(), rtol=1e-7, atol=0)
    x = torch.randn(2, 1, 6, dtype=torch.float32)
    assert b(x).dtype == torch.float32


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(channels=[2], spatial=(4,)), "channels"),
        (dict(channels=[1, 1], spatial=(2, 2, 2)), "spatial"),
        (dict(channels=[1, 1], spatial=(4,), activation="tanh"), "activation"),
        (dict(channels=[1, 1], spatial=(4,), convention="unit"), "convention"),
        (dict(channels=[1, 1, 1], spatial=(5,), stride=2), "stride"),
    ],
)
def test_bad_configuration_is_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CircularCNN(**kwargs)


def test_wrong_input_shape_is_rejected():
    net = CircularCNN([2, 1], (4,))
    with pytest.raises(ValueError, match="does not match"):
        net(torch.zeros(1, 3, 4, dtype=torch.float64))


@pytest.mark.parametrize("convention, grid, activation", [("scaled", (16,), "identity"),
                                                          ("plain", (4, 5), "relu")])
def test_orthogonal_init_has_equal_singular_values(convention, grid, activation):
    net = CircularCNN([3, 5, 2], grid, activation=activation, convention=convention, seed=3,
                      init_scheme="orthogonal")
    gain = 1.0 if activation == "identity" else np.sqrt(2.0)
    for w in net.weights:
        s = np.linalg.svd(multipliers_from_filters(w.detach().numpy(), convention),
                          compute_uv=False)
        # polar factors are unitary to SVD round-off (~1e-15)
        np.testing.assert_allclose(s, gain, rtol=0, atol=1e-12)
    again = CircularCNN([3, 5, 2], grid, activation=activation, convention=convention, seed=3,
                        init_scheme="orthogonal")
    for p, q in zip(net.parameters(), again.parameters()):
        assert torch.equal(p, q)


def test_unknown_init_scheme_is_rejected():
    with pytest.raises(ValueError, match="init_scheme"):
        CircularCNN([1, 1], (4,), init_scheme="xavier")
