"""The network shape a search fits, and the record of one search."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from cbn.numerics.inputs import InputError
from cbn.numerics.network import CircularCNN
from cbn.numerics.search.status import Status
from cbn.numerics.weights import Head, Network


@dataclass(frozen=True)
class Architecture:
    """Shape of the fitted network; its input and output channels come from the data.

    Attributes
    ----------
    depth : number of convolution layers ``L >= 1``
    widths : hidden widths ``c_1 .. c_{L-1}`` (``L - 1`` of them, each >= 1)
    activation : ``"relu"`` or ``"identity"`` (a linear CNN)
    convention : ``"scaled"`` or ``"plain"`` (paper_notes/theory.md section 1)
    bias : whether the network has biases (per channel, constant over pixels)
    head_classes : None (the last layer is a convolution, targets ``(N, c_out, *spatial)``) or
        ``K``: the last of the ``depth`` layers is a global-average-pooling + fully-connected
        head ``(K, c_{L-1})`` (:class:`cbn.numerics.network.CircularCNN`), so the ``depth - 1``
        convolutions end at the last hidden width and targets are labels ``(N,)`` in
        ``0..K-1`` or real ``(N, K)`` arrays (one-hot: :func:`one_hot`); needs ``depth >= 2``
    """

    depth: int
    widths: tuple[int, ...] = ()
    activation: str = "relu"
    convention: str = "scaled"
    bias: bool = True
    head_classes: int | None = None

    def __post_init__(self) -> None:
        if int(self.depth) != self.depth or self.depth < 1:
            raise InputError(f"depth must be an integer >= 1, got {self.depth}")
        widths = tuple(int(w) for w in self.widths)
        if len(widths) != self.depth - 1:
            raise InputError(f"depth {self.depth} needs {self.depth - 1} hidden widths, got "
                             f"{len(widths)}")
        if widths and min(widths) < 1:
            raise InputError(f"hidden widths must be >= 1, got {list(widths)}")
        object.__setattr__(self, "depth", int(self.depth))
        object.__setattr__(self, "widths", widths)
        if self.head_classes is not None:
            if int(self.head_classes) != self.head_classes or self.head_classes < 1:
                raise InputError(f"head_classes must be an integer >= 1 or None, got "
                                 f"{self.head_classes}")
            if self.depth < 2:
                raise InputError("a pooling head needs depth >= 2 (one convolution + the head)")
            object.__setattr__(self, "head_classes", int(self.head_classes))

    @classmethod
    def uniform(cls, depth: int, width: int, **kw) -> Architecture:
        """``depth`` layers with every hidden width ``width``."""
        return cls(depth, (width,) * (depth - 1), **kw)

    def channels(self, c_in: int, c_out: int) -> list[int]:
        """Channels of the convolution stack: ``[c_in, *widths, c_out]``, or ``[c_in, *widths]``
        with a head (``c_out`` is then the number of classes, read by the head)."""
        if self.head_classes is not None:
            return [c_in, *self.widths]
        return [c_in, *self.widths, c_out]


@dataclass
class MinNormResult:
    """Record of one search. ``norm_sq`` is an UPPER bound on R (paper_notes/theory.md section 7).

    Attributes
    ----------
    norm_sq : ``||theta||^2`` of the returned network (biases included iff ``include_bias``)
    residual_max_abs : ``max |f_theta(X) - Y|``
    residual_rel : ``||f_theta(X) - Y||_F / ||Y||_F``
    loss : ``(1/N) sum_n ||f_theta(x_n) - y_n||^2``
    iterations : L-BFGS iterations (``min_norm_fit``) or gradient steps (``ridge_fit``) of the
        returned run
    wall_time : seconds for the whole call (all restarts)
    device : where it ran
    status : which stopping rule ended the returned run; ``message`` says it in words for
        people (the record's ``stop_reason``)
    restored : whether Gauss-Newton restoration replaced the network the augmented Lagrangian
        stopped at (the run then fits the data it reports but need not be a KKT point)
    filters, biases : the convolutions in the layout of :mod:`cbn.numerics.fourier`
    head_weight, head_bias : the pooling head ``(K, c_{L-1})`` and ``(K,)`` (None without a
        head, or without biases); counted in ``norm_sq``
    settings : the settings the run used (resolved) and its diagnostics (history, phases)
    restarts : one summary per run of the search (seed, norm, residual, converged, ...)
    """

    norm_sq: float
    residual_max_abs: float
    residual_rel: float
    loss: float
    iterations: int
    wall_time: float
    device: str
    status: Status
    message: str
    filters: list[np.ndarray]
    biases: list[np.ndarray]
    restored: bool = False
    bound: str = "upper"
    method: str = ""
    depth: int = 0
    widths: list[int] = field(default_factory=list)
    activation: str = "relu"
    convention: str = "scaled"
    bias: bool = True
    include_bias: bool = True
    seed: int = 0
    dtype: str = "float64"
    settings: dict = field(default_factory=dict)
    restarts: list[dict] = field(default_factory=list)
    head_weight: np.ndarray | None = None
    head_bias: np.ndarray | None = None

    @property
    def converged(self) -> bool:
        """Whether the stopping rule was met (``status is Status.CONVERGED``)."""
        return self.status is Status.CONVERGED

    def fits(self, rtol: float) -> bool:
        """Whether the network fits the data: ``residual_rel <= rtol``."""
        return self.residual_rel <= rtol

    def summary(self) -> dict:
        """The run in one line of ``restarts``."""
        return {"seed": self.seed, "norm_sq": self.norm_sq, "residual_rel": self.residual_rel,
                "converged": self.converged, "iterations": self.iterations,
                "wall_time": self.wall_time}

    def to_dict(self) -> dict:
        """JSON-able record without the weight arrays (``message`` as ``stop_reason``)."""
        out = asdict(self)
        del out["filters"], out["biases"], out["head_weight"], out["head_bias"]
        out["head_classes"] = None if self.head_weight is None else len(self.head_weight)
        out["stop_reason"] = out.pop("message")
        out["status"] = self.status.value
        out["converged"] = self.converged
        return out

    def to_network(
        self, dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu"
    ) -> CircularCNN:
        """The fitted network as a :class:`CircularCNN`."""
        return self.network().to_torch(dtype, device)

    def network(self) -> Network:
        """The fitted network as a :class:`cbn.numerics.weights.Network` value (head included;
        ``Network.to_arrays()`` names its arrays ``filter_<l>``, ``bias_<l>``, ``head_weight``,
        ``head_bias``)."""
        head = None if self.head_weight is None else Head(self.head_weight, self.head_bias)
        return Network(self.filters, self.biases if self.bias else None, self.activation,
                       self.convention, head)


def best_run(runs: Sequence[MinNormResult], rtol: float) -> MinNormResult:
    """The run that fits the data (``residual_rel <= rtol``) with the least norm, else the one
    of least residual (ties by norm): the one rule by which every search keeps a run."""
    fitting = [r for r in runs if r.fits(rtol)]
    if fitting:
        return min(fitting, key=lambda r: r.norm_sq)
    return min(runs, key=lambda r: (r.residual_rel, r.norm_sq))


def one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    """Labels ``(N,)`` in ``0..classes-1`` (integers, or floats with integer values) as the
    float64 one-hot array ``(N, classes)``; one-line InputError on anything else."""
    y = np.asarray(labels)
    if y.ndim != 1 or not np.all(np.isfinite(y)) or np.any(y != np.round(y)) or (
            y.size and (y.min() < 0 or y.max() >= classes)):
        raise InputError(f"labels must be an (N,) array of integers in 0..{classes - 1}; got "
                         f"shape {y.shape}" + (f", values {y.min()}..{y.max()}" if y.size and
                                               y.ndim == 1 else ""))
    return np.eye(classes)[y.astype(int)]


def check_data(X: np.ndarray, Y: np.ndarray,
               head_classes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``X`` ``(N, c_in, *spatial)`` and ``Y`` ``(N, c_out, *spatial)`` as float64, checked.

    With ``head_classes = K`` (a pooling head), ``Y`` is labels ``(N,)`` (returned one-hot,
    :func:`one_hot`) or a real ``(N, K)`` array.
    """
    from cbn.numerics.inputs import check_real_finite

    X = check_real_finite(np.asarray(X), "X")
    if head_classes is not None:
        Y = np.asarray(Y)
        if Y.ndim == 1:
            Y = one_hot(Y, head_classes)
        Y = check_real_finite(Y, "Y")
        if X.ndim not in (3, 4) or Y.shape != (X.shape[0], head_classes) or X.shape[0] == 0:
            raise InputError(f"a {head_classes}-class head needs X (N, c_in, *spatial) with "
                             f"N >= 1 and Y labels (N,) or (N, {head_classes}); got X {X.shape}, "
                             f"Y {Y.shape}")
        return X, Y
    Y = check_real_finite(np.asarray(Y), "Y")
    if X.ndim not in (3, 4) or Y.ndim != X.ndim:
        raise InputError(
            f"X must be (N, c_in, *spatial) and Y (N, c_out, *spatial) with 1 or 2 spatial axes; "
            f"got X {X.shape}, Y {Y.shape}"
        )
    if X.shape[0] != Y.shape[0] or X.shape[2:] != Y.shape[2:] or X.shape[0] == 0:
        raise InputError(f"X {X.shape} and Y {Y.shape} need the same N >= 1 and spatial grid")
    return X, Y


def residual_stats(net: CircularCNN, Xt: torch.Tensor, Yt: torch.Tensor) -> dict:
    """``residual_max_abs``, ``residual_rel`` and ``loss`` of ``net`` on ``(Xt, Yt)``."""
    with torch.no_grad():
        r = net(Xt) - Yt
        ynorm = float(torch.linalg.vector_norm(Yt))
        return {
            "residual_max_abs": float(r.abs().max()),
            "residual_rel": float(torch.linalg.vector_norm(r)) / ynorm if ynorm > 0 else
            float(torch.linalg.vector_norm(r)),
            "loss": float(torch.sum(r * r)) / Xt.shape[0],
        }


def make_record(net: CircularCNN, Xt: torch.Tensor, Yt: torch.Tensor, include_bias: bool,
                **fields) -> MinNormResult:
    """The record of ``net`` on ``(Xt, Yt)``; ``fields`` fill the rest."""
    filters, biases = net.to_numpy()
    head = Network.from_torch(net).head
    with torch.no_grad():
        norm = float(net.parameter_norm_sq(include_bias))
    return MinNormResult(norm_sq=norm, filters=filters, biases=biases, include_bias=include_bias,
                         head_weight=None if head is None else head.weight,
                         head_bias=None if head is None else head.bias,
                         activation=net.activation, convention=net.convention, bias=net.has_bias,
                         **residual_stats(net, Xt, Yt), **fields)
