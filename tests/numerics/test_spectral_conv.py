"""The engine's convolution routes against dense circulant matrices built from the definition.

Tolerance: outputs are O(1); both routes sum at most ``d_1 + d_2 + c`` float64 products per
entry (DFT matrices or FFT butterflies, then channels), so round-off is ~1e-15 * (d + c); for
grids up to 28 x 28 and 70 that is ~1e-13, and 1e-12 still catches any indexing, Hermitian or
convention error, which is O(1).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cbn.numerics.fourier import dense_operator, downsample
from cbn.numerics.network import CircularCNN
from cbn.numerics.spectral_conv import ROUTES, circular_conv_leading

TOL = 1e-12

#: odd, even, size 1, MNIST's 28 x 28, and axes above DFT_MATMUL_MAX (where float32 switches
#: to the FFT route); every route is run on every grid
GRIDS = [(1,), (7,), (16,), (3, 4), (5, 6), (28, 28), (70,), (3, 66)]


def dense_conv(w, x, convention):
    """``(N, ci, *grid)`` -> ``(N, co, *grid)`` through the dense circulant operator."""
    y = x.reshape(x.shape[0], -1) @ dense_operator(w, convention).T
    return y.reshape(x.shape[0], w.shape[0], *x.shape[2:])


@pytest.mark.parametrize("grid", GRIDS)
@pytest.mark.parametrize("convention", ["scaled", "plain"])
@pytest.mark.parametrize("route", ROUTES)
def test_conv_matches_dense_circulant(grid, convention, route, rng):
    ci, co = (2, 3) if np.prod(grid) < 500 else (1, 2)
    w = rng.standard_normal((co, ci, *grid)) / np.sqrt(ci * np.prod(grid))
    if convention == "scaled":
        w = w * np.sqrt(np.prod(grid))
    x = rng.standard_normal((4, ci, *grid))
    k = len(grid)
    lead = torch.as_tensor(x).permute(*range(2, 2 + k), 0, 1)
    got = circular_conv_leading(lead, torch.as_tensor(w), convention, route)
    got = got.permute(k, k + 1, *range(k)).numpy()
    want = dense_conv(w, x, convention)
    np.testing.assert_allclose(got, want, rtol=0, atol=TOL * np.abs(want).max())


@pytest.mark.parametrize("grid", [(8,), (4, 6)])
def test_strided_network_with_head_matches_dense(grid, rng):
    s, channels = 2, [1, 3, 3, 2]
    net = CircularCNN(channels, grid, stride=s, head_classes=4, seed=1)
    with torch.no_grad():
        for b in [*net.biases, net.head.bias]:
            b.normal_()
    filters, biases = net.to_numpy()
    x = rng.standard_normal((3, 1, *grid))
    a = x
    for layer, (f, b) in enumerate(zip(filters, biases)):
        a = np.maximum(dense_conv(f, a, "scaled") + b.reshape(-1, *[1] * len(grid)), 0.0)
        if layer == 0:
            a = downsample(a, s, len(grid))
    want = a.mean(axis=tuple(range(2, a.ndim))) @ net.head.weight.detach().numpy().T
    want = want + net.head.bias.detach().numpy()
    got = net(torch.as_tensor(x)).detach().numpy()
    np.testing.assert_allclose(got, want, rtol=0, atol=TOL * np.abs(want).max())
    hidden = net.hidden_activations(torch.as_tensor(x))
    assert [tuple(h.shape) for h in hidden] == [(3, 3, *[n // s for n in grid])] * 2 + \
        [(3, 2, *[n // s for n in grid])]
    np.testing.assert_allclose(hidden[-1].detach().numpy(), a, rtol=0, atol=TOL)


#: grids for the derivative checks: odd and even last axes (the Hermitian weights differ at
#: d/2), 1-D and 2-D, a size-1 axis
GRAD_GRIDS = [(1,), (5,), (6,), (3, 4), (4, 5)]


@pytest.mark.parametrize("grid", GRAD_GRIDS)
@pytest.mark.parametrize("convention", ["scaled", "plain"])
def test_dft_matmul_first_and_second_derivatives(grid, convention, rng):
    """The written-out backward of the DFT-matrix route against finite differences
    (``gradcheck``), and its double backward (``gradgradcheck``, which the Gauss-Newton
    steps of the minimal-norm search use). Both compare analytic against central differences
    at eps 1e-6 in float64: truncation ~eps^2 and round-off ~1e-16 / eps = 1e-10 on O(1)
    entries, so gradcheck's default atol 1e-5 is met with room, while a wrong sign or a
    missing Hermitian weight changes entries by O(1)."""
    ci, co, n = 2, 3, 2
    a = torch.as_tensor(rng.standard_normal((*grid, n, ci)), dtype=torch.float64)
    w = torch.as_tensor(rng.standard_normal((co, ci, *grid)), dtype=torch.float64)
    a.requires_grad_(True)
    w.requires_grad_(True)

    def conv(a, w):
        return circular_conv_leading(a, w, convention, "dft_matmul")

    assert torch.autograd.gradcheck(conv, (a, w))
    assert torch.autograd.gradgradcheck(conv, (a, w))


@pytest.mark.parametrize("grid", [(7,), (28, 28)])
def test_dft_matmul_gradients_match_fft_route(grid, rng):
    """Weight and input gradients of the DFT-matrix route equal those of autograd through
    ``rfftn`` (the float64 route) to round-off (:data:`TOL`, module docstring)."""
    ci, co, n = 3, 2, 4
    a0 = torch.as_tensor(rng.standard_normal((*grid, n, ci)))
    w0 = torch.as_tensor(rng.standard_normal((co, ci, *grid))) / np.sqrt(ci)
    g = torch.as_tensor(rng.standard_normal((*grid, n, co)))
    grads = {}
    for route in ("rfftn", "dft_matmul"):
        a, w = a0.clone().requires_grad_(True), w0.clone().requires_grad_(True)
        (circular_conv_leading(a, w, "scaled", route) * g).sum().backward()
        grads[route] = (a.grad, w.grad)
    for got, want in zip(grads["dft_matmul"], grads["rfftn"]):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=0,
                                   atol=TOL * float(want.abs().max()))
