"""Kept frequencies along a rising weight-decay path, from a seeded random start.

The ridge objective of a task that does not interpolate (an autoencoder at finite ``lam``) is

    ``||f_theta(X) - Y||_F^2 / ||Y||_F^2 + lam ||theta||^2``

and its minimiser gives up every direction whose share of the fit is worth less than what it
costs in norm. Gradient descent from a random start of full-size filters reaches that
minimiser slowly (the start carries every frequency in every channel pair, and the stable rate
leaves a weight-decay time ``2 lam lr steps`` far below 1 in a CPU budget), and L-BFGS at the
final ``lam`` from the random start falls into the zero network (at depth ``L`` the function
is ``O(theta^L)`` near 0 while the penalty is ``O(theta^2)``, so a large ``lam`` makes 0 a
minimum a large-norm start slides into; measured with the same L-BFGS budget as a whole path:
at ``lam = 1e-2`` the shape-times-pattern and MNIST digit-0 nets of the tasks figure end at
0, where the path keeps 5 frequencies; at ``1e-3`` the direct MNIST run ends at residual
0.40 with every frequency, the path at 0.18 with 42 singular values).

The rising path avoids both: L-BFGS at a small ``lam`` first fits the data, then ``lam`` rises
geometrically, each stage started from the previous one's end, so the network follows the
non-zero branch of minimisers and gives up its frequencies one by one, the least useful first.
Every stage's spectra are kept: the kept set as a function of ``lam`` is the measurement.

Kept counts: per layer and frequency, the number of multiplier singular values above ``rel``
times the layer's largest and above :data:`ZERO_SV` (a layer the penalty has driven to zero
keeps nothing, whatever its round-off spectrum looks like relative to its own maximum). At a
ridge minimiser the dropped directions are driven towards 0 and the kept ones sit near the
layer's scale; each stage records the smallest kept and the largest dropped value, so the
margin of the split is visible.

Dead starts: a seeded random ReLU net of small width can have a hidden layer that is zero on
every sample (measured: the shape-times-pattern net of width 4, seed 2). It computes a
constant, gradients cannot revive it, and its path only shrinks it to zero. Such a start is
skipped for the next seed (up to :data:`MAX_RESEEDS` times); the seeds skipped are returned.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from cbn.numerics.inputs import InputError
from cbn.numerics.search.fit import make_net
from cbn.numerics.search.lbfgs import intra_op_threads, is_small
from cbn.numerics.search.path import ridge_stage
from cbn.numerics.search.result import Architecture, check_data
from cbn.numerics.search.settings import SearchSettings
from cbn.numerics.spectra import weight_spectra

#: Singular values at or below this are never kept: in the scaled convention a direction the
#: net uses has per-layer singular values of order ``|A|^(1/L)`` (~0.1-10 here), and one the
#: penalty has removed decays towards 0 (below 1e-6 after a collapse).
ZERO_SV = 1e-6
#: Largest number of dead starts skipped (module docstring).
MAX_RESEEDS = 10


@dataclass(frozen=True)
class RisingSettings:
    """Settings of :func:`rising_ridge_path` (validated on construction).

    Attributes
    ----------
    lam_min, lam_max : first and last ``lam`` (``0 < lam_min <= lam_max``), in units of the
        normalised loss ``||f(X) - Y||^2 / ||Y||^2``: a network whose layers have singular
        values ~1 on ``k`` directions has ``||theta||^2 ~ L k``, so ``lam ~ 1 / (L k)`` is the
        scale at which ``k`` directions start to be given up
    stages : number of ``lam`` values, geometric from ``lam_min`` to ``lam_max`` (>= 1)
    stage_iter : L-BFGS iterations per stage (>= 1)
    history_size : L-BFGS memory
    rel : kept split, a fraction of the layer's largest singular value (0 < rel < 1)
    include_bias : biases count in the penalty and the norm
    progress : a bar over the stages on stderr
    """

    lam_min: float = 1e-5
    lam_max: float = 1e-2
    stages: int = 7
    stage_iter: int = 300
    history_size: int = 20
    rel: float = 0.1
    include_bias: bool = True
    progress: bool = False

    def __post_init__(self) -> None:
        if not (0 < self.lam_min <= self.lam_max and math.isfinite(self.lam_max)):
            raise InputError(f"need 0 < lam_min <= lam_max < inf, got {self.lam_min}, "
                             f"{self.lam_max}")
        if self.stages < 1 or self.stage_iter < 1 or self.history_size < 1:
            raise InputError(f"stages, stage_iter and history_size must be >= 1, got "
                             f"{self.stages}, {self.stage_iter}, {self.history_size}")
        if not 0 < self.rel < 1:
            raise InputError(f"rel must be in (0, 1), got {self.rel}")

    def lams(self) -> np.ndarray:
        """The path's ``lam`` values, shape ``(stages,)``, increasing."""
        return np.geomspace(self.lam_min, self.lam_max, self.stages)


@dataclass(frozen=True)
class KeptStage:
    """Where one stage of the path ended.

    Attributes
    ----------
    lam : the stage's ``lam``
    residual_rel : ``||f(X) - Y|| / ||Y||`` (the net does not interpolate)
    norm_sq : ``||theta||^2``, an UPPER bound on the cost of the function the net computes
    iterations : L-BFGS iterations of the stage
    counts : per layer, kept singular values per frequency, int arrays of shape ``spatial``
    top : per layer, the largest singular value per frequency, shape ``spatial``
    smallest_kept, largest_dropped : per layer, the split's margin (NaN / 0 when empty)
    """

    lam: float
    residual_rel: float
    norm_sq: float
    iterations: int
    counts: tuple[np.ndarray, ...]
    top: tuple[np.ndarray, ...]
    smallest_kept: tuple[float, ...]
    largest_dropped: tuple[float, ...]

    def middle_layers(self) -> range:
        """0-based indices of the middle layers ``2 .. L-1`` (1-based); all layers if
        ``L <= 2``."""
        depth = len(self.counts)
        return range(1, depth - 1) if depth > 2 else range(depth)

    def to_dict(self) -> dict:
        """JSON-able summary (counts as nested lists; an empty layer's smallest kept value,
        NaN, as None)."""
        return {"lam": self.lam, "residual_rel": self.residual_rel, "norm_sq": self.norm_sq,
                "iterations": self.iterations,
                "kept_total": [int(c.sum()) for c in self.counts],
                "counts": [c.tolist() for c in self.counts],
                "smallest_kept": [None if math.isnan(v) else v for v in self.smallest_kept],
                "largest_dropped": list(self.largest_dropped)}


def read_stage(filters, lam: float, residual_rel: float, norm_sq: float, iterations: int,
               rel: float) -> KeptStage:
    """The kept counts of a network's ``filters`` (module docstring) as a :class:`KeptStage`."""
    counts, tops, small, large = [], [], [], []
    for s in weight_spectra(filters):
        kept = (s > rel * float(s.max(initial=0.0))) & (s > ZERO_SV)
        counts.append(np.count_nonzero(kept, axis=-1))
        tops.append(s[..., 0])
        small.append(float(s[kept].min()) if kept.any() else math.nan)
        large.append(float(s[~kept].max()) if (~kept).any() else 0.0)
    return KeptStage(lam, residual_rel, norm_sq, iterations, tuple(counts), tuple(tops),
                     tuple(small), tuple(large))


@dataclass(frozen=True)
class RisingPath:
    """A rising path: its stages (increasing ``lam``), the seed of its start and the dead
    starts skipped before it (module docstring)."""

    stages: tuple[KeptStage, ...]
    seed: int
    skipped_seeds: tuple[int, ...] = field(default=())


def _is_live(net, Xt: torch.Tensor) -> bool:
    """Whether every hidden layer of ``net`` is non-zero somewhere on the samples."""
    with torch.no_grad():
        return all(bool(h.abs().max() > 0) for h in net.hidden_activations(Xt))


def rising_ridge_path(X: np.ndarray, Y: np.ndarray, architecture: Architecture,
                      settings: RisingSettings, seed: int = 0) -> RisingPath:
    """Run the rising path from the first live random network seeded ``seed``, ``seed + 1``,
    ... (float64, CPU).

    Parameters
    ----------
    X : samples ``(N, c_in, *spatial)``
    Y : values ``(N, c_out, *spatial)``
    architecture : the network's shape (no pooling head)
    settings : the path (:class:`RisingSettings`)
    seed : seed of the start

    Returns
    -------
    :class:`RisingPath`, one :class:`KeptStage` per ``lam``
    """
    if architecture.head_classes is not None:
        raise InputError("the rising path reads convolution spectra: use an architecture "
                         "without a pooling head")
    X, Y = check_data(X, Y, None)
    Xt, Yt = torch.as_tensor(X), torch.as_tensor(Y)
    scheme = SearchSettings(init_scheme="gaussian")
    skipped: list[int] = []
    net = make_net(X, Y, architecture, None, seed, scheme)
    while not _is_live(net, Xt) and len(skipped) < MAX_RESEEDS:
        skipped.append(seed)
        seed += 1
        net = make_net(X, Y, architecture, None, seed, scheme)
    y_sq = float(torch.sum(Yt * Yt)) or 1.0
    small = is_small(Xt, architecture.widths, Y.shape[1], "cpu")
    with intra_op_threads(1 if small else None):
        bar = tqdm(settings.lams(), desc="rising path", file=sys.stderr,
                   disable=not settings.progress, leave=False)
        stages = [_run_stage(net, Xt, Yt, y_sq, float(lam), settings) for lam in bar]
    return RisingPath(tuple(stages), seed, tuple(skipped))


def _run_stage(net, Xt: torch.Tensor, Yt: torch.Tensor, y_sq: float, lam: float,
               settings: RisingSettings) -> KeptStage:
    """One stage of the path on ``net`` (in place) and its kept counts."""
    iters = ridge_stage(net, Xt, Yt, y_sq, lam, settings.stage_iter, settings.include_bias,
                        settings.history_size)
    with torch.no_grad():
        res = math.sqrt(float(torch.sum((net(Xt) - Yt) ** 2)) / y_sq)
        norm = float(net.parameter_norm_sq(settings.include_bias))
    return read_stage(net.to_numpy()[0], lam, res, norm, iters, settings.rel)
