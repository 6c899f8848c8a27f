"""Spectra, counts, Jacobian bounds and energies of imported CNNs (cbn.numerics.inspection)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch_models import KINDS, random_model

from cbn.numerics.bounds import LOOSE_RANK_RTOL, constant_input_jacobian, schatten_lower_bound
from cbn.numerics.fourier import multipliers_from_filters
from cbn.numerics.imported import schatten_bound
from cbn.numerics.inspection import (
    activation_energies,
    inspect_network,
    layer_spectra,
    real_filter_singular_values,
)
from cbn.numerics.linear import ranks_per_frequency, singular_values
from cbn.numerics.spectra import activation_energy, counts_by_type_and_degree
from cbn.numerics.torch_import import import_model


@pytest.mark.parametrize("spatial", [(6,), (7,), (4, 6), (5, 4), (1,)])
def test_half_spectrum_svd_equals_the_full_one(spatial):
    M = multipliers_from_filters(np.random.default_rng(0).standard_normal((3, 2, *spatial)))
    # SVDs of M(m) and conj(M(m)) agree to LAPACK round-off ~1e-15 of s_max ~ 3
    np.testing.assert_allclose(real_filter_singular_values(M), singular_values(M), rtol=0,
                               atol=1e-13)


def test_counts_by_type_and_degree_by_hand():
    counts = np.zeros((4, 4), dtype=int)
    counts[0, 0] = 2                 # constant
    counts[2, 0] = counts[2, 2] = 1  # Nyquist, degrees (l1, linf) = (2, 2) and (4, 2)
    counts[1, 0] = counts[3, 0] = 1  # the pair m = +-(1, 0): degree 1
    counts[1, 3] = 1                 # one member of the pair +-(1, -1): l1 2, linf 1
    g = counts_by_type_and_degree(counts)
    assert g["by_type"] == {"constant": 2, "Nyquist": 2, "pair": 3}
    assert g["by_degree"]["l1"] == [2, 2, 2, 0, 1]
    assert g["by_degree"]["linf"] == [2, 3, 2]


def _full_size_relu_net(grid, seed, bias=True):
    torch.manual_seed(seed)
    nsp = len(grid)
    cls = nn.Conv1d if nsp == 1 else nn.Conv2d
    model = nn.Sequential(
        cls(2, 3, grid, padding="same", padding_mode="circular", bias=bias, dtype=torch.float64),
        nn.ReLU(),
        cls(3, 3, grid, padding="same", padding_mode="circular", bias=bias, dtype=torch.float64),
        nn.ReLU(),
        cls(3, 2, grid, padding="same", padding_mode="circular", bias=bias, dtype=torch.float64))
    return model, import_model(model, grid)


@pytest.mark.parametrize("grid", [(8,), (5,), (4, 6)])
def test_stride_one_bound_is_the_toolkit_plain_bound(grid):
    """One grid, no head: the bound is paper_notes/theory.md section 4's plain-convention Schatten
    bound, computed
    by cbn.numerics.bounds on the converted filters."""
    _, net = _full_size_relu_net(grid, 1)
    filters, biases = [l.filter for l in net.layers], [l.bias for l in net.layers]
    for value in np.random.default_rng(2).standard_normal((4, 2)):
        ours = schatten_bound(net, value, LOOSE_RANK_RTOL)
        jac = constant_input_jacobian(filters, biases, value, "relu", "plain")
        ref = schatten_lower_bound(jac, 3, "plain", LOOSE_RANK_RTOL)
        assert ours.lower_bound == pytest.approx(ref, rel=1e-12, abs=1e-15)  # same sums
        ranks = ranks_per_frequency(jac, LOOSE_RANK_RTOL)
        assert ours.ranks.shape == tuple(grid) and np.array_equal(ours.ranks, ranks)


@pytest.mark.parametrize("grid,specs", KINDS)
@pytest.mark.parametrize("head", [None, 0, 4], ids=["conv", "pooled", "head"])
def test_bound_is_below_the_weights_norm(grid, specs, head):
    """A lower bound: never above the weights' norm, at any constant input, for any layout."""
    model = random_model(grid, specs, seed=11, head=head)
    net = import_model(model, grid)
    weights = net.parameter_norm_sq(include_bias=False)
    for value in np.random.default_rng(3).standard_normal((5, 2)):
        b = schatten_bound(net, value, LOOSE_RANK_RTOL)
        assert 0.0 <= b.lower_bound <= weights * (1 + 1e-12)


@pytest.mark.parametrize("grid,k,padding,stride", [
    ((8,), 3, 1, 1), ((9,), 5, 2, 3), ((8, 8), 3, 1, 2), ((6, 4), (6, 4), "same", 1),
])
def test_one_linear_layer_attains_the_bound(grid, k, padding, stride):
    """L = 1: sum_i s_i(J)^2 = ||J||_F^2 = d_out ||w||^2, so the bound equals ||w||^2 exactly;
    a wrong pixel scale or grid weight would move it by a factor d or s^k."""
    torch.manual_seed(4)
    cls = nn.Conv1d if len(grid) == 1 else nn.Conv2d
    conv = cls(2, 3, k, stride=stride, padding=padding, padding_mode="circular", bias=False,
               dtype=torch.float64)
    net = import_model(nn.Sequential(conv), grid)
    b = schatten_bound(net, np.zeros(2), 0.0)
    assert b.lower_bound == pytest.approx(float(torch.sum(conv.weight.detach()**2)), rel=1e-12)


def test_spectra_counts_and_energy_of_a_strided_pooled_model():
    model = random_model((8, 8), KINDS[5][1], seed=12, head=3)
    net = import_model(model, (8, 8))
    layers = layer_spectra(net, threshold=0.3)
    for spec, layer in zip(layers, net.layers):
        ref = singular_values(multipliers_from_filters(layer.filter, "plain"))
        np.testing.assert_allclose(spec.singular_values, ref, rtol=0, atol=1e-13)
        assert np.array_equal(spec.counts, np.count_nonzero(ref > 0.3, axis=-1))
        assert (spec.folded is None) == (layer.stride == 1)
        if spec.folded is not None:
            assert spec.folded.shape[:-1] == layer.grid_out
            assert np.array_equal(spec.folded_counts,
                                  np.count_nonzero(spec.folded > 0.3, axis=-1))
    X = np.random.default_rng(5).standard_normal((13, 2, 8, 8))
    whole = activation_energies(net, X)
    batched = activation_energies(net, X, budget=1)  # one sample at a time
    for a, b in zip(whole, batched):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_energy_matches_numerics_spectra_on_toolkit_networks():
    _, net = _full_size_relu_net((6,), 6)
    X = np.random.default_rng(7).standard_normal((9, 2, 6))
    ours = activation_energies(net, X)
    ref = activation_energy([l.filter for l in net.layers], [l.bias for l in net.layers], X,
                            "relu", "plain")
    # the last layer has no ReLU in either; identical FFT sums
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_inspection_labels_its_bounds():
    _, net = _full_size_relu_net((8,), 8)
    X = np.random.default_rng(9).standard_normal((10, 2, 8))
    s = inspect_network(net, X, threshold=0.5, seed=0).to_dict()
    assert s["lower_bound"] <= s["weight_norm_sq"] <= s["norm_sq"]
    assert s["bound"]["lower_bound"].startswith("LOWER")
    assert "UPPER" in s["bound"]["norm_sq"]
    assert len(s["layers"]) == 3 and len(s["activation_energy"]) == 3
    assert s["n_samples"] == 10 and len(s["jacobian"]) == 3
