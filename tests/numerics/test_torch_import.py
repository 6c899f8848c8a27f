"""Reading plain PyTorch CNNs (cbn.numerics.torch_import) into ImportedCNN (cbn.numerics.imported).

Tolerances: the converted network and torch compute the same float64 sums of O(1) numbers in a
different order (FFTs vs direct sums), so pixels agree to ~1e-15 per layer; 1e-12 (the issue's
bar) leaves three orders of margin for the 3-layer models here and catches any wrong index.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch_models import KINDS, random_model
from torch_models import conv as make_conv

from cbn.numerics.fourier import dense_operator
from cbn.numerics.imported import folded_spectrum, forward
from cbn.numerics.inputs import InputError
from cbn.numerics.network import CircularCNN
from cbn.numerics.spectra import forward as toolkit_forward
from cbn.numerics.torch_import import export_network, flip_shift, import_model

TOL = 1e-12


def _torch(model, X):
    with torch.no_grad():
        return model(torch.as_tensor(X)).numpy()


@pytest.mark.parametrize("head", [None, 0, 5], ids=["conv", "pooled", "head"])
@pytest.mark.parametrize("grid,specs", KINDS)
def test_conversion_is_exact_pixel_by_pixel(grid, specs, head):
    model = random_model(grid, specs, seed=len(specs) + sum(grid), head=head)
    net = import_model(model, grid)
    X = np.random.default_rng(1).standard_normal((5, 2, *grid))
    ref, (acts, out) = _torch(model, X), forward(net, X)
    assert out.shape == ref.shape
    assert np.max(np.abs(out - ref)) <= TOL * max(1.0, np.max(np.abs(ref)))
    # every layer's activation, pixel by pixel: the module chain up to that layer's activation
    ends = [i + 1 for i, m in enumerate(model) if isinstance(m, (nn.ReLU, nn.Identity))]
    for a, end in zip(acts, ends):
        torch_a = _torch(model[:end], X)
        assert a.shape == torch_a.shape and np.max(np.abs(a - torch_a)) <= TOL
    assert [l.stride for l in net.layers] == [s for _, _, s in specs]
    assert [l.activation for l in net.layers] == ["relu", "identity", "relu"]


@pytest.mark.parametrize("grid", [(7,), (8,), (4, 6), (5, 5)])
@pytest.mark.parametrize("activation", ["relu", "identity"])
def test_full_size_conversion_is_the_toolkit_network(grid, activation):
    """Stride-1 models are the toolkit's own networks: cbn.numerics.spectra.forward and the engine
    (CircularCNN, plain convention) reproduce the torch output from the converted filters."""
    torch.manual_seed(3)
    nsp = len(grid)
    act = nn.ReLU() if activation == "relu" else nn.Identity()
    mods = [make_conv(nsp, 1, 3, grid, "same"), act,
            make_conv(nsp, 3, 2, 3 if min(grid) >= 3 else 1, "same")]
    model = nn.Sequential(*mods)
    net = import_model(model, grid)
    filters = [l.filter for l in net.layers]
    biases = [l.bias for l in net.layers]
    X = np.random.default_rng(2).standard_normal((4, 1, *grid))
    ref = _torch(model, X)
    ours = toolkit_forward(filters, biases, X, activation, "plain")[-1]
    assert np.max(np.abs(ours - ref)) <= TOL
    engine = CircularCNN.from_numpy(filters, biases, activation=activation, convention="plain")
    with torch.no_grad():
        assert np.max(np.abs(engine(torch.as_tensor(X)).numpy() - ref)) <= TOL


def test_flip_and_shift_by_hand():
    """W(r) = w((P - r) mod n), derived from y(i) = sum_q w(q) x(i + q - P) by hand.

    k = 3, padding 1 (P = 1): W(0) = w1, W(1) = w0, W(n-1) = w2. k = 4, 'same': torch pads
    P = (k-1)//2 = 1 on the left, so W(0) = w1, W(1) = w0, W(n-1) = w2, W(n-2) = w3.
    """
    n = 6
    for k, padding, expected in [
        (3, 1, [20.0, 10.0, 0.0, 0.0, 0.0, 30.0]),
        (4, "same", [20.0, 10.0, 0.0, 0.0, 40.0, 30.0]),
    ]:
        conv = make_conv(1, 1, 1, k, padding, bias=False)
        with torch.no_grad():
            conv.weight.copy_(torch.tensor([10.0, 20.0, 30.0, 40.0][:k]).view(1, 1, k))
        layer = import_model(nn.Sequential(conv), (n,)).layers[0]
        np.testing.assert_array_equal(layer.filter[0, 0], expected)
        # the module's response to a unit impulse at pixel 0 is the plain filter itself
        delta = np.zeros((1, 1, n))
        delta[0, 0, 0] = 1.0
        np.testing.assert_allclose(_torch(nn.Sequential(conv), delta)[0, 0], expected,
                                   atol=1e-13)


def test_flip_shift_is_an_involution_and_export_round_trips():
    rng = np.random.default_rng(4)
    full = rng.standard_normal((2, 3, 5, 4))
    np.testing.assert_array_equal(flip_shift(flip_shift(full, (2, 1), (5, 4)), (2, 1), (5, 4)),
                                  full)
    filters = [rng.standard_normal((3, 2, 5, 4)), rng.standard_normal((2, 3, 5, 4))]
    biases = [rng.standard_normal(3), rng.standard_normal(2)]
    for convention in ("scaled", "plain"):
        model = export_network(filters, biases, "relu", convention)
        X = rng.standard_normal((3, 2, 5, 4))
        ref = toolkit_forward(filters, biases, X, "relu", convention)[-1]
        assert np.max(np.abs(_torch(model, X) - ref)) <= TOL
        back = import_model(model, (5, 4))
        factor = 20 ** -0.5 if convention == "scaled" else 1.0
        for layer, f in zip(back.layers, filters):
            np.testing.assert_allclose(layer.filter, factor * f, rtol=0, atol=1e-15)


def _dense_from_module(conv, grid):
    """Dense operator of a torch layer (no bias), by applying it to every basis vector."""
    c_in = conv.in_channels
    d = int(np.prod(grid))
    eye = torch.eye(c_in * d, dtype=torch.float64).reshape(-1, c_in, *grid)
    with torch.no_grad():
        return conv(eye).reshape(c_in * d, -1).T.numpy()


@pytest.mark.parametrize("grid,k,padding,stride", [
    ((8,), 3, 1, 1), ((9,), 9, 4, 1), ((8,), 4, 1, 2), ((9,), 5, 2, 3),
    ((6, 6), 3, 1, 2), ((4, 6), (4, 6), "same", 1), ((6, 4), (2, 3), "same", 1),
])
def test_singular_values_equal_the_dense_operators(grid, k, padding, stride):
    torch.manual_seed(5)
    conv = make_conv(len(grid), 3, 2, k, padding, stride, bias=False)
    layer = import_model(nn.Sequential(conv), grid).layers[0]
    dense = np.linalg.svd(_dense_from_module(conv, grid), compute_uv=False)
    ours = np.sort(folded_spectrum(layer).ravel())[::-1]
    assert ours.size == dense.size
    np.testing.assert_allclose(ours, dense, rtol=0, atol=1e-12)
    # stride 1: the toolkit's own dense oracle of the converted filter agrees as well
    if stride == 1:
        np.testing.assert_allclose(dense_operator(layer.filter, "plain"),
                                   _dense_from_module(conv, grid), rtol=0, atol=1e-14)


def _bad(name, build, grid):
    return pytest.param(build, grid, name, id=name)


BAD = [
    _bad("'0' (Conv2d) has padding_mode='zeros'",
         lambda: nn.Sequential(nn.Conv2d(1, 2, 3, padding=1)), (8, 8)),
    _bad("dilation", lambda: nn.Sequential(
        nn.Conv1d(1, 2, 3, padding=2, dilation=2, padding_mode="circular")), (8,)),
    _bad("groups=2", lambda: nn.Sequential(
        nn.Conv1d(2, 2, 3, padding=1, groups=2, padding_mode="circular")), (8,)),
    _bad("unsupported layer '1' (BatchNorm1d)", lambda: nn.Sequential(
        nn.Conv1d(1, 2, 3, padding=1, padding_mode="circular"), nn.BatchNorm1d(2)), (8,)),
    _bad("unsupported layer '1' (Tanh)", lambda: nn.Sequential(
        nn.Conv1d(1, 2, 3, padding=1, padding_mode="circular"), nn.Tanh()), (8,)),
    _bad("is 1-D", lambda: nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1, padding_mode="circular")), (8,)),
    _bad("larger than its input grid", lambda: nn.Sequential(
        nn.Conv1d(1, 2, 9, padding=4, padding_mode="circular")), (8,)),
    _bad("not to the grid / stride", lambda: nn.Sequential(
        nn.Conv1d(1, 2, 3, padding=1, stride=2, padding_mode="circular")), (9,)),
    _bad("not to the grid / stride", lambda: nn.Sequential(
        nn.Conv1d(1, 2, 3, padding=0, padding_mode="circular")), (8,)),
    _bad("same stride on every axis", lambda: nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1, stride=(2, 1), padding_mode="circular")), (8, 8)),
    _bad("Linear '1' must follow global average pooling", lambda: nn.Sequential(
        nn.Conv1d(1, 2, 1), nn.Linear(8, 3)), (8,)),
    _bad("flatten '2' before global average pooling", lambda: nn.Sequential(
        nn.Conv1d(1, 2, 1), nn.ReLU(), nn.Flatten(), nn.Linear(16, 3)), (8,)),
    _bad("takes 3 channels but gets 2", lambda: nn.Sequential(
        nn.Conv1d(1, 2, 1), nn.Conv1d(3, 2, 1)), (8,)),
    _bad("not a chain", lambda: _Residual(), (8,)),
]


class _Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(1, 1, 3, padding=1, padding_mode="circular")

    def forward(self, x):
        return x + self.conv(x)


@pytest.mark.parametrize("build,grid,needle", BAD)
def test_unsupported_models_are_one_line_errors(build, grid, needle):
    with pytest.raises(InputError) as err:
        import_model(build(), grid)
    assert needle in str(err.value) and "\n" not in str(err.value)


class _Traced(nn.Module):
    """A researcher's own module: functional ReLU and mean pooling in forward."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 4, 3, padding=1, padding_mode="circular", dtype=torch.float64)
        self.c2 = nn.Conv2d(4, 4, 3, stride=2, padding=1, padding_mode="circular",
                            dtype=torch.float64)
        self.fc = nn.Linear(4, 3, dtype=torch.float64)

    def forward(self, x):
        x = torch.relu(self.c1(x))
        x = nn.functional.relu(self.c2(x))
        return self.fc(torch.flatten(x.mean(dim=(2, 3), keepdim=True), 1))


def test_custom_forward_is_traced():
    model = _Traced()
    net = import_model(model, (6, 6))
    assert net.pooled and net.head is not None
    assert [l.activation for l in net.layers] == ["relu", "relu"]
    X = np.random.default_rng(6).standard_normal((3, 1, 6, 6))
    assert np.max(np.abs(forward(net, X)[1] - _torch(model, X))) <= TOL


@pytest.mark.parametrize("grid,specs", KINDS)
@pytest.mark.parametrize("head", [None, 0, 4], ids=["conv", "pooled", "head"])
def test_constant_input_jacobian_equals_autograd(grid, specs, head):
    from cbn.numerics.imported import constant_input_jacobian as blocks_of

    model = random_model(grid, specs, seed=7, head=head)
    net = import_model(model, grid)
    value = np.array([0.4, -0.3])
    x0 = torch.as_tensor(np.broadcast_to(value.reshape(2, *([1] * len(grid))), (1, 2, *grid))
                         .copy())
    dense = torch.autograd.functional.jacobian(model, x0).reshape(model(x0).numel(), -1)
    ref = np.linalg.svd(dense.numpy(), compute_uv=False)
    blocks, scale = blocks_of(net, value)
    ours = np.sort(np.linalg.svd(blocks, compute_uv=False).ravel())[::-1] * scale
    n = min(ref.size, ours.size)  # the two lists differ in length by exact zeros only
    np.testing.assert_allclose(ours[:n], ref[:n], rtol=0, atol=1e-12)
    assert np.all(ref[n:] <= 1e-12) and np.all(ours[n:] <= 1e-12)
