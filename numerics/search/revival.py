"""Revival of the hidden channels that weight decay has switched off.

Along the weight-decay path (:mod:`cbn.numerics.search.path`) the penalty drives every channel
the current fit does not pay for to zero: its incoming filter, its bias and its outgoing filter
all vanish together. That point is a saddle of the ridge objective which neither the penalty nor
the fit can leave (each factor's gradient is proportional to the other factor), so the channel
stays off when the penalty later falls and the fit would need it. The network then loses rank:
on the 1-D bottleneck target (d = 8, 12 samples, width 8, depth 8) the path without revival
ended with 47 of the 96 constraint directions in the range of its Jacobian and only a third of
its residual reachable by any step, so no fitting method could finish from there.

:func:`revive_dead_channels` restarts such channels small, between stages of the path: a new
random incoming filter of ``scale`` times the layer's live rms entry, zero bias, and a random
outgoing filter of ``scale`` times the next layer's live rms entry, so the channel adds about
``scale**2`` of a live channel's contribution. A channel the fit needs grows at the next stage;
one it does not need decays again under the penalty (and is redrawn, a new direction, at the
stage after).
"""

from __future__ import annotations

import torch

from cbn.numerics.network import CircularCNN


def channel_sizes(net: CircularCNN, layer: int) -> torch.Tensor:
    """``||W_layer[j]|| * ||W_{layer+1}[:, j]||`` for every output channel ``j`` of hidden
    layer ``layer`` (``0 <= layer < number of convolutions - 1``): what the channel carries
    from the layer's input to the next layer's output, up to the ReLU in between."""
    w_in, w_out = net.weights[layer], net.weights[layer + 1]
    return (w_in.detach().flatten(1).norm(dim=1)
            * w_out.detach().transpose(0, 1).flatten(1).norm(dim=1))


def revive_dead_channels(net: CircularCNN, generator: torch.Generator, rtol: float,
                         scale: float) -> int:
    """Redraw, in place, every hidden channel whose size is below ``rtol`` times its layer's
    largest (:func:`channel_sizes`); returns how many were redrawn.

    Parameters
    ----------
    net : a network with convolutions only (no head); its hidden layers are revived in turn
    generator : the source of the new filters (seeded by the run: the path stays deterministic)
    rtol : a channel is dead below ``rtol * max_j size_j``; a layer whose channels are all dead
        (the network has collapsed there) is left alone
    scale : the new filters' rms entry relative to the live channels' (incoming filter in this
        layer, outgoing filter in the next)
    """
    revived = 0
    with torch.no_grad():
        for layer in range(len(net.weights) - 1):
            sizes = channel_sizes(net, layer)
            dead = sizes < rtol * sizes.max()
            if dead.all() or not dead.any():
                continue
            w_in, w_out = net.weights[layer], net.weights[layer + 1]
            rms_in = w_in[~dead].pow(2).mean().sqrt()
            rms_out = w_out[:, ~dead].pow(2).mean().sqrt()
            for j in torch.nonzero(dead).flatten().tolist():
                w_in[j] = scale * rms_in * torch.randn(
                    w_in[j].shape, generator=generator, dtype=w_in.dtype).to(w_in.device)
                w_out[:, j] = scale * rms_out * torch.randn(
                    w_out[:, j].shape, generator=generator, dtype=w_out.dtype).to(w_out.device)
                if net.has_bias:
                    net.biases[layer][j] = 0.0
                revived += 1
    return revived
