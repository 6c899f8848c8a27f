"""Upper bounds already in hand, and the runs that end above them.

Every network that fits the data certifies an UPPER bound on ``R(f; Omega, L)``
(paper_notes/theory.md section 7). Two such certificates exist before a run's own result:

* the start of a warm-started run (a ladder rung's padded network, a construction), when it
  fits the data: the run minimises the norm from there, so ending above it is a failure of the
  search, not a property of the target;
* the best network of a shallower depth ``L' < L``, padded to depth ``L`` by
  :func:`cbn.numerics.starts.pad_to_depth` with the data projector (exact on the samples): its
  norm bounds the depth-``L`` cost from above.

A run whose norm is above such a bound by more than :data:`GUARD_RTOL` is retried from other
starts (:mod:`cbn.numerics.sweep`) and, when it stays above, excluded from the depth fit and
flagged with its evidence. A best norm :data:`DIVERGED_RATIO` times or more above the least
upper bound in hand at its depth (a closed form, an explicit construction, a shallower best
network padded to the depth) is reported as diverged (:func:`diverged_depths`) and never
enters a depth fit either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cbn.numerics.weights import Network

#: Relative excess over an upper bound in hand beyond which a run counts as failed. A run that
#: starts at a fitting network and ends 1e-3 above it has not minimised the norm; below that,
#: the augmented Lagrangian's final residual (<= 1e-6 relative) and the restoration's norm
#: changes (~0.1%) can move a converged run marginally above its start.
GUARD_RTOL = 1e-3


#: A best norm at least this many times an upper bound already in hand is a search that ran
#: away, not a near-minimum: an order of magnitude is far beyond every tolerance of the search
#: (its residual test, the restoration's norm changes, seed spreads of a few percent), so such
#: a run says nothing about the representation cost.
DIVERGED_RATIO = 10.0


def above(norm: float, bound: float | None) -> bool:
    """Whether ``norm`` exceeds the upper bound ``bound`` by more than :data:`GUARD_RTOL`."""
    return bound is not None and norm > bound * (1 + GUARD_RTOL)


@dataclass(frozen=True)
class PaddedBound:
    """The norm of the best depth-``source_depth`` network padded to ``depth`` (an UPPER bound
    on ``R(f; Omega, depth)``: the padded network fits the same samples)."""

    depth: int
    source_depth: int
    norm_sq: float


def padded_bounds(depths: Sequence[int], networks: Sequence[Network | None],
                  X: np.ndarray) -> list[PaddedBound | None]:
    """Per depth, the least norm over the shallower networks padded to it (None: none).

    Parameters
    ----------
    depths : increasing depths
    networks : per depth the best run's network if it fits the data (None when no run fits:
        it bounds nothing)
    X : the samples ``(N, c_in, *spatial)``; the padding projects onto their activations
    """
    from cbn.numerics.starts import pad_to_depth  # starts imports torch; guards stays light

    out: list[PaddedBound | None] = []
    for i, L in enumerate(depths):
        best = None
        for Lp, net in zip(depths[:i], networks[:i]):
            if net is None:
                continue
            try:
                deeper = pad_to_depth(net.to_torch(), L, X)
            except ValueError:  # a one-layer ReLU net has no ReLU output to pad after
                continue
            norm = Network.from_torch(deeper).norm_sq()
            if best is None or norm < best.norm_sq:
                best = PaddedBound(L, Lp, norm)
        out.append(best)
    return out


@dataclass(frozen=True)
class Divergence:
    """A depth whose best norm is :data:`DIVERGED_RATIO` times or more an upper bound in hand."""

    depth: int
    norm_sq: float
    bound: float
    source: str

    @property
    def ratio(self) -> float:
        return self.norm_sq / self.bound

    def flag(self) -> str:
        """One line for the sweep's flags: the depth, both numbers and where the bound is from."""
        return (f"depth {self.depth}: diverged: best norm {self.norm_sq:.6g} is "
                f"{self.ratio:.3g} times the upper bound {self.bound:.6g} in hand ({self.source}); "
                f"left out of the depth fit")


def diverged_depths(depths: Sequence[int], norms: Sequence[float],
                    bounds: dict[str, Sequence[float | None] | None]) -> list[Divergence]:
    """Depths whose best norm is at least :data:`DIVERGED_RATIO` times the least upper bound.

    Parameters
    ----------
    depths, norms : per depth, its best norm (a run that fits the data)
    bounds : source label -> per depth an UPPER bound on ``R(f; Omega, L)`` or None (no bound
        of that kind at that depth); a None sequence means the source has no bound at all
    """
    out = []
    for i, (L, n) in enumerate(zip(depths, norms)):
        known = [(b[i], label) for label, b in bounds.items() if b is not None and b[i] is not None
                 and b[i] > 0]
        if not known:
            continue
        bound, label = min(known)
        if n >= DIVERGED_RATIO * bound:
            out.append(Divergence(L, float(n), float(bound), label))
    return out
