"""The weight-decay path: a start that finds a target's bottleneck without being told it.

A minimal-norm search that first fits the data (phase 1 of
:func:`cbn.numerics.search.augmented_lagrangian.augmented_lagrangian`) lands on an interpolating
network that carries every frequency, and the norm minimisation after it only moves locally:
the frequencies stay. The path instead minimises the ridge objective

    ``||f_theta(X) - Y||_F^2 / ||Y||_F^2 + lam ||theta||^2``

by L-BFGS from a seeded random network, for ``lam`` decreasing geometrically from
``settings.path_lam_start`` to ``settings.path_lam_end``. While ``lam`` is large the penalty
decides which structure the network keeps: at depth ``L`` a singular value ``s`` of a
frequency block costs about ``L s^{2/L}`` (paper_notes/theory.md section 2), so the weak
directions a representation does not need are driven to zero, first in the middle layers;
as ``lam`` falls the fit takes over. The end of the path fits the data only approximately;
:func:`cbn.numerics.search.min_norm_fit` then makes it exact and minimises the norm from there.

A ``lam`` above the scale ``1 / ||theta||^2`` of a fitting network makes the zero network the
minimiser, and the path collapses (every weight decays to 0, a point gradients cannot leave);
just below that scale a deep network can still shrink to a state that fits poorly and that the
smaller ``lam`` of later stages never leave (small weights in many layers: small gradients).
Which start is right depends on the target (on the 1-D bottleneck teacher 1e-2 finds the
bottleneck and 1e-3 keeps every frequency; on the 4x4 relu_lowpass target 1e-2 collapses and
3.2e-3 ends at twice the norm of 1e-3), so the path runs ``path_attempts`` attempts from the
same start with ``path_lam_start`` divided by :data:`BACKOFF` each time, and keeps the end of
least norm among those that neither collapsed (a norm below :data:`COLLAPSE_RTOL` of the
start's) nor ended with ``||f(X) - Y|| / ||Y|| >`` :data:`FIT_RTOL` (else the end of least
residual): the least norm is what the search is after.

Between stages the channels the penalty has switched off are restarted small
(:mod:`cbn.numerics.search.revival`, ``settings.path_revive_rtol`` and
``path_revive_scale``): without them the path keeps the bottleneck but loses the rank it needs
to fit the samples when ``lam`` falls. Where the path ends farther from the data
than the augmented Lagrangian can finish from (``||f(X) - Y|| / ||Y|| > path_end_rtol``), it
goes on past ``path_lam_end`` by the same ratio per stage, down to ``path_lam_floor`` at most,
and stops at the first stage that ends close enough: the penalty has chosen the structure by
then, and every further stage only lets the norm grow (on the 4x4 relu_lowpass target a path
run on to 1e-8 ended at norm 111 against 61 at 1e-4).
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import numpy as np
import torch

from cbn.numerics.network import CircularCNN
from cbn.numerics.search.lbfgs import lbfgs
from cbn.numerics.search.revival import revive_dead_channels
from cbn.numerics.search.settings import SearchSettings

#: A path has collapsed when its norm falls below this fraction of the start's norm.
COLLAPSE_RTOL = 1e-3
#: A path that ends above this relative residual has failed: the augmented Lagrangian's first
#: phase does not recover such a start (measured on the 1-D relu_lowpass target at depths 10
#: and 12: ends at 0.11 and 0.65 never fitted; ends below 5e-3 did there, while on the 1-D
#: bottleneck teacher ends at 2e-3 to 1e-2 did not, and ends below 1e-3 did).
FIT_RTOL = 1e-2
#: Factor by which ``path_lam_start`` is divided after a failed attempt.
BACKOFF = 10.0 ** 0.5


@dataclass(frozen=True)
class PathStage:
    """One stage of the path: its ``lam``, the channels revived before it, and where it ended
    (relative residual ``||f(X) - Y|| / ||Y||``, ``||theta||^2``, L-BFGS iterations, attempt
    number)."""

    lam: float
    residual_rel: float
    norm_sq: float
    iterations: int
    attempt: int
    revived: int = 0

    def to_dict(self) -> dict:
        """The stage as a JSON-able dict (kept in the run's record)."""
        return asdict(self)


def ridge_stage(net: CircularCNN, Xt: torch.Tensor, Yt: torch.Tensor, y_sq: float, lam: float,
                max_iter: int, include_bias: bool, history_size: int) -> int:
    """Minimise ``||f(X) - Y||^2 / y_sq + lam ||theta||^2`` in place by ``max_iter`` L-BFGS
    iterations (``y_sq = ||Y||^2``, 1 for a zero ``Y``); returns the iterations."""
    params = list(net.parameters())

    def closure_of(opt):
        def closure():
            opt.zero_grad()
            r = net(Xt) - Yt
            obj = torch.sum(r * r) / y_sq + lam * net.parameter_norm_sq(include_bias)
            obj.backward()
            return obj
        return closure

    iters, _ = lbfgs(params, closure_of, max_iter, 0.0, history_size)
    return iters


def _lams(lam_start: float, settings: SearchSettings):
    """The path's values of ``lam``: ``path_stages`` of them from ``lam_start`` down to
    ``path_lam_end`` (geometric), then on by the same ratio down to ``path_lam_floor``."""
    first = np.geomspace(lam_start, min(settings.path_lam_end, lam_start), settings.path_stages)
    yield from (float(lam) for lam in first)
    ratio = float(first[-1] / first[-2]) if len(first) > 1 else 1.0
    lam = float(first[-1])
    while ratio < 1.0 and lam * ratio >= settings.path_lam_floor * (1 - 1e-12):
        lam *= ratio
        yield lam


def ridge_path(net: CircularCNN, Xt: torch.Tensor, Yt: torch.Tensor,
               settings: SearchSettings, seed: int = 0) -> list[PathStage]:
    """Run the weight-decay path on ``net`` in place and return its stages.

    Parameters
    ----------
    net : the start (a seeded random network); left at the end of the path
    Xt, Yt : the samples ``(N, c_in, *spatial)`` and values ``(N, c_out, *spatial)`` (or
        one-hot rows ``(N, K)`` for a network with a head), on ``net``'s device and dtype
    settings : ``path_lam_start``, ``path_lam_end``, ``path_stages``, ``path_stage_iter``,
        ``path_attempts``, ``path_revive_rtol``, ``path_revive_scale``, ``include_bias`` and a
        resolved ``history_size``
    seed : seeds the revived channels' filters (every attempt draws the same sequence)

    Returns
    -------
    list of :class:`PathStage`, every attempt's stages in order (a collapsed attempt's last
    stage is where it collapsed); the network is left at the kept attempt's end (the module
    docstring says which).
    """
    start = copy.deepcopy(net.state_dict())
    with torch.no_grad():
        norm0 = float(net.parameter_norm_sq(settings.include_bias))
    y_sq = float(torch.sum(Yt * Yt)) or 1.0
    y_norm = float(torch.linalg.norm(Yt)) or 1.0
    stages: list[PathStage] = []
    lam_start = settings.path_lam_start
    revive = settings.path_revive_rtol > 0 and net.head is None
    ends: list[tuple[tuple[bool, float], dict]] = []  # (sort key, state) per attempt
    for attempt in range(settings.path_attempts):
        net.load_state_dict(start)
        generator = torch.Generator().manual_seed(int(seed))
        for k, lam in enumerate(_lams(lam_start, settings)):
            if k >= settings.path_stages and stages[-1].residual_rel <= settings.path_end_rtol:
                break  # close enough for the augmented Lagrangian: go no further
            revived = revive_dead_channels(net, generator, settings.path_revive_rtol,
                                           settings.path_revive_scale) if revive and k else 0
            iters = ridge_stage(net, Xt, Yt, y_sq, float(lam), settings.path_stage_iter,
                                settings.include_bias, settings.history_size)
            with torch.no_grad():
                norm = float(net.parameter_norm_sq(settings.include_bias))
                res = float(torch.linalg.norm(net(Xt) - Yt) / y_norm)
            stages.append(PathStage(float(lam), res, norm, iters, attempt, revived))
            collapsed = not norm > COLLAPSE_RTOL * norm0
            if collapsed:
                break
        end = stages[-1]
        if not collapsed:
            fits = end.residual_rel <= FIT_RTOL
            key = (not fits, end.norm_sq if fits else end.residual_rel)
            ends.append((key, copy.deepcopy(net.state_dict())))
        lam_start /= BACKOFF
    if ends:
        net.load_state_dict(min(ends, key=lambda e: e[0])[1])
    return stages
