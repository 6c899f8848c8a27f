"""Revival of dead hidden channels (cbn.numerics.search.revival) and the padding at the
cheapest insertion point (cbn.numerics.starts.cheapest_padding): the two moves that let the
weight-decay path and the depth ladder find the bottleneck of a ReLU target."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cbn.numerics.fourier import filters_from_multipliers, multipliers_from_filters
from cbn.numerics.network import CircularCNN
from cbn.numerics.search.constraint import constraint_jacobian
from cbn.numerics.search.revival import channel_sizes, revive_dead_channels
from cbn.numerics.starts import cheapest_padding, construction_network, pad_to_depth
from cbn.numerics.targets import get_target
from cbn.numerics.weights import Network


def _net_with_dead_channel(layer: int, channel: int, width: int = 4) -> CircularCNN:
    """A random [1, w, w, 1] network on an 8-grid with one hidden channel switched off (its
    incoming filter, bias and outgoing filter all zero: the saddle weight decay leaves)."""
    net = CircularCNN([1, width, width, 1], (8,), seed=0)
    with torch.no_grad():
        net.weights[layer][channel] = 0.0
        net.biases[layer][channel] = 0.0
        net.weights[layer + 1][:, channel] = 0.0
    return net


def _jacobian_rank(net: CircularCNN, X: torch.Tensor) -> int:
    jac = constraint_jacobian(net(X), list(net.parameters())).detach()
    s = torch.linalg.svdvals(jac)
    return int((s > 1e-10 * s[0]).sum())


def test_a_dead_channel_is_redrawn_at_the_stated_scale_and_nothing_else_moves():
    net = _net_with_dead_channel(1, 2)
    before = {name: p.detach().clone() for name, p in net.named_parameters()}
    w_in, w_out = net.weights[1].detach(), net.weights[2].detach()
    live = torch.tensor([True, True, False, True])
    rms_in = float(w_in[live].pow(2).mean().sqrt())
    rms_out = float(w_out[:, live].pow(2).mean().sqrt())
    n = revive_dead_channels(net, torch.Generator().manual_seed(0), rtol=1e-2, scale=0.1)
    assert n == 1
    new_in, new_out = net.weights[1][2].detach(), net.weights[2][:, 2].detach()
    # Gaussian entries of rms scale * live rms: 8 and 4 entries, so the sample rms is within a
    # factor 3 of it (a wrong scale, 1 or 0.01, is 10x off)
    assert 0.1 * rms_in / 3 < float(new_in.pow(2).mean().sqrt()) < 0.1 * rms_in * 3
    assert 0.1 * rms_out / 3 < float(new_out.pow(2).mean().sqrt()) < 0.1 * rms_out * 3
    assert float(net.biases[1].detach()[2]) == 0.0
    # every other entry is untouched, bit for bit: only row 2 of layer 1's filters and column
    # 2 of layer 2's changed
    changed = {name: torch.nonzero(p.detach() != before[name])
               for name, p in net.named_parameters()}
    assert set(changed["weights.1"][:, 0].tolist()) == {2}
    assert set(changed["weights.2"][:, 1].tolist()) == {2}
    assert all(c.numel() == 0 for name, c in changed.items()
               if name not in ("weights.1", "weights.2"))


def test_revival_is_seeded_and_leaves_live_or_collapsed_layers_alone():
    a, b = _net_with_dead_channel(0, 1), _net_with_dead_channel(0, 1)
    for net in (a, b):
        revive_dead_channels(net, torch.Generator().manual_seed(7), rtol=1e-2, scale=0.1)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    live = CircularCNN([1, 4, 4, 1], (8,), seed=1)
    assert revive_dead_channels(live, torch.Generator().manual_seed(0), 1e-2, 0.1) == 0
    collapsed = CircularCNN([1, 4, 4, 1], (8,), seed=1)
    with torch.no_grad():
        collapsed.weights[1].zero_()  # every channel of hidden layer 1 dead: a collapse
    sizes = channel_sizes(collapsed, 1)
    assert torch.all(sizes == 0)
    assert revive_dead_channels(collapsed, torch.Generator().manual_seed(0), 1e-2, 0.1) == 0


def test_revival_gives_back_the_rank_a_dead_channel_took():
    # the reason for revival: a dead channel contributes nothing to the constraint Jacobian
    # (each of its factors' gradients is proportional to the other, zero, factor)
    # (measured at width 3, 12 samples on an 8-grid: rank 96 of 96 constraints, 89 with the
    # channel dead; at width 4 one dead channel still leaves rank 96)
    X = torch.as_tensor(np.random.default_rng(0).uniform(-1, 1, (12, 1, 8)))
    full = CircularCNN([1, 3, 3, 1], (8,), seed=0)
    dead = _net_with_dead_channel(1, 1, width=3)
    assert _jacobian_rank(dead, X) < _jacobian_rank(full, X)
    revive_dead_channels(dead, torch.Generator().manual_seed(0), rtol=1e-2, scale=0.1)
    assert _jacobian_rank(dead, X) == _jacobian_rank(full, X)


@pytest.fixture(scope="module")
def bottleneck_construction():
    target = get_target("bottleneck", spatial=[8], K=1, c_rep=1, c_in=1, c_out=1, hidden=4)
    X = target.sample(12, 0)
    net = construction_network(target, 5, 4, X).to_torch()
    return X, target.evaluate(X), net


def test_cheapest_padding_inserts_inside_the_bottleneck(bottleneck_construction):
    X, Y, net = bottleneck_construction
    Xt = torch.as_tensor(X)
    deeper = cheapest_padding(net, 7, X)
    # the function is kept on the samples (the data projector is exact there; round-off of
    # a few FFTs and products of O(10) numbers)
    with torch.no_grad():
        assert float((deeper(Xt) - torch.as_tensor(Y)).abs().max()) < 1e-10
    # the least norm over every insertion point, strictly below the default (last) one
    norms = {p: Network.from_torch(pad_to_depth(net, 7, X, position=p)).norm_sq()
             for p in range(1, 5)}
    assert Network.from_torch(deeper).norm_sq() == pytest.approx(min(norms.values()),
                                                                  rel=1e-12)
    assert min(norms.values()) < norms[4]


def test_cheapest_padding_passes_the_smallest_representation():
    # a linear network whose second layer keeps m = 0, +-1 only: the activations after it
    # span 3 dimensions (one input channel: rank <= 1 per frequency), those after the first
    # layer 8, so a projector there costs 3 instead of 8 (positions 2 and 3 tie: a linear
    # layer cannot bring back a frequency)
    rng = np.random.default_rng(0)
    filters = [rng.standard_normal(shape) for shape in ((4, 1, 8), (4, 4, 8), (4, 4, 8),
                                                       (1, 4, 8))]
    mult = multipliers_from_filters(filters[1], "scaled")
    mult[[2, 3, 4, 5, 6]] = 0.0
    filters[1] = np.real(filters_from_multipliers(mult, "scaled"))
    net = Network(filters, None, "identity", "scaled").to_torch()
    X = rng.standard_normal((12, 1, 8))
    norms = {p: Network.from_torch(pad_to_depth(net, 6, X, position=p)).norm_sq()
             for p in (1, 2, 3)}
    assert norms[2] < norms[1]
    deeper = cheapest_padding(net, 6, X)
    assert Network.from_torch(deeper).norm_sq() == pytest.approx(norms[2], rel=1e-12)


def test_padding_rejects_an_insertion_point_without_an_activation(bottleneck_construction):
    _, _, net = bottleneck_construction
    with pytest.raises(ValueError, match="insertion position 0"):
        pad_to_depth(net, 6, position=0)
    with pytest.raises(ValueError, match="insertion position 5"):
        pad_to_depth(net, 6, position=5)


def test_cheapest_padding_of_a_one_layer_network_follows_pad_to_depth():
    # no hidden activation to choose from: the linear net is padded before its only layer,
    # the ReLU net is refused, as pad_to_depth does
    X = np.random.default_rng(1).standard_normal((5, 1, 8))
    linear = CircularCNN([1, 1], (8,), activation="identity", bias=False, seed=0)
    deeper = cheapest_padding(linear, 3, X)
    assert deeper.depth == 3
    np.testing.assert_allclose(deeper(torch.as_tensor(X)).detach().numpy(),
                               linear(torch.as_tensor(X)).detach().numpy(), atol=1e-12)
    with pytest.raises(ValueError, match="no ReLU output"):
        cheapest_padding(CircularCNN([1, 1], (8,), seed=0), 3, X)
