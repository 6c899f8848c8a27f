"""Start networks of a minimal-norm search: padded warm starts, closed forms, constructions.

Every function returns a network that a search (:func:`cbn.numerics.search.min_norm_fit`) can
start from:

* :func:`pad_to_depth`: a shallower network made deeper without changing its function (the
  identity, or a projector onto the data's activations), rebalanced to the least norm;
* :func:`linear_closed_form_init`: the balanced linear network attaining ``R(A; L)``;
* :func:`construction_network`: a target's explicit network (:meth:`Target.construction`);
* :func:`perturbed_network`: a start moved off the exact zeros that gradients cannot leave.

Networks travel as :class:`cbn.numerics.weights.Network` (NumPy) or
:class:`cbn.numerics.network.CircularCNN` (the trainable form the search takes). torch is imported
inside the functions that need it, so that importing :mod:`cbn.numerics.sweep` (and ``cbn``'s
light commands) stays torch-free.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from cbn.numerics.fourier import filters_from_multipliers, scale_factor
from cbn.numerics.linear import RANK_RTOL, minimal_norm_weights
from cbn.numerics.weights import Network

if TYPE_CHECKING:
    import torch

    from cbn.numerics.network import CircularCNN


def _identity_filter(channels: int, grid: tuple[int, ...], convention: str) -> np.ndarray:
    """Filter whose multiplier is the identity at every frequency: ``W(0) = I / s``."""
    f = np.zeros((channels, channels, *grid))
    f[(slice(None), slice(None)) + (0,) * len(grid)] = np.eye(channels) / scale_factor(
        grid, convention)
    return f


def _data_projector_filter(acts: np.ndarray, convention: str, rtol: float) -> np.ndarray:
    """Filter whose multiplier at ``m`` projects onto ``span_n a_n^(m)``.

    ``acts`` has shape ``(N, c, *grid)``; directions with singular value ``<= rtol * s_max``
    (``s_max`` over all frequencies) are dropped. The projector at ``-m`` is the conjugate of
    the one at ``m`` (the span is), so the filter is real.
    """
    nsp = acts.ndim - 2
    hat = np.fft.fftn(acts, axes=tuple(range(2, 2 + nsp)))
    blocks = np.moveaxis(hat, (1, 0), (-2, -1))  # (*grid, c, N)
    u, sv, _ = np.linalg.svd(blocks, full_matrices=False)
    keep = sv > rtol * (float(sv.max()) if sv.size else 0.0)
    uk = u * keep[..., None, :]
    proj = uk @ np.conj(np.swapaxes(uk, -1, -2))  # (*grid, c, c)
    return filters_from_multipliers(proj, convention)


def pad_to_depth(
    net: CircularCNN, depth: int, X: np.ndarray | None = None, rtol: float = RANK_RTOL,
    position: int | None = None,
) -> CircularCNN:
    """A deeper network computing the same function (warm start across depths).

    Layers with zero bias are inserted before convolution layer ``position`` (default: the last
    one, or after it when the net has a head), so their input is an activation output
    (``1 <= position <= number of convolutions``; :func:`cheapest_padding` tries them all).
    Each inserted layer is

    * ``X=None``: the identity (multiplier ``I`` at every frequency), exact everywhere;
    * ``X`` given (inputs ``(N, c_0, *spatial)``): the per-frequency orthogonal projector onto
      the span of the activations ``a^(m)(x_n)`` at the insertion point, exact on those samples
      (up to the dropped directions, singular values ``<= rtol * s_max``) and much cheaper: it
      costs ``sum_m rank`` instead of ``c * d``.

    For ReLU nets both are exact because the inserted layer sees ``a >= 0`` and returns it
    unchanged, so ``relu`` does nothing. The layers are then rebalanced by positive scalings
    ``W_l <- t_l W_l``, ``b_l <- (t_1 ... t_l) b_l`` with ``prod t_l = 1`` (positive homogeneity
    keeps the function) and equal ``t_l^2 ||W_l||^2``, the least weight norm over such scalings.

    Parameters
    ----------
    net : network of depth ``<= depth`` (convolution layers, plus a head if any)
    depth : target depth (same counting as ``net.depth``)
    """
    import torch

    from cbn.numerics.network import CircularCNN

    extra = depth - net.depth
    if extra < 0:
        raise ValueError(f"cannot pad a depth-{net.depth} network to depth {depth}")
    n_conv = len(net.weights)
    if net.activation == "relu" and n_conv < 2 and net.head is None:
        raise ValueError("a ReLU network with one layer has no ReLU output to insert after")
    filters, biases = net.to_numpy()
    pos = (n_conv if net.head is not None else max(n_conv - 1, 0)) if position is None \
        else int(position)
    if position is not None and not 1 <= pos <= n_conv - (net.head is None):
        raise ValueError(f"insertion position {pos} is not after a hidden activation of a "
                         f"network with {n_conv} convolutions")
    c = net.channels[pos]
    deeper = CircularCNN([*net.channels[:pos + 1], *[c] * extra, *net.channels[pos + 1:]],
                         net.spatial, activation=net.activation, bias=net.has_bias,
                         convention=net.convention, stride=net.stride,
                         head_classes=net.head_classes, seed=0)
    grid = deeper.grids[pos]
    if X is None:
        new = _identity_filter(c, grid, net.convention)
    else:
        p0 = next(net.parameters())
        with torch.no_grad():
            xt = torch.as_tensor(np.asarray(X), dtype=p0.dtype, device=p0.device)
            acts = xt if pos == 0 else net.hidden_activations(xt)[pos - 1]
        acts = acts.detach().to("cpu", torch.float64).numpy()
        if acts.shape[2:] != grid:  # the old net up-sampled here; the new one does it later
            acts = acts[(Ellipsis,) + (slice(None, None, net.stride),) * len(grid)]
        new = _data_projector_filter(acts, net.convention, rtol)
    filters[pos:pos] = [new.copy() for _ in range(extra)]
    biases[pos:pos] = [np.zeros(c) for _ in range(extra)]
    head_w = None if net.head is None else net.head.weight.detach().cpu().double().numpy()
    filters, biases, head_w = balanced(filters, biases, head_w)
    with torch.no_grad():
        for w, f in zip(deeper.weights, filters):
            w.copy_(torch.as_tensor(f))
        for b, v in zip(deeper.biases, biases):
            b.copy_(torch.as_tensor(v))
        if head_w is not None:
            deeper.head.weight.copy_(torch.as_tensor(head_w))
            if net.has_bias:
                deeper.head.bias.copy_(net.head.bias.detach().double().cpu())
    p0 = next(net.parameters())
    return deeper.to(device=p0.device, dtype=p0.dtype)


def balanced(filters: list[np.ndarray], biases: list[np.ndarray],
             head_w: np.ndarray | None = None
             ) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray | None]:
    """The same ReLU (or linear) network rescaled to equal layer norms: ``W_l <- t_l W_l``,
    ``b_l <- (t_1 ... t_l) b_l`` with ``prod t_l = 1`` and equal ``t_l^2 ||W_l||^2`` (the
    head, if any, counts as the last layer). Positive homogeneity keeps the function, and among
    such scalings this one has the least weight norm (AM-GM). A network with a zero layer is
    returned as it is."""
    sizes = [float(np.sum(f**2)) for f in filters] + ([] if head_w is None else
                                                      [float(np.sum(head_w**2))])
    if min(sizes) <= 0:
        return filters, biases, head_w
    g = math.exp(np.mean(np.log(sizes)))
    t = [math.sqrt(g / s) for s in sizes]
    cum = np.cumprod(t)
    filters = [f * tl for f, tl in zip(filters, t)]
    biases = [b * cl for b, cl in zip(biases, cum)]
    return filters, biases, None if head_w is None else head_w * t[-1]


def cheapest_padding(net: CircularCNN, depth: int, X: np.ndarray,
                     rtol: float = RANK_RTOL) -> CircularCNN:
    """:func:`pad_to_depth` at the insertion point that gives the least norm.

    An inserted data projector costs ``sum_m rank`` of the activations it passes, so the
    cheapest place is where the representation is smallest: in a network with a bottleneck,
    inside it, which is where the minimal-norm network of a larger depth spends its extra layers
    (paper_notes/theory.md section 4). Ties go to the later position (the default of
    :func:`pad_to_depth`).
    """
    n_conv = len(net.weights)
    last = n_conv if net.head is not None else n_conv - 1
    if depth == net.depth or last < 1:  # nothing to choose: pad_to_depth's own rules
        return pad_to_depth(net, depth, X, rtol)
    best, best_norm = None, math.inf
    for position in range(last, 0, -1):
        deeper = pad_to_depth(net, depth, X, rtol, position)
        norm = Network.from_torch(deeper).norm_sq()
        if norm < best_norm * (1 - 1e-12):
            best, best_norm = deeper, norm
    return best


def linear_closed_form_init(
    multipliers: np.ndarray,
    depth: int,
    widths: Sequence[int] | None = None,
    convention: str = "scaled",
    dtype: torch.dtype | None = None,
    device: str | torch.device = "cpu",
) -> CircularCNN:
    """Linear (identity-activation, bias-free) network attaining ``R(A; L)`` exactly.

    Built from :func:`cbn.numerics.linear.minimal_norm_weights`; multipliers of shape
    ``(*spatial, c_out, c_in)``; ``dtype`` None means float64.
    """
    filters = minimal_norm_weights(multipliers, depth, widths, convention)
    return Network(filters, None, "identity", convention).to_torch(dtype, device)


def construction_network(target, depth: int, width: int, X: np.ndarray | None = None) -> Network:
    """The target's explicit network at ``depth`` with hidden layers of ``width`` channels
    (:meth:`cbn.numerics.targets.Target.construction`; its norm is an UPPER bound on the cost).

    Parameters
    ----------
    X : the samples ``(N, c_in, *spatial)`` the network must fit (used by targets whose domain
        is unbounded, e.g. ``relu_lowpass``)

    Raises
    ------
    ValueError
        If the target has no construction, or none at this depth or width.
    """
    build = getattr(target, "construction", None)  # duck-typed user targets may lack it
    net = None if build is None else build(depth, width, X)
    if net is None:
        raise ValueError(f"target {target.name} has no explicit bottleneck construction")
    return net


def perturb_filters(filters: Sequence[np.ndarray], scale: float, seed: int) -> list[np.ndarray]:
    """``W_l + scale * rms(W_l) * Z_l`` with ``Z_l`` standard Gaussian (seeded by ``seed``).

    Every entry is perturbed, zeros included, relative to the layer's root-mean-square entry
    (``rms = ||W_l||_F / sqrt(size)``), so each layer changes by about ``scale`` of its size.
    """
    rng = np.random.default_rng(seed)
    out = []
    for w in filters:
        rms = float(np.sqrt(np.mean(np.square(w))))
        out.append(w + scale * rms * rng.standard_normal(w.shape))
    return out


def perturbed_network(filters: Sequence[np.ndarray], biases: Sequence[np.ndarray] | None,
                      scale: float, seed: int, activation: str = "relu",
                      convention: str = "scaled") -> CircularCNN:
    """The :class:`cbn.numerics.network.CircularCNN` with filters :func:`perturb_filters` and the
    given biases (None: a network without biases): a perturbed start for the engine."""
    return Network(perturb_filters(filters, scale, seed), biases, activation,
                   convention).to_torch()
