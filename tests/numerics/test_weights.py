"""The NumPy ``Network`` value: forward, norm, arrays and torch round trips, padding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cbn.numerics.inputs import InputError
from cbn.numerics.network import CircularCNN
from cbn.numerics.weights import Head, Network

# Two FFT routes (numpy fftn vs torch rfftn) of O(1) weights: round-off ~1e-15; 1e-12 is margin.
FORWARD_TOL = 1e-12


def _random(rng, spatial=(6,), channels=(2, 3, 3, 1), bias=True, head=None, stride=None,
            activation="relu", convention="scaled") -> Network:
    grids = CircularCNN(channels, spatial, stride=stride, head_classes=head, seed=0).grids
    filters = [rng.standard_normal((o, i, *g)) for i, o, g in zip(channels, channels[1:], grids)]
    biases = [rng.standard_normal(o) for o in channels[1:]] if bias else None
    h = None if head is None else Head(rng.standard_normal((head, channels[-1])),
                                       rng.standard_normal(head) if bias else None)
    return Network(filters, biases, activation, convention, h, stride)


CASES = [
    {},
    {"bias": False, "activation": "identity", "convention": "plain"},
    {"spatial": (4, 4), "channels": (1, 2, 2)},
    {"head": 3},
    {"stride": 2, "spatial": (8,)},
    {"stride": 2, "spatial": (4, 4), "head": 2, "convention": "plain"},
]


@pytest.mark.parametrize("kwargs", CASES)
def test_call_equals_circular_cnn_forward(kwargs):
    rng = np.random.default_rng(0)
    net = _random(rng, **kwargs)
    X = rng.standard_normal((5, net.channels[0], *net.spatial))
    with torch.no_grad():
        ref = net.to_torch()(torch.as_tensor(X)).numpy()
    assert np.max(np.abs(net(X) - ref)) <= FORWARD_TOL * np.max(np.abs(ref))
    assert net.layer_outputs(X)[-1].shape == ref.shape and len(net.layer_outputs(X)) == net.depth


@pytest.mark.parametrize("kwargs", CASES)
def test_norm_sq_is_the_explicit_sum_and_the_torch_norm(kwargs):
    net = _random(np.random.default_rng(1), **kwargs)
    arrays = list(net.filters) + list(net.biases or [])
    if net.head is not None:
        arrays += [net.head.weight] + ([] if net.head.bias is None else [net.head.bias])
    explicit = sum(float(np.sum(a * a)) for a in arrays)
    assert net.norm_sq() == pytest.approx(explicit, rel=1e-15)
    weights_only = explicit - sum(float(np.sum(b * b)) for b in net.biases or []) - (
        0.0 if net.head is None or net.head.bias is None else float(np.sum(net.head.bias**2)))
    assert net.norm_sq(include_bias=False) == pytest.approx(weights_only, rel=1e-14)
    torch_net = net.to_torch()
    with torch.no_grad():
        assert float(torch_net.parameter_norm_sq()) == pytest.approx(explicit, rel=1e-14)


def test_a_wrong_norm_formula_fails():
    """The norm test above can fail: a formula without biases (or with a factor 1/2) is off."""
    net = _random(np.random.default_rng(2))
    filters_only = sum(float(np.sum(w * w)) for w in net.filters)
    assert net.norm_sq() != pytest.approx(filters_only, rel=1e-6)
    assert net.norm_sq() != pytest.approx(0.5 * net.norm_sq(), rel=1e-6)


@pytest.mark.parametrize("kwargs", CASES)
def test_arrays_and_torch_round_trips_are_exact(kwargs):
    net = _random(np.random.default_rng(3), **kwargs)
    back = Network.from_arrays(net.to_arrays(), net.activation, net.convention, net.stride)
    again = Network.from_torch(net.to_torch())
    for other in (back, again):
        assert other.depth == net.depth and other.widths == net.widths
        assert (other.activation, other.convention, other.stride) == (
            net.activation, net.convention, net.stride)
        assert all(np.array_equal(a, b) for a, b in zip(other.filters, net.filters))
        assert (other.biases is None) == (net.biases is None)
        assert all(np.array_equal(a, b) for a, b in zip(other.biases or [], net.biases or []))
        assert (other.head is None) == (net.head is None)
        if net.head is not None:
            assert np.array_equal(other.head.weight, net.head.weight)


def test_store_format_of_sweep_records_is_read():
    """``filter_<l>``/``bias_<l>``, as ``cbn.numerics.sweep.run_min_norm`` has always written
    them."""
    rng = np.random.default_rng(4)
    arrays = {"filter_0": rng.standard_normal((2, 1, 4)),
              "filter_1": rng.standard_normal((1, 2, 4)), "bias_0": np.zeros(2),
              "bias_1": np.zeros(1)}
    net = Network.from_arrays(arrays)
    assert net.depth == 2 and net.widths == (2,) and net.biases is not None
    assert set(net.to_arrays()) == set(arrays)
    assert Network.from_arrays({k: v for k, v in arrays.items() if "bias" not in k}).biases is None


def test_padded_keeps_function_and_norm_and_validation_is_one_line():
    rng = np.random.default_rng(5)
    net = _random(rng, head=2)
    wide = net.padded(5)
    X = rng.standard_normal((3, 2, 6))
    np.testing.assert_allclose(wide(X), net(X), rtol=0, atol=1e-13)
    assert wide.widths == (5, 5, 5) and wide.norm_sq() == pytest.approx(net.norm_sq(), rel=1e-15)
    with pytest.raises(InputError, match="do not chain"):
        Network([np.zeros((2, 1, 4)), np.zeros((1, 3, 4))])
    with pytest.raises(InputError, match="unknown activation"):
        Network([np.zeros((1, 1, 4))], activation="tanh")
    with pytest.raises(InputError, match="does not match"):
        Network([np.zeros((1, 1, 4))])(np.zeros((2, 1, 5)))
