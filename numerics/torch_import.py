"""Read a plain PyTorch CNN into an :class:`~cbn.numerics.imported.ImportedCNN`, exactly.

Supported: a chain (``nn.Sequential`` or any module whose ``forward`` traces with
``torch.fx`` to a chain) of ``nn.Conv1d`` / ``nn.Conv2d`` (``padding_mode='circular'`` unless
the padding is 0, ``dilation=1``, ``groups=1``, the same stride ``s`` on every axis, kernel at
most the grid, padding such that the output grid is ``n / s``), ``nn.ReLU`` / ``F.relu`` /
``nn.Identity`` after a convolution, then optionally global average pooling
(``nn.AdaptiveAvgPool{1,2}d(1)``, ``x.mean(spatial dims)``), ``nn.Flatten`` and one final
``nn.Linear``. Anything else is an :class:`~cbn.numerics.inputs.InputError` naming the layer.

The conversion (derived here, tested pixel by pixel against the module's forward pass)
-------------------------------------------------------------------------------------
A framework convolution pads the input circularly with ``P`` pixels on the left (per axis) and
computes a cross-correlation with stride ``s``:
``y(i) = b + sum_{q=0}^{k-1} w(q) x((s i + q - P) mod n)``. The left padding ``P`` is the
integer ``padding`` itself, and for ``padding='same'`` (stride 1 only) torch pads
``P = (k - 1) // 2`` on the left and ``k - 1 - P`` on the right (odd ``k``: ``(k-1)/2`` both
sides; even ``k``: one more on the right). The stride-1 output is a plain circular convolution
``(W * x)(j) = sum_r W(r) x(j - r)`` with ``W(r) = w((P - r) mod n)`` (zero where
``(P - r) mod n >= k``): the kernel zero-padded to the grid (Sedghi, Gupta & Long 2019),
**flipped** (correlation vs convolution) and **circularly shifted by P**. The strided layer is
that convolution followed by ``S_s x(i) = x(s i)``. The map ``r -> (P - r) mod n`` is an
involution, so the same index map exports a full-size toolkit filter back to a torch kernel.
Its multiplier is ``W^(m) = e^{-2 pi i m P / n} conj(w_pad^(m))``: singular values, ranks and
costs are those of the zero-padded kernel's DFT; pixel values need the flip and the shift.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import fx, nn

from cbn.numerics.fourier import Convention, check_convention, scale_factor
from cbn.numerics.imported import ConvLayer, ImportedCNN, LinearHead
from cbn.numerics.inputs import InputError

RELU_FUNCTIONS = (F.relu, torch.relu)
POOL_MODULES = (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)
POOL_FUNCTIONS = (F.adaptive_avg_pool1d, F.adaptive_avg_pool2d)


def flip_shift(array: np.ndarray, left: Sequence[int], grid: Sequence[int]) -> np.ndarray:
    """``out(r) = array((P - r) mod n)`` on the trailing axes (zero-padded to ``grid`` first).

    Parameters
    ----------
    array : ``(c_out, c_in, *kernel)`` with ``kernel <= grid`` per axis
    left : left padding ``P`` per axis
    grid : ``n`` per axis

    Returns
    -------
    ``(c_out, c_in, *grid)``: a torch kernel -> the toolkit's plain full-size filter, or (the
    map is an involution) a full-size filter -> the torch kernel of size ``grid``.
    """
    array = np.asarray(array, dtype=np.float64)
    out = np.zeros(array.shape[:2] + tuple(grid))
    index = [(p - np.arange(k)) % n for p, k, n in zip(left, array.shape[2:], grid)]
    out[(slice(None), slice(None)) + np.ix_(*index)] = array  # distinct indices: k <= n
    return out


def _tuple(value, nsp: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (int(value),) * nsp


def convert_conv(conv: nn.Module, name: str, grid: tuple[int, ...]) -> ConvLayer:
    """One ``nn.Conv1d``/``nn.Conv2d`` on ``grid`` as a toolkit layer (activation 'identity')."""
    nsp = len(grid)
    kind = type(conv).__name__
    if conv.weight.ndim - 2 != nsp:
        raise InputError(f"layer {name!r} is {kind} but the grid {_grid_text(grid)} is "
                         f"{nsp}-D: give --grid with {conv.weight.ndim - 2} size(s)")
    if any(d != 1 for d in _tuple(conv.dilation, nsp)):
        raise InputError(f"layer {name!r} ({kind}) has dilation {conv.dilation}: only "
                         "dilation 1 is supported")
    if conv.groups != 1:
        raise InputError(f"layer {name!r} ({kind}) has groups={conv.groups}: only groups=1 "
                         "is supported")
    kernel = _tuple(conv.kernel_size, nsp)
    strides = set(_tuple(conv.stride, nsp))
    if len(strides) != 1:
        raise InputError(f"layer {name!r} ({kind}) has stride {conv.stride}: give the same "
                         "stride on every axis")
    stride = strides.pop()
    if isinstance(conv.padding, str):
        if conv.padding == "same":
            left = tuple((k - 1) // 2 for k in kernel)
            right = tuple(k - 1 - p for k, p in zip(kernel, left))
        else:  # 'valid'
            left = right = (0,) * nsp
    else:
        left = right = _tuple(conv.padding, nsp)
    if any(left + right) and conv.padding_mode != "circular":
        raise InputError(f"layer {name!r} ({kind}) has padding_mode={conv.padding_mode!r}: "
                         "use padding_mode='circular' (a circular CNN)")
    if any(k > n for k, n in zip(kernel, grid)):
        raise InputError(f"layer {name!r} ({kind}): kernel {kernel} is larger than its input "
                         f"grid {_grid_text(grid)}; check --grid")
    out = tuple((n + p + q - k) // stride + 1 for n, p, q, k in zip(grid, left, right, kernel))
    if any(n % stride for n in grid) or out != tuple(n // stride for n in grid):
        raise InputError(
            f"layer {name!r} ({kind}, kernel {kernel}, padding {conv.padding}, stride {stride}) "
            f"maps the grid {_grid_text(grid)} to {_grid_text(out)}, not to the grid / stride: "
            "use padding (k-1)//2 for odd k or padding='same' (check --grid)")
    weight = conv.weight.detach().to("cpu", torch.float64).numpy()
    bias = None if conv.bias is None else conv.bias.detach().to("cpu", torch.float64).numpy()
    return ConvLayer(flip_shift(weight, left, grid), bias, stride, "identity", name, kernel)


def _grid_text(grid: Sequence[int]) -> str:
    return "x".join(str(n) for n in grid)


def _ops(model: nn.Module) -> list[tuple[str, object, fx.Node]]:
    """The traced chain as (name, module or function/method name, node)."""
    try:
        graph = fx.symbolic_trace(model).graph
    except Exception as exc:  # fx raises several types on untraceable forwards
        raise InputError(f"cannot trace the model's forward with torch.fx "
                         f"({type(exc).__name__}: {str(exc).splitlines()[0]}); give an "
                         "nn.Sequential of supported layers") from None
    modules = dict(model.named_modules())
    ops, prev = [], None
    for node in graph.nodes:
        if node.op == "placeholder":
            if prev is not None:
                raise InputError("the model's forward takes more than one input")
            prev = node
            continue
        if node.op == "output":
            break
        if node.op == "get_attr":
            raise InputError(f"the model's forward uses the tensor {node.target!r} directly: "
                             "use nn.Conv/nn.Linear modules")
        args = [a for a in node.args if isinstance(a, fx.Node)]
        args += [a for a in node.kwargs.values() if isinstance(a, fx.Node)]
        if args != [prev] or len(prev.users) != 1:
            raise InputError(f"the model is not a chain of layers at {node.name!r} (branches "
                             "or skip connections are not supported)")
        what = modules[node.target] if node.op == "call_module" else node.target
        ops.append((str(node.target) if node.op == "call_module" else node.name, what, node))
        prev = node
    return ops


def _spatial_dims(node: fx.Node, nsp: int) -> bool:
    """True if a ``mean`` node averages exactly the spatial axes."""
    dims = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
    dims = [dims] if isinstance(dims, int) else list(dims or [])
    return sorted(d % (2 + nsp) for d in dims) == list(range(2, 2 + nsp))


def _pool_size(node: fx.Node, nsp: int) -> tuple[int, ...]:
    size = node.args[1] if len(node.args) > 1 else node.kwargs.get("output_size")
    return _tuple(size, nsp)


def _flatten_ok(node: fx.Node, what) -> bool:
    if isinstance(what, nn.Flatten):
        return what.start_dim == 1 and what.end_dim == -1
    start = node.args[1] if len(node.args) > 1 else node.kwargs.get("start_dim", 0)
    return start == 1


def import_model(model: nn.Module, grid: Sequence[int]) -> ImportedCNN:
    """Convert a PyTorch CNN on the input grid ``grid`` to an :class:`ImportedCNN` exactly.

    Raises
    ------
    InputError
        One line naming the first unsupported layer or mismatch.
    """
    grid = tuple(int(n) for n in grid)
    nsp = len(grid)
    layers: list[ConvLayer] = []
    pooled, head = False, None
    cur, channels = grid, None
    for name, what, node in _ops(model):
        kind = type(what).__name__ if isinstance(what, nn.Module) else getattr(
            what, "__name__", str(what))
        if head is not None:
            raise InputError(f"layer {name!r} ({kind}) follows the final Linear: nothing may")
        if isinstance(what, (nn.Conv1d, nn.Conv2d)):
            if pooled:
                raise InputError(f"layer {name!r} ({kind}) follows the global pooling")
            if channels is not None and what.in_channels != channels:
                raise InputError(f"layer {name!r} takes {what.in_channels} channels but gets "
                                 f"{channels}")
            layers.append(convert_conv(what, name, cur))
            cur, channels = layers[-1].grid_out, what.out_channels
        elif isinstance(what, nn.ReLU) or what in RELU_FUNCTIONS or what == "relu":
            if not layers or pooled:
                raise InputError(f"ReLU {name!r} must follow a convolution")
            last = layers[-1]
            layers[-1] = ConvLayer(last.filter, last.bias, last.stride, "relu", last.name,
                                   last.kernel)
        elif isinstance(what, nn.Identity):
            continue
        elif (isinstance(what, POOL_MODULES) and _tuple(what.output_size, nsp) == (1,) * nsp
              or what in POOL_FUNCTIONS and _pool_size(node, nsp) == (1,) * nsp
              or what in ("mean", torch.mean) and _spatial_dims(node, nsp)):
            if not layers or pooled:
                raise InputError(f"global average pooling {name!r} must follow a convolution")
            pooled = True
        elif (isinstance(what, nn.Flatten) or what in (torch.flatten, "flatten")) \
                and _flatten_ok(node, what):
            if not pooled:
                raise InputError(f"flatten {name!r} before global average pooling: a linear "
                                 "layer on all pixels is not a circular CNN layer")
        elif isinstance(what, nn.Linear):
            if not pooled:
                raise InputError(f"Linear {name!r} must follow global average pooling")
            if what.in_features != channels:
                raise InputError(f"Linear {name!r} takes {what.in_features} features but the "
                                 f"pooled convolutions give {channels}")
            b = None if what.bias is None else what.bias.detach().to("cpu", torch.float64).numpy()
            head = LinearHead(what.weight.detach().to("cpu", torch.float64).numpy(), b, name)
        else:
            raise InputError(f"unsupported layer {name!r} ({kind}): inspect reads Conv1d/Conv2d "
                             "(circular), ReLU, Identity, global average pooling, Flatten and "
                             "a final Linear")
    if not layers:
        raise InputError("the model has no Conv1d/Conv2d layer")
    return ImportedCNN(tuple(layers), grid, pooled, head)


#: Largest relative deviation :func:`check_conversion` accepts: the converted network and the
#: module compute the same sums in float64, the FFT path adds round-off ~1e-15 * log(d) per
#: layer relative to the activations' size, so 1e-9 leaves six orders for deep networks and
#: still catches any wrong pixel (an error there is O(1) relative).
CONVERSION_RTOL = 1e-9


def check_conversion(model: nn.Module, net: ImportedCNN, X: np.ndarray) -> float:
    """Run the module (a float64 copy) and the converted network on ``X``; return the largest
    deviation relative to the output's max. Raises :class:`InputError` above
    :data:`CONVERSION_RTOL` or when the module fails on inputs of the grid."""
    from cbn.numerics.imported import forward

    double = copy.deepcopy(model).to("cpu", torch.float64).eval()
    try:
        with torch.no_grad():
            ref = double(torch.as_tensor(X, dtype=torch.float64)).numpy()
    except Exception as exc:  # the user's module may raise anything on a wrong grid
        raise InputError(f"the model fails on inputs of shape {tuple(X.shape)} "
                         f"({type(exc).__name__}: {str(exc).splitlines()[0]}); check --grid"
                         ) from None
    out = forward(net, X)[1]
    if ref.shape != out.shape:
        raise InputError(f"the model's output has shape {ref.shape}, the converted network's "
                         f"{out.shape}: the forward does something inspect does not read")
    dev = float(np.max(np.abs(ref - out)) / max(float(np.max(np.abs(ref))), 1e-300))
    if dev > CONVERSION_RTOL:
        raise InputError(f"the converted network differs from the model by {dev:.1e} "
                         "(relative): the forward does something inspect does not read")
    return dev


def export_network(filters: Sequence[np.ndarray], biases: Sequence[np.ndarray] | None,
                   activation: str = "relu", convention: Convention = "scaled") -> nn.Sequential:
    """The toolkit network ``(filters, biases)`` as plain torch modules (float64).

    Every layer becomes ``nn.Conv{1,2}d`` with a full-size kernel, ``padding='same'``,
    ``padding_mode='circular'`` and the kernel :func:`flip_shift` of the filter (times
    ``d^{-1/2}`` in the scaled convention); ``activation`` ('relu' or 'identity') follows every
    layer but the last, as in :class:`cbn.numerics.network.CircularCNN`.
    """
    check_convention(convention)
    biases = [None] * len(filters) if biases is None else list(biases)
    mods: list[nn.Module] = []
    for i, (w, b) in enumerate(zip(filters, biases)):
        grid = tuple(np.asarray(w).shape[2:])
        conv_cls = nn.Conv1d if len(grid) == 1 else nn.Conv2d
        conv = conv_cls(w.shape[1], w.shape[0], grid, padding="same", padding_mode="circular",
                        bias=b is not None, dtype=torch.float64)
        left = tuple((n - 1) // 2 for n in grid)
        kernel = flip_shift(np.asarray(w) * scale_factor(grid, convention), left, grid)
        with torch.no_grad():
            conv.weight.copy_(torch.as_tensor(kernel))
            if b is not None:
                conv.bias.copy_(torch.as_tensor(np.asarray(b, dtype=np.float64)))
        mods.append(conv)
        if i < len(filters) - 1 and activation == "relu":
            mods.append(nn.ReLU())
    return nn.Sequential(*mods)

