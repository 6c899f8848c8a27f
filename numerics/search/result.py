"""The network shape a search fits, and the record of one search."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from cbn.numerics.inputs import InputError
from cbn.numerics.network import CircularCNN
from cbn.numerics.search.status import Status


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
    """

    depth: int
    widths: tuple[int, ...] = ()
    activation: str = "relu"
    convention: str = "scaled"
    bias: bool = True

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

    @classmethod
    def uniform(cls, depth: int, width: int, **kw) -> Architecture:
        """``depth`` layers with every hidden width ``width``."""
        return cls(depth, (width,) * (depth - 1), **kw)

    def channels(self, c_in: int, c_out: int) -> list[int]:
        """``[c_in, *widths, c_out]``."""
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
    filters, biases : the network in the layout of :mod:`cbn.numerics.fourier`
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
        del out["filters"], out["biases"]
        out["stop_reason"] = out.pop("message")
        out["status"] = self.status.value
        out["converged"] = self.converged
        return out

    def to_network(
        self, dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu"
    ) -> CircularCNN:
        """The fitted network as a :class:`CircularCNN`."""
        return CircularCNN.from_numpy(
            self.filters, self.biases if self.bias else None, activation=self.activation,
            convention=self.convention, dtype=dtype, device=device,
        )


def best_run(runs: Sequence[MinNormResult], rtol: float) -> MinNormResult:
    """The run that fits the data (``residual_rel <= rtol``) with the least norm, else the one
    of least residual (ties by norm): the one rule by which every search keeps a run."""
    fitting = [r for r in runs if r.fits(rtol)]
    if fitting:
        return min(fitting, key=lambda r: r.norm_sq)
    return min(runs, key=lambda r: (r.residual_rel, r.norm_sq))


def check_data(X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``X`` ``(N, c_in, *spatial)`` and ``Y`` ``(N, c_out, *spatial)`` as float64, checked."""
    from cbn.numerics.inputs import check_real_finite

    X = check_real_finite(np.asarray(X), "X")
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
    with torch.no_grad():
        norm = float(net.parameter_norm_sq(include_bias))
    return MinNormResult(norm_sq=norm, filters=filters, biases=biases, include_bias=include_bias,
                         activation=net.activation, convention=net.convention, bias=net.has_bias,
                         **residual_stats(net, Xt, Yt), **fields)
