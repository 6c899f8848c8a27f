"""A circular CNN read from a framework model: strided layers, pooling, a linear head (numpy).

The value :class:`ImportedCNN` is what :mod:`cbn.numerics.torch_import` builds from a PyTorch
module.
Every layer is stored in the layout of :mod:`cbn.numerics.fourier`, **plain** convention (a
framework convolution has no ``d^{-1/2}``):

* convolution layer ``l``: a full-size filter ``W_l`` of shape ``(c_out, c_in, *grid_in)`` (the
  kernel, flipped and circularly shifted, zero-padded to the layer's input grid), a bias
  ``(c_out,)`` or None, a stride ``s`` (same on every axis) and an activation;
  ``z_l = S_s(W_l * a_{l-1}) + b_l`` with ``S_s x(p) = x(s p)``
  (:func:`cbn.numerics.fourier.downsample`),
  ``a_l = relu(z_l)`` or ``z_l``;
* optional global average pooling ``mean_p a_L`` and a final linear layer ``V pooled + c``.

The multiplier of layer ``l`` at a frequency ``m`` of its input grid is ``M_l(m) = W_l^(m)``
(the operator's own multiplier; it is the same in both conventions). A strided layer maps the
input grid to the grid ``n / s``; folding (paper_notes/theory.md section 1) makes it block-diagonal
over the coarse
frequencies ``k``, with the block ``s^{-k_dim} [M_l(k + j n/s)]_{j in Z_s^k_dim}`` (columns side by
side): :func:`folded_spectrum` gives its singular values in the operator's normalisation, i.e.
the singular values of the layer's dense operator from its input pixels to its output pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cbn.numerics.fourier import circular_conv, downsample, multipliers_from_filters
from cbn.numerics.linear import kept_singular_values, singular_values


@dataclass(frozen=True)
class ConvLayer:
    """One convolution layer in toolkit layout (plain convention).

    Attributes
    ----------
    filter : float64 array ``(c_out, c_in, *grid_in)``, full-size (zero outside the kernel)
    bias : float64 array ``(c_out,)`` or None
    stride : down-sampling factor on every axis (1: none)
    activation : 'relu' or 'identity', applied after the bias
    name : the framework module's qualified name (for messages and reports)
    kernel : the framework kernel size per axis
    """

    filter: np.ndarray
    bias: np.ndarray | None
    stride: int
    activation: str
    name: str
    kernel: tuple[int, ...]

    @property
    def grid_in(self) -> tuple[int, ...]:
        return tuple(self.filter.shape[2:])

    @property
    def grid_out(self) -> tuple[int, ...]:
        return tuple(n // self.stride for n in self.grid_in)


@dataclass(frozen=True)
class LinearHead:
    """The final fully-connected layer after global average pooling: ``V pooled + c``."""

    weight: np.ndarray
    bias: np.ndarray | None
    name: str


@dataclass(frozen=True)
class ImportedCNN:
    """Convolution layers, then optional global average pooling and an optional linear head.

    ``head`` is only present with ``pooled``. ``grid`` is the input grid.
    """

    layers: tuple[ConvLayer, ...]
    grid: tuple[int, ...]
    pooled: bool = False
    head: LinearHead | None = None

    @property
    def ndim_spatial(self) -> int:
        return len(self.grid)

    @property
    def channels(self) -> tuple[int, ...]:
        """``(c_0, c_1, ..., c_L)`` of the convolution stack."""
        return (self.layers[0].filter.shape[1],) + tuple(l.filter.shape[0] for l in self.layers)

    @property
    def n_weight_layers(self) -> int:
        """Convolution layers plus the head: the depth ``L`` of the Schatten bound."""
        return len(self.layers) + (self.head is not None)

    def parameter_norm_sq(self, include_bias: bool = True) -> float:
        """``sum ||W_l||_F^2 (+ ||b_l||^2)`` with the head: the framework model's own norm."""
        arrays = [l.filter for l in self.layers] + ([self.head.weight] if self.head else [])
        if include_bias:
            arrays += [l.bias for l in self.layers if l.bias is not None]
            if self.head is not None and self.head.bias is not None:
                arrays.append(self.head.bias)
        return float(sum(np.sum(np.square(a)) for a in arrays))


def _activate(z: np.ndarray, activation: str) -> np.ndarray:
    return np.maximum(z, 0.0) if activation == "relu" else z


def forward(net: ImportedCNN, X: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Every convolution layer's activation and the network output on a batch.

    Parameters
    ----------
    X : array ``(N, c_0, *grid)``

    Returns
    -------
    activations : list of arrays ``(N, c_l, *grid_out_l)``, after bias and activation
    output : the last activation, or ``(N, c_L)`` pooled, or ``(N, K)`` after the head
    """
    a = np.asarray(X, dtype=np.float64)
    nsp = net.ndim_spatial
    acts = []
    for layer in net.layers:
        z = circular_conv(layer.filter, a, "plain")
        if layer.stride > 1:
            z = downsample(z, layer.stride, nsp)
        if layer.bias is not None:
            z = z + layer.bias.reshape((-1,) + (1,) * nsp)
        a = _activate(z, layer.activation)
        acts.append(a)
    if not net.pooled:
        return acts, a
    out = a.mean(axis=tuple(range(2, 2 + nsp)))
    if net.head is not None:
        out = out @ net.head.weight.T + (0.0 if net.head.bias is None else net.head.bias)
    return acts, out


def folded_spectrum(layer: ConvLayer) -> np.ndarray:
    """Singular values of a layer's operator per output frequency (stride folding applied).

    Returns
    -------
    array ``(*grid_out, r)``, descending, ``r = min(c_out, c_in s^k_dim)``: the singular values
    of the block ``s^{-k_dim} [M(k + j n/s)]_j`` times ``sqrt(d_in / d_out)``, which are those
    of the dense operator from the input pixels to the output pixels. For ``s = 1`` these are
    the singular values of ``M(m)``.
    """
    return singular_values(folded_blocks(layer)) * layer.stride ** (len(layer.grid_in) / 2)


def folded_blocks(layer: ConvLayer) -> np.ndarray:
    """``s^{-k_dim} [M(k + j n/s)]_{j}`` for every coarse ``k``: ``(*grid_out, c_out, c_in s^k)``.

    ``(S_s W * x)^(k) = block(k) [x^(k + j n/s)]_j`` (DFTs on each grid).
    """
    mult = multipliers_from_filters(layer.filter, "plain")  # (*grid_in, co, ci)
    folded = _fold(mult[..., None, :, :], layer.stride, len(layer.grid_in))  # (*out, F, co, ci)
    return _columns(folded)


def _fold(T: np.ndarray, stride: int, nsp: int) -> np.ndarray:
    """Fold frequency-indexed blocks onto the grid ``n / s`` (paper_notes/theory.md section 1).

    ``T`` has shape ``(*grid, F, a, b)``: ``F`` blocks at every frequency. The frequencies
    ``k + j n/s`` (``j`` in ``Z_s^k_dim``) all land on ``k``: the result ``(*grid/s, F s^k_dim,
    a, b)`` stacks their blocks (``j`` in C order, then the old ``F``), times ``s^{-k_dim}``.
    """
    if stride == 1:
        return T
    grid = T.shape[:nsp]
    split = []
    for n in grid:
        split += [stride, n // stride]
    T = T.reshape(*split, *T.shape[nsp:])
    k_axes = tuple(range(1, 2 * nsp, 2))
    j_axes = tuple(range(0, 2 * nsp, 2))
    rest = tuple(range(2 * nsp, T.ndim))
    T = T.transpose(*k_axes, *j_axes, *rest)
    coarse = tuple(n // stride for n in grid)
    return T.reshape(*coarse, -1, *T.shape[-2:]) / stride**nsp


def _columns(T: np.ndarray) -> np.ndarray:
    """``(..., F, a, b)`` -> ``(..., a, F b)``: the ``F`` blocks side by side."""
    return np.moveaxis(T, -3, -2).reshape(*T.shape[:-3], T.shape[-2], -1)


def constant_input_jacobian(net: ImportedCNN, value: np.ndarray) -> tuple[np.ndarray, float]:
    """Frequency blocks of the Jacobian at the input constant ``value`` over pixels.

    At a constant input every pre-activation is constant over pixels (a stride keeps it so), so
    each ReLU is one 0/1 mask per channel and the Jacobian maps the input frequencies that fold
    onto an output frequency ``k`` to ``k`` alone.

    Parameters
    ----------
    value : array ``(c_0,)``

    Returns
    -------
    blocks : complex array ``(*grid_out, c_out, c_0 F)``, ``F = d_0 / d_out`` input frequencies
        per output frequency (all of them folding onto ``k``), ``grid_out`` ``()`` after
        pooling: ``(J delta)^(k) = blocks(k) [delta^(m)]_m``.
    pixel_scale : ``sqrt(d_0 / d_out)``: the singular values of the Jacobian as a map of pixel
        values are ``pixel_scale`` times those of the blocks (the unnormalised DFTs of input
        and output have norms ``sqrt(d_0)`` and ``sqrt(d_out)``).
    """
    nsp = net.ndim_spatial
    c0 = net.channels[0]
    # T[k, f]: response at the current frequency k to the f-th input frequency folded onto k
    T = np.broadcast_to(np.eye(c0, dtype=np.complex128), (*net.grid, 1, c0, c0))
    a = np.asarray(value, dtype=np.float64)
    for layer in net.layers:
        mult = multipliers_from_filters(layer.filter, "plain")
        T = mult[..., None, :, :] @ T
        z = mult[(0,) * nsp].real @ a + (0.0 if layer.bias is None else layer.bias)
        T = _fold(T, layer.stride, nsp)
        if layer.activation == "relu":
            T = T * (z > 0)[:, None]
        a = _activate(z, layer.activation)
    d0, d_out = float(np.prod(net.grid)), float(np.prod(net.layers[-1].grid_out))
    if net.pooled:
        T = T[(0,) * nsp] / d_out  # only frequency 0 reaches the mean: (F, c, c0)
        if net.head is not None:
            T = net.head.weight @ T
        d_out = 1.0
    return _columns(T), float(np.sqrt(d0 / d_out))


def output_grid_sizes(net: ImportedCNN) -> list[int]:
    """Number of output pixels of every weight layer (the head counts as 1)."""
    sizes = [int(np.prod(l.grid_out)) for l in net.layers]
    return sizes + ([1] if net.head is not None else [])


@dataclass(frozen=True)
class JacobianBound:
    """Constant-input Jacobian of an :class:`ImportedCNN` and its Schatten LOWER bound.

    Attributes
    ----------
    value : the constant input ``(c_0,)``
    ranks : rank of every output-frequency block (shape ``grid_out``; ``()`` after pooling)
    rank_sum : ``sum_k ranks``
    lower_bound : ``(L / dbar) sum_i s_i(J)^{2/L}`` with ``s_i(J)`` the singular values of the
        Jacobian as a map of pixel values, ``L`` the number of weight layers and ``dbar`` the
        geometric mean of their output pixel counts: a LOWER bound on ``sum_l ||W_l||^2`` of
        every network of this layout that computes the same function near ``value``
    rank_rtol : singular values at or below ``rank_rtol * max`` count as 0 (lowers the bound)
    """

    value: np.ndarray
    ranks: np.ndarray
    rank_sum: int
    lower_bound: float
    rank_rtol: float


def schatten_bound(net: ImportedCNN, value: np.ndarray, rtol: float) -> JacobianBound:
    """The Schatten LOWER bound on the weights' norm at one constant input.

    Why it holds (paper_notes/theory.md section 4, extended to strides and a pooled head): the
    Jacobian is
    ``J = B_L C_{L-1} B_{L-1} ... B_1`` with ``B_l`` the pixel operator of weight layer ``l``
    (a strided layer includes its sub-sampling) and ``C`` contractions (ReLU masks, the
    pooling ``d^{-1/2}`` times a partial isometry). Horn's inequality and the AM-GM inequality
    give ``sum_i s_i(J)^{2/L} <= (1/L) sum_l c_l^2 ||B_l||_F^2`` for any ``c_l`` with product 1;
    ``||B_l||_F^2 = d_l ||W_l||_F^2`` (every output pixel's row holds each filter entry once,
    ``d_l`` the layer's output pixel count; 1 for the head) and ``c_l^2 = dbar / d_l`` give
    ``||theta||^2 >= (L / dbar) sum_i s_i(J)^{2/L}``. With one grid and no head, ``dbar = d`` and
    this is the plain-convention bound of :func:`cbn.numerics.bounds.schatten_lower_bound`.
    """
    blocks, pixel_scale = constant_input_jacobian(net, value)
    kept = kept_singular_values(blocks, rtol)
    depth = net.n_weight_layers
    dbar = float(np.exp(np.mean(np.log(output_grid_sizes(net)))))
    pos = kept[kept > 0]
    bound = depth / dbar * float(np.sum((pixel_scale * pos) ** (2.0 / depth)))
    ranks = np.count_nonzero(kept, axis=-1)
    return JacobianBound(np.asarray(value, dtype=np.float64), ranks, int(ranks.sum()), bound,
                         rtol)
