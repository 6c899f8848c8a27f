"""A circular CNN as a NumPy value: filters, biases, activation, convention, optional head.

The one exchange format of a network between bounds, spectra, constructions, starts, the store
and the figures (paper_notes/theory.md section 2); :class:`cbn.numerics.network.CircularCNN` is its
trainable
PyTorch form (:meth:`Network.to_torch`, :meth:`Network.from_torch`).

Conventions (identical to :mod:`cbn.numerics.fourier` and :mod:`cbn.numerics.network`)
-----------------------------------------------------------------------------
* Layer ``l`` (0-based) has a full-size filter ``W_l`` of shape ``(c_{l+1}, c_l, *grid_l)``
  and a per-channel bias ``b_l`` of shape ``(c_{l+1},)`` (constant over pixels).
* ``z_l = W_l * a_{l-1} + b_l``, ``a_l = act(z_l)`` for hidden layers, ``f = z_L``; ``*`` is
  the circular convolution ``d^{-1/2} sum_j sum_q W_ij(q) x_j(p - q)`` ('scaled') or without
  ``d^{-1/2}`` ('plain').
* ``stride=s``: the first layer's activation is down-sampled ``a(p) <- a(s p)``; without a head
  the last layer first up-samples by zero insertion and runs on the input grid again.
* ``head``: every convolution layer is activated, then global average pooling and
  ``f = V mean_p a_L + c``; it counts in ``depth`` and in the norm.
* ``||theta||^2 = sum_l ||W_l||_F^2 + sum_l ||b_l||^2`` (biases optional) plus the head's
  ``||V||_F^2 + ||c||^2``; no factor 1/2.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from cbn.numerics.fourier import (
    check_convention,
    circular_conv,
    downsample,
    multipliers_from_filters,
)
from cbn.numerics.inputs import InputError

ACTIVATIONS: tuple[str, ...] = ("relu", "identity")


@dataclass(frozen=True)
class Head:
    """Global average pooling + fully-connected layer: ``f = weight @ mean_p a_L + bias``.

    Attributes
    ----------
    weight : array ``(classes, c_L)``
    bias : array ``(classes,)`` or None (a network without biases)
    """

    weight: np.ndarray
    bias: np.ndarray | None = None

    def __post_init__(self) -> None:
        weight = np.asarray(self.weight, dtype=np.float64)
        if weight.ndim != 2:
            raise InputError(f"a head weight needs shape (classes, c_L), got {weight.shape}")
        object.__setattr__(self, "weight", weight)
        if self.bias is not None:
            bias = np.asarray(self.bias, dtype=np.float64).reshape(-1)
            if bias.shape != (weight.shape[0],):
                raise InputError(f"head bias shape {bias.shape} != ({weight.shape[0]},)")
            object.__setattr__(self, "bias", bias)


@dataclass(frozen=True)
class Network:
    """A ReLU (or linear) circular CNN as float64 NumPy arrays.

    Attributes
    ----------
    filters : tuple of ``L`` arrays, layer ``l`` of shape ``(c_{l+1}, c_l, *grid_l)``
    biases : tuple of ``L`` arrays of shape ``(c_{l+1},)``, or None for a bias-free network
        (``None`` entries given at construction become zeros)
    activation : 'relu' or 'identity'
    convention : 'scaled' or 'plain'
    head : optional :class:`Head` after the convolution layers
    stride : optional down-sampling factor after the first layer (None: no striding)
    """

    filters: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...] | None = None
    activation: str = "relu"
    convention: str = "scaled"
    head: Head | None = None
    stride: int | None = None

    def __post_init__(self) -> None:
        filters = tuple(np.asarray(f, dtype=np.float64) for f in self.filters)
        if not filters or any(f.ndim not in (3, 4) for f in filters):
            raise InputError("a network needs >= 1 filter of shape (c_out, c_in, *spatial) "
                             "with 1 or 2 spatial axes")
        for layer, (a, b) in enumerate(zip(filters[:-1], filters[1:])):
            if b.shape[1] != a.shape[0]:
                raise InputError(f"filters {layer} {a.shape} and {layer + 1} {b.shape} do not "
                                 f"chain: give layer {layer + 1} {a.shape[0]} input channels")
        object.__setattr__(self, "filters", filters)
        if self.activation not in ACTIVATIONS:
            raise InputError(f"unknown activation {self.activation!r}: use one of {ACTIVATIONS}")
        check_convention(self.convention)
        if self.stride in (None, 1):
            object.__setattr__(self, "stride", None)
        biases = self.biases
        if biases is not None and all(b is None for b in biases):
            biases = None
        if biases is not None:
            if len(biases) != len(filters):
                raise InputError(f"{len(filters)} filters but {len(biases)} biases")
            biases = tuple(np.zeros(f.shape[0]) if b is None
                           else np.asarray(b, dtype=np.float64).reshape(-1)
                           for f, b in zip(filters, biases))
            for layer, (f, b) in enumerate(zip(filters, biases)):
                if b.shape != (f.shape[0],):
                    raise InputError(f"bias {layer} has shape {b.shape}, expected ({f.shape[0]},)")
        object.__setattr__(self, "biases", biases)
        if self.head is not None and self.head.weight.shape[1] != filters[-1].shape[0]:
            raise InputError(f"head weight {self.head.weight.shape} does not take the "
                             f"{filters[-1].shape[0]} channels of the last layer")

    # ------------------------------------------------------------------------------------------
    @property
    def depth(self) -> int:
        """Number of weight layers: convolution layers, plus one for the head."""
        return len(self.filters) + (self.head is not None)

    @property
    def channels(self) -> tuple[int, ...]:
        """``(c_0, c_1, ..., c_L)`` of the convolution stack."""
        return (self.filters[0].shape[1], *(f.shape[0] for f in self.filters))

    @property
    def widths(self) -> tuple[int, ...]:
        """The ``depth - 1`` hidden widths (every convolution output but a head-less last one)."""
        return self.channels[1:] if self.head is not None else self.channels[1:-1]

    @property
    def spatial(self) -> tuple[int, ...]:
        """The input grid ``(d1,)`` or ``(d1, d2)``."""
        return tuple(self.filters[0].shape[2:])

    def norm_sq(self, include_bias: bool = True) -> float:
        """``||theta||^2``: squared Frobenius norms of filters (and biases), head included."""
        weights = sum(float(np.sum(np.square(w))) for w in self.filters)
        biases = sum(float(np.sum(np.square(b))) for b in self.biases or ()) if include_bias \
            else 0.0
        total = weights + biases
        if self.head is not None:
            total += float(np.sum(np.square(self.head.weight)))
            if include_bias and self.head.bias is not None:
                total += float(np.sum(np.square(self.head.bias)))
        return total

    def multipliers(self) -> list[np.ndarray]:
        """Per layer the multipliers ``M_l(m)``, shape ``(*grid_l, c_{l+1}, c_l)``."""
        return [multipliers_from_filters(f, self.convention) for f in self.filters]

    # ------------------------------------------------------------------------------------------
    def _act(self, z: np.ndarray) -> np.ndarray:
        return np.maximum(z, 0.0) if self.activation == "relu" else z

    def _resample(self, layer: int, a: np.ndarray) -> np.ndarray:
        """Down-sample after layer 0, zero-insert before a head-less last layer (stride only)."""
        if self.stride is None:
            return a
        nsp = len(self.spatial)
        if layer == 0:
            a = downsample(a, self.stride, nsp)
        if layer == len(self.filters) - 2 and self.head is None:
            up = np.zeros((*a.shape[:2], *self.spatial))
            up[(Ellipsis,) + (slice(None, None, self.stride),) * nsp] = a
            a = up
        return a

    def layer_outputs(self, X: np.ndarray) -> list[np.ndarray]:
        """Every layer's output on a batch ``X`` ``(N, c_0, *spatial)``.

        Returns
        -------
        list of ``depth`` arrays: the activated outputs ``a_l`` ``(N, c_l, *grid)`` (after any
        resampling) of the hidden layers, then the network output: ``z_L``
        ``(N, c_L, *spatial)``, or ``(N, classes)`` with a head.
        """
        a = np.asarray(X, dtype=np.float64)
        if a.shape[1:] != (self.channels[0], *self.spatial):
            raise InputError(f"input shape {a.shape} does not match (N, {self.channels[0]}, "
                             f"{', '.join(map(str, self.spatial))})")
        outs: list[np.ndarray] = []
        last = len(self.filters) - 1
        for layer, w in enumerate(self.filters):
            z = circular_conv(w, a, self.convention)
            if self.biases is not None:
                z = z + self.biases[layer].reshape((-1,) + (1,) * (w.ndim - 2))
            if layer == last and self.head is None:
                outs.append(z)
                return outs
            a = self._resample(layer, self._act(z))
            outs.append(a)
        pooled = a.mean(axis=tuple(range(2, a.ndim)))
        out = pooled @ self.head.weight.T
        outs.append(out if self.head.bias is None else out + self.head.bias)
        return outs

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """The network output on ``X`` ``(N, c_0, *spatial)`` (float64, FFT convolutions)."""
        return self.layer_outputs(X)[-1]

    # ------------------------------------------------------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        """The arrays of the store: ``filter_<l>``, ``bias_<l>`` (with biases), and
        ``head_weight``, ``head_bias`` (with a head). Activation, convention and stride are
        configuration, not arrays: :meth:`from_arrays` takes them back as arguments."""
        out = {f"filter_{i}": w for i, w in enumerate(self.filters)}
        out.update({f"bias_{i}": b for i, b in enumerate(self.biases or ())})
        if self.head is not None:
            out["head_weight"] = self.head.weight
            if self.head.bias is not None:
                out["head_bias"] = self.head.bias
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], activation: str = "relu",
                    convention: str = "scaled", stride: int | None = None) -> Network:
        """Inverse of :meth:`to_arrays` (extra keys are ignored; no ``bias_<l>``: no biases)."""
        depth = sum(1 for k in arrays if k.startswith("filter_"))
        filters = [arrays[f"filter_{i}"] for i in range(depth)]
        biases = [arrays.get(f"bias_{i}") for i in range(depth)]
        head = None
        if "head_weight" in arrays:
            head = Head(arrays["head_weight"], arrays.get("head_bias"))
        return cls(filters, biases, activation, convention, head, stride)

    def to_torch(self, dtype=None, device="cpu"):
        """The :class:`cbn.numerics.network.CircularCNN` with these weights (float64 by default).

        Raises
        ------
        ValueError
            If the head has a bias and the convolutions have none (or the reverse): the torch
            network has one bias switch for all layers.
        """
        import torch  # the NumPy value stays importable without torch (cbn.numerics.targets)

        from cbn.numerics.network import CircularCNN

        return CircularCNN.from_numpy(
            self.filters, self.biases, activation=self.activation, convention=self.convention,
            dtype=torch.float64 if dtype is None else dtype, device=device, stride=self.stride,
            head=None if self.head is None else (self.head.weight, self.head.bias))

    @classmethod
    def from_torch(cls, net) -> Network:
        """Float64 copy of a :class:`cbn.numerics.network.CircularCNN` (biases None without
        them)."""
        filters, biases = net.to_numpy()
        head = None
        if net.head is not None:
            head = Head(net.head.weight.detach().to("cpu").double().numpy().copy(),
                        None if net.head.bias is None else
                        net.head.bias.detach().to("cpu").double().numpy().copy())
        return cls(filters, biases if net.has_bias else None, net.activation, net.convention,
                   head, net.stride)

    def padded(self, width: int) -> Network:
        """The same network with every hidden layer zero-padded to ``width`` channels.

        Input and output channels are kept; padded channels carry zeros, so the function and
        the norm are unchanged.

        Raises
        ------
        ValueError
            If a hidden layer has more than ``width`` channels.
        """
        biases = self.biases or [np.zeros(0)] * len(self.filters)
        out_f, out_b, c_prev = [], [], self.filters[0].shape[1]
        for i, (w, b) in enumerate(zip(self.filters, biases)):
            c_out = w.shape[0] if i == len(self.filters) - 1 and self.head is None else width
            if c_out < w.shape[0]:
                raise ValueError(f"layer {i + 1} has {w.shape[0]} channels, more than width "
                                 f"{width}")
            pad = np.zeros((c_out, c_prev, *w.shape[2:]))
            pad[: w.shape[0], : w.shape[1]] = w
            bias = np.zeros(c_out)
            bias[: len(b)] = b
            out_f.append(pad)
            out_b.append(bias)
            c_prev = c_out
        head = self.head
        if head is not None:
            weight = np.zeros((head.weight.shape[0], c_prev))
            weight[:, : head.weight.shape[1]] = head.weight
            head = Head(weight, head.bias)
        return Network(out_f, None if self.biases is None else out_b, self.activation,
                       self.convention, head, self.stride)

