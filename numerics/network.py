"""The circular CNN of paper_notes/theory.md section 2 in PyTorch (any device, float64 by default).

Conventions (identical to :mod:`cbn.numerics.fourier`)
-------------------------------------------------
* Signals are batches ``(N, c, *spatial)`` on ``G = Z_{d1} x ... x Z_{dk}`` (k = 1 or 2).
* Layer ``l`` has a full-size filter ``W_l`` of shape ``(c_l, c_{l-1}, *grid_l)`` and a bias
  ``b_l`` of shape ``(c_l,)`` (one number per channel, constant over pixels).
* ``z_l = W_l * a_{l-1} + b_l``, ``a_l = act(z_l)`` for ``l < L``, ``f = z_L``; ``*`` is the
  circular convolution ``(W * x)_i(p) = s sum_j sum_q W_ij(q) x_j(p - q)`` with
  ``s = d^{-1/2}`` ('scaled', default) or ``s = 1`` ('plain'), computed over the half
  spectrum by :func:`numerics.spectral_conv.circular_conv_leading`.
* Between layers the activations live in the layout ``(*spatial, N, c)`` of that function
  (per-frequency channel mixing is then one batched matrix product); inputs and outputs of
  the public methods use ``(N, c, *spatial)``.
* ``||theta||^2 = sum_l ||W_l||_F^2 + sum_l ||b_l||^2`` (biases optional), no factor 1/2.

Optional pieces
---------------
* ``stride=s``: the first layer runs on the input grid and its activation is down-sampled,
  ``a_1(p) <- a_1(s p)`` (:func:`cbn.numerics.fourier.downsample`); the middle layers run on the
  coarse
  grid; without a head, the last layer first up-samples by zero insertion (the adjoint of
  down-sampling: ``u(s p) = a(p)``, 0 elsewhere) and runs on the input grid again.
* ``head_classes=K``: every convolution layer is followed by the activation, then global average
  pooling over pixels and a fully-connected layer ``(K, c_L)`` (+ bias): ``f = V mean_p a_L + c``.
  The head counts in ``depth`` and in the parameter norm, and is not part of ``to_numpy``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from cbn.numerics.fourier import (
    check_convention,
    filters_from_multipliers,
    multipliers_from_filters,
    scale_factor,
)
from cbn.numerics.spectral_conv import circular_conv_leading
from cbn.numerics.weights import ACTIVATIONS

INIT_SCHEMES: tuple[str, ...] = ("gaussian", "orthogonal")


def _orthogonal_filter(w: torch.Tensor, gain: float, convention: str) -> torch.Tensor:
    """Filter ``(c_out, c_in, *grid)`` whose multiplier at every frequency is ``gain`` times
    the polar factor of ``w``'s multiplier there (float64, on the CPU)."""
    multipliers = multipliers_from_filters(w.numpy(), convention)
    u, _, vh = np.linalg.svd(multipliers, full_matrices=False)
    return torch.as_tensor(filters_from_multipliers(gain * (u @ vh), convention))


def _grid_is_valid(spatial: Sequence[int]) -> bool:
    return len(spatial) in (1, 2) and all(int(n) >= 1 for n in spatial)


class CircularCNN(nn.Module):
    """ReLU (or linear) circular CNN with full-size filters, convolutions through FFTs.

    Parameters
    ----------
    channels : ``(c_0, c_1, ..., c_L)``; ``c_0`` input channels, ``c_L`` output channels
        of the convolution stack; ``L = len(channels) - 1 >= 1`` convolution layers.
    spatial : input grid ``(d1,)`` or ``(d1, d2)``
    activation : 'relu' or 'identity'
    bias : per-channel biases in every convolution layer (and the head)
    convention : 'scaled' or 'plain'
    dtype, device : of every parameter (float64 by default)
    stride : optional down-sampling factor ``s`` (must divide every grid size; ``L >= 2``)
    head_classes : optional number of classes of a pooling + fully-connected head
    seed : seed of the (CPU) generator used for the initialisation, so a seed gives the same
        network on every device; ``None`` uses torch's global generator
    init_gain : weights are drawn i.i.d. ``N(0, gain^2 / (c_in * d * s^2))`` (``s`` the
        convention factor, ``d`` the layer's grid size), so each layer preserves the signal
        scale; default ``sqrt(2)`` for ReLU, ``1`` for identity. Biases start at 0.
    init_scheme : 'gaussian' (the i.i.d. draw above) or 'orthogonal': the same draw replaced,
        frequency by frequency, by ``gain`` times the polar factor ``U V^H`` of its multiplier
        ``U S V^H``, so every multiplier has all singular values equal to ``gain`` (a product of
        such layers is well conditioned at any depth; the polar factor of ``conj(M)`` is the
        conjugate of that of ``M``, so the filters stay real).
    """

    def __init__(
        self,
        channels: Sequence[int],
        spatial: tuple[int, ...],
        activation: str = "relu",
        bias: bool = True,
        convention: str = "scaled",
        dtype: torch.dtype = torch.float64,
        device: str | torch.device = "cpu",
        stride: int | None = None,
        head_classes: int | None = None,
        seed: int | None = None,
        init_gain: float | None = None,
        init_scheme: str = "gaussian",
    ) -> None:
        super().__init__()
        self.channels = tuple(int(c) for c in channels)
        self.spatial = tuple(int(n) for n in spatial)
        if len(self.channels) < 2 or min(self.channels) < 1:
            raise ValueError(f"channels must list >= 2 positive widths, got {tuple(channels)}")
        if not _grid_is_valid(self.spatial):
            raise ValueError(f"spatial must be (d1,) or (d1, d2) with d_i >= 1, got {spatial}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}: use one of {ACTIVATIONS}")
        if init_scheme not in INIT_SCHEMES:
            raise ValueError(f"unknown init_scheme {init_scheme!r}: use one of {INIT_SCHEMES}")
        self.activation = activation
        self.convention = check_convention(convention)
        self.has_bias = bool(bias)
        self.stride = None if stride in (None, 1) else int(stride)
        n_conv = len(self.channels) - 1
        if self.stride is not None:
            if any(n % self.stride for n in self.spatial):
                raise ValueError(f"stride {stride} must divide every grid size {self.spatial}")
            if n_conv < 2 and head_classes is None:
                raise ValueError("a strided network without a head needs >= 2 layers")
        self.head_classes = None if head_classes is None else int(head_classes)
        self.grids = [self._layer_grid(layer) for layer in range(n_conv)]
        gen = None
        if seed is not None:
            gen = torch.Generator().manual_seed(int(seed))
        gain = init_gain if init_gain is not None else (math.sqrt(2.0) if activation == "relu"
                                                         else 1.0)
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for layer, grid in enumerate(self.grids):
            c_in, c_out = self.channels[layer], self.channels[layer + 1]
            d = math.prod(grid)
            std = gain / (math.sqrt(c_in * d) * scale_factor(grid, self.convention))
            w = torch.randn((c_out, c_in, *grid), generator=gen, dtype=torch.float64) * std
            if init_scheme == "orthogonal":
                w = _orthogonal_filter(w, gain, self.convention)
            self.weights.append(nn.Parameter(w.to(device=device, dtype=dtype)))
            if self.has_bias:
                self.biases.append(nn.Parameter(torch.zeros(c_out, dtype=dtype, device=device)))
        self.head: nn.Linear | None = None
        if self.head_classes is not None:
            c_last = self.channels[-1]
            v = torch.randn((self.head_classes, c_last), generator=gen, dtype=torch.float64)
            self.head = nn.Linear(c_last, self.head_classes, bias=self.has_bias, device=device,
                                  dtype=dtype)
            with torch.no_grad():
                self.head.weight.copy_(v / math.sqrt(c_last))
                if self.has_bias:
                    self.head.bias.zero_()

    # ------------------------------------------------------------------------------------------
    def _layer_grid(self, layer: int) -> tuple[int, ...]:
        """Grid of convolution layer ``layer`` (0-based)."""
        if self.stride is None or layer == 0:
            return self.spatial
        last = len(self.channels) - 2
        if layer == last and self.head_classes is None:
            return self.spatial
        return tuple(n // self.stride for n in self.spatial)

    @property
    def depth(self) -> int:
        """Number of weight layers: convolution layers, plus one for the head."""
        return len(self.weights) + (self.head is not None)

    @property
    def ndim_spatial(self) -> int:
        return len(self.spatial)

    # ------------------------------------------------------------------------------------------
    def _to_leading(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, c, *grid)`` -> ``(*grid, N, c)`` (a view)."""
        k = x.ndim - 2
        return x.permute(*range(2, 2 + k), 0, 1)

    def _from_leading(self, a: torch.Tensor) -> torch.Tensor:
        """``(*grid, N, c)`` -> contiguous ``(N, c, *grid)``."""
        k = a.ndim - 2
        return a.permute(k, k + 1, *range(k)).contiguous()

    def conv(self, layer: int, x: torch.Tensor) -> torch.Tensor:
        """Circular convolution of layer ``layer`` (no bias); x ``(N, c_in, *grid)``."""
        out = circular_conv_leading(self._to_leading(x), self.weights[layer], self.convention)
        return self._from_leading(out)

    def _layer(self, layer: int, a: torch.Tensor) -> torch.Tensor:
        """``z_l = W_l * a + b_l`` in the leading layout ``(*grid, N, c)``."""
        z = circular_conv_leading(a, self.weights[layer], self.convention)
        return z + self.biases[layer] if self.has_bias else z

    def _resample(self, layer: int, a: torch.Tensor) -> torch.Tensor:
        """Down-sample after layer 0, up-sample before the last layer (strided nets only);
        ``a`` in the leading layout."""
        if self.stride is None:
            return a
        sl = (slice(None, None, self.stride),) * self.ndim_spatial
        if layer == 0:
            a = a[sl]
        if layer == len(self.weights) - 2 and self.head is None:
            out = a.new_zeros((*self.spatial, *a.shape[self.ndim_spatial:]))
            out[sl] = a
            a = out
        return a

    def _act(self, z: torch.Tensor) -> torch.Tensor:
        return torch.relu(z) if self.activation == "relu" else z

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Network output.

        Parameters
        ----------
        x : tensor, shape ``(N, c_0, *spatial)``

        Returns
        -------
        tensor, shape ``(N, c_L, *spatial)``, or ``(N, head_classes)`` with a head
        """
        if x.shape[1:] != (self.channels[0], *self.spatial):
            raise ValueError(
                f"input shape {tuple(x.shape)} does not match (N, {self.channels[0]}, "
                f"{', '.join(map(str, self.spatial))})"
            )
        a = self._to_leading(x)
        last = len(self.weights) - 1
        for layer in range(last + 1):
            z = self._layer(layer, a)
            if layer == last and self.head is None:
                return self._from_leading(z)
            a = self._resample(layer, self._act(z))
        pooled = self._from_leading(a).mean(dim=tuple(range(2, 2 + self.ndim_spatial)))
        return self.head(pooled)

    def hidden_activations(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every activated layer output ``(N, c_l, *grid_l)``, after the activation and any
        resampling.

        ``a_1 .. a_{L-1}`` without a head; ``a_1 .. a_L`` (the head's input before pooling)
        with one.
        """
        a, out = self._to_leading(x), []
        n_act = len(self.weights) - (self.head is None)
        for layer in range(n_act):
            a = self._resample(layer, self._act(self._layer(layer, a)))
            out.append(self._from_leading(a))
        return out

    # ------------------------------------------------------------------------------------------
    def parameter_norm_sq(self, include_bias: bool = True) -> torch.Tensor:
        """``sum_l ||W_l||_F^2 (+ sum_l ||b_l||^2)``, head included; a differentiable scalar."""
        total = sum(torch.sum(w * w) for w in self.weights)
        if include_bias:
            total = total + sum(torch.sum(b * b) for b in self.biases)
        if self.head is not None:
            total = total + torch.sum(self.head.weight**2)
            if include_bias and self.head.bias is not None:
                total = total + torch.sum(self.head.bias**2)
        return total

    def to_numpy(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Convolution weights in the layout of :mod:`cbn.numerics.fourier` (float64 copies).

        Returns
        -------
        filters : list of arrays ``(c_l, c_{l-1}, *grid_l)``
        biases : list of arrays ``(c_l,)`` (zeros when the network has no biases)
        """
        filters = [w.detach().to("cpu", torch.float64).numpy().copy() for w in self.weights]
        if self.has_bias:
            biases = [b.detach().to("cpu", torch.float64).numpy().copy() for b in self.biases]
        else:
            biases = [np.zeros(f.shape[0]) for f in filters]
        return filters, biases

    @classmethod
    def from_numpy(
        cls,
        filters: Sequence[np.ndarray],
        biases: Sequence[np.ndarray] | None = None,
        activation: str = "relu",
        convention: str = "scaled",
        dtype: torch.dtype = torch.float64,
        device: str | torch.device = "cpu",
        stride: int | None = None,
        head: tuple[np.ndarray, np.ndarray | None] | None = None,
    ) -> CircularCNN:
        """Network with the given filters ``(c_l, c_{l-1}, *grid_l)`` and biases ``(c_l,)``.

        ``biases=None`` gives a network without biases. With ``stride`` the grids of the
        filters must follow the strided layout (first and last layer on the input grid, unless
        there is a head). ``head``: ``(weight (classes, c_L), bias (classes,) or None)`` of a
        pooling + fully-connected head; its bias must be given iff ``biases`` is.
        """
        filters = [np.asarray(f, dtype=np.float64) for f in filters]
        if not filters:
            raise ValueError("give at least one filter")
        for a, b in zip(filters[:-1], filters[1:]):
            if b.shape[1] != a.shape[0]:
                raise ValueError(f"filter shapes {a.shape} -> {b.shape} do not chain")
        channels = [filters[0].shape[1]] + [f.shape[0] for f in filters]
        net = cls(channels, filters[0].shape[2:], activation=activation, bias=biases is not None,
                  convention=convention, dtype=dtype, device=device, stride=stride, seed=0,
                  head_classes=None if head is None else np.shape(head[0])[0])
        for layer, f in enumerate(filters):
            if tuple(f.shape[2:]) != net.grids[layer]:
                raise ValueError(f"layer {layer}: filter grid {f.shape[2:]} != {net.grids[layer]}")
        with torch.no_grad():
            for w, f in zip(net.weights, filters):
                w.copy_(torch.as_tensor(f))
            if biases is not None:
                if len(biases) != len(filters):
                    raise ValueError(f"{len(filters)} filters but {len(biases)} biases")
                for b, v in zip(net.biases, biases):
                    b.copy_(torch.as_tensor(np.asarray(v, dtype=np.float64).reshape(b.shape)))
            if head is not None:
                if (head[1] is None) != (biases is None):
                    raise ValueError("give a head bias exactly when the layers have biases")
                net.head.weight.copy_(torch.as_tensor(np.asarray(head[0], dtype=np.float64)))
                if head[1] is not None:
                    net.head.bias.copy_(torch.as_tensor(np.asarray(head[1], dtype=np.float64)))
        return net
