"""Exact compression of samples for linear circular CNNs (cbn.numerics.compress)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cbn.numerics.compress import compress_linear_data
from cbn.numerics.fourier import circular_conv
from cbn.numerics.network import CircularCNN

GRIDS = [(16,), (6, 5)]


def squared_error(net: CircularCNN, X: np.ndarray, Y: np.ndarray) -> float:
    with torch.no_grad():
        r = net(torch.as_tensor(X)) - torch.as_tensor(Y)
    return float(torch.sum(r * r))


def random_linear_nets(c_in, c_out, grid, bias, count=4):
    nets = []
    for seed in range(count):
        net = CircularCNN([c_in, 4, c_out], grid, activation="identity", bias=bias, seed=seed)
        if bias:
            with torch.no_grad():
                for b in net.biases:
                    b.normal_(generator=torch.Generator().manual_seed(seed))
        nets.append(net)
    return nets


@pytest.mark.parametrize("grid", GRIDS)
def test_error_differs_by_a_network_independent_constant(grid):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3, *grid))
    Y = rng.standard_normal((40, 2, *grid))  # not a linear image of X: the constant is > 0
    Xc, Yc = compress_linear_data(X, Y)
    assert Xc.shape == (3, 3, *grid) and Yc.shape == (3, 2, *grid)
    diffs = [squared_error(n, X, Y) - squared_error(n, Xc, Yc)
             for n in random_linear_nets(3, 2, grid, bias=False)]
    # errors are sums of ~1e3 O(1) squares: round-off ~1e-12 relative to ~1e3
    np.testing.assert_allclose(diffs, diffs[0], rtol=0, atol=1e-9)
    assert diffs[0] > 0


@pytest.mark.parametrize("grid", GRIDS)
def test_bias_pairs_reweight_mean_and_centred_errors(grid):
    """With biases: error' = 2 (centred error - const) + 2 c_in ||f(xbar) - ybar||^2."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((30, 3, *grid)) + 0.5
    Y = rng.standard_normal((30, 2, *grid))
    Xc, Yc = compress_linear_data(X, Y, bias=True)
    assert Xc.shape[0] == 6
    xbar, ybar = X.mean(axis=0), Y.mean(axis=0)
    consts = []
    for net in random_linear_nets(3, 2, grid, bias=True):
        with torch.no_grad():
            at_mean = net(torch.as_tensor(xbar[None])).numpy()
            mean_err = float(np.sum((at_mean - ybar) ** 2))
            centred = float(np.sum((net(torch.as_tensor(X)).numpy() - at_mean - (Y - ybar)) ** 2))
        got = squared_error(net, Xc, Yc)
        consts.append(centred - (got - 2 * 3 * mean_err) / 2)
    np.testing.assert_allclose(consts, consts[0], rtol=0, atol=1e-9)


def test_exact_linear_data_keeps_the_zero_set():
    """Y a linear image of X: a network fits (X', Y') exactly iff it fits (X, Y)."""
    rng = np.random.default_rng(2)
    W = rng.standard_normal((2, 3, 12))
    X = rng.standard_normal((25, 3, 12))
    Y = circular_conv(W, X)
    Xc, Yc = compress_linear_data(X, Y)
    teacher = CircularCNN.from_numpy([W], None, activation="identity")
    # both residuals are FFT round-off on O(1) data
    assert squared_error(teacher, Xc, Yc) < 1e-24 * np.sum(Yc**2) + 1e-26
    assert squared_error(teacher, X, Y) < 1e-24 * np.sum(Y**2)
    other = random_linear_nets(3, 2, (12,), bias=False)[0]
    np.testing.assert_allclose(squared_error(other, Xc, Yc), squared_error(other, X, Y),
                               rtol=1e-12)


def test_rank_deficient_data_compresses_to_its_span():
    """Fewer samples than channels: dropped Gram directions carry no data, the error is kept."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((2, 4, 8))
    Y = rng.standard_normal((2, 1, 8))
    Xc, Yc = compress_linear_data(X, Y)
    net = random_linear_nets(4, 1, (8,), bias=False)[1]
    # 2 samples span the data at every frequency, and Y is a linear image there: constant 0
    np.testing.assert_allclose(squared_error(net, Xc, Yc), squared_error(net, X, Y), rtol=1e-10)
