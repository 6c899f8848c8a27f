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
Either failure (a norm below :data:`COLLAPSE_RTOL` of the start's, or a path that ends with
``||f(X) - Y|| / ||Y|| >`` :data:`FIT_RTOL`) restarts the path from the same start with
``path_lam_start`` divided by :data:`BACKOFF`, at most ``path_attempts`` attempts in all.

Between stages the channels the penalty has switched off are restarted small
(:mod:`cbn.numerics.search.revival`, ``settings.path_revive_rtol`` and
``path_revive_scale``): without them the path keeps the bottleneck but loses the rank it needs
to fit the samples when ``lam`` falls. The end ``lam`` is therefore small (``1e-8``): the
penalty has chosen the structure by then, and the last stages only close the fit.
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
    stage is where it collapsed); the network is the last attempt's end, whatever it fits.
    """
    start = copy.deepcopy(net.state_dict())
    with torch.no_grad():
        norm0 = float(net.parameter_norm_sq(settings.include_bias))
    y_sq = float(torch.sum(Yt * Yt)) or 1.0
    y_norm = float(torch.linalg.norm(Yt)) or 1.0
    stages: list[PathStage] = []
    lam_start = settings.path_lam_start
    revive = settings.path_revive_rtol > 0 and net.head is None
    for attempt in range(settings.path_attempts):
        net.load_state_dict(start)
        generator = torch.Generator().manual_seed(int(seed))
        lams = np.geomspace(lam_start, min(settings.path_lam_end, lam_start),
                            settings.path_stages)
        for k, lam in enumerate(lams):
            revived = revive_dead_channels(net, generator, settings.path_revive_rtol,
                                           settings.path_revive_scale) if revive and k else 0
            iters = ridge_stage(net, Xt, Yt, y_sq, float(lam), settings.path_stage_iter,
                                settings.include_bias, settings.history_size)
            with torch.no_grad():
                norm = float(net.parameter_norm_sq(settings.include_bias))
                res = float(torch.linalg.norm(net(Xt) - Yt) / y_norm)
            stages.append(PathStage(float(lam), res, norm, iters, attempt, revived))
            failed = not norm > COLLAPSE_RTOL * norm0
            if failed:
                break
        if not (failed or stages[-1].residual_rel > FIT_RTOL):
            break
        lam_start /= BACKOFF
    return stages
