"""Evidence a sweep's summary weighs its trained norms against, each with its bound label.

Labels (paper_notes/theory.md section 7): a trained network's norm is an UPPER bound on
``R(f; Omega, L)``; closed-form costs of linear targets are EXACT; ranks of constant-input
Jacobians of the target give a LOWER bound on ``R0`` for the target prescribed on an open set
around those inputs; a known factorisation gives an UPPER bound on ``R0`` (and its network an
UPPER bound on ``R(f; L)``). Also here: the per-layer near-one counts of the CBN picture.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cbn.numerics.bounds import LOOSE_RANK_RTOL, jacobian_blocks_fd
from cbn.numerics.linear import ranks_per_frequency
from cbn.numerics.spectra import NEAR_ONE_SPLIT, near_one_counts, weight_spectra
from cbn.numerics.targets import Target

__all__ = ["CONSTRUCTION_HINT", "PATH_HINT", "EXACT", "FIT", "LOWER_R0", "R0_BOUND_INPUTS",
           "UPPER", "UPPER_R0", "SEED_SPREAD_RTOL", "constant_inputs", "construction_flags",
           "construction_norms", "layer_counts", "seed_spread_notes", "target_r0_lower_bound"]

UPPER = "upper bound on R(f; Omega, L): norm of a trained network that fits the data"
EXACT = "exact (closed form)"
LOWER_R0 = ("lower bound on R0: sum of ranks of the target's constant-input Jacobian blocks "
            "(valid for the target prescribed on an open set around those inputs)")
UPPER_R0 = "upper bound on R0: dimension of a known factorisation (paper_notes/theory.md section 4)"
FIT = "least-squares estimate from the best norm per depth (themselves upper bounds)"

#: Constant inputs the ``R0`` lower bound is maximised over. The rank of ``J_m`` at a constant
#: input depends on which hidden ReLUs are active there, and a bottleneck target reaches its
#: full rank only on part of the input range (on ``bottleneck_2d`` 4x4 at about half of the
#: draws, on ``bottleneck`` with two kept channels at two thirds): with 3 inputs a bound of
#: half the full rank was common. Every input costs one finite-difference Jacobian, about 0.03 s
#: on a 28x28 grid, so many are cheap; the bound stays valid for any count (it is a max over
#: points at each of which it holds).
R0_BOUND_INPUTS = 32


def constant_inputs(X: np.ndarray, count: int = 3, seed: int = 0) -> list[np.ndarray]:
    """Constant inputs (values per channel) at which Jacobian bounds are taken: the data mean
    per channel and ``count - 1`` Gaussian values scaled by the data's per-channel spread."""
    axes = (0,) + tuple(range(2, X.ndim))
    mean, std = X.mean(axis=axes), X.std(axis=axes)
    rng = np.random.default_rng(seed)
    return [mean] + [mean + std * rng.standard_normal(len(mean)) for _ in range(count - 1)]


def target_r0_lower_bound(target: Target, X: np.ndarray) -> dict | None:
    """Max over ``R0_BOUND_INPUTS`` :func:`constant_inputs` of ``sum_m rank J_m`` of the target
    (finite differences).

    None for targets that are not translation-equivariant with per-pixel outputs.
    """
    if target.symmetry != "equivariant" or getattr(target, "pooled", False):
        return None
    best = None
    for value in constant_inputs(X, count=R0_BOUND_INPUTS):
        blocks, off = jacobian_blocks_fd(target.evaluate, value, target.spatial)
        ranks = ranks_per_frequency(blocks, LOOSE_RANK_RTOL)
        entry = {"value": value.tolist(), "rank_sum": int(ranks.sum()),
                 "ranks": ranks.tolist(), "off_diagonal": off, "rank_rtol": LOOSE_RANK_RTOL,
                 "bound": LOWER_R0}
        if best is None or entry["rank_sum"] > best["rank_sum"]:
            best = entry
    return best


def layer_counts(filters, convention: str) -> list[dict]:
    """Per layer: per-frequency count of singular values above the split, and its extremes."""
    out = []
    for l, s in enumerate(weight_spectra(filters, convention)):
        c = near_one_counts(s, NEAR_ONE_SPLIT)
        out.append({"layer": l + 1, "counts": c["counts"].tolist(),
                    "total": int(c["counts"].sum()), "max_dev_kept": c["max_dev_kept"],
                    "max_dropped": c["max_dropped"]})
    return out


#: What to try when a sweep on a target with an explicit construction is flagged (measured on
#: the built-in ``bottleneck`` target, README "ReLU targets").
CONSTRUCTION_HINT = ("this target has an explicit construction: compare with --init "
                     "construction --start-noise 0.03 --max-iter 60000 --inner-iter 2000 (the "
                     "target's own network, polished; on the built-in bottleneck target the "
                     "default path start ended below it at every depth, README, Starts), and "
                     "keep several seeds")

PATH_HINT = ("a ReLU sweep is flagged: --init path (the default of a ReLU fit: a weight-decay "
             "path from random starts, reading only the samples, plus the padded shallower "
             "run) found the bottleneck of relu_lowpass and of the bottleneck teacher where the "
             "ladder kept every frequency (README, Starts)")


def construction_flags(depths: Sequence[int], norms: Sequence[float],
                       construction: Sequence[float | None]) -> list[str]:
    """Flags for depths whose best trained norm is above the explicit construction's.

    Both are UPPER bounds on ``R(f; L)``; a trained network costlier than a known network for
    the same function is not at the minimum (an optimisation failure, not a finding).
    """
    return [f"depth {L}: best trained norm {n:.6g} is above the explicit construction's "
            f"{c:.6g}: not at the minimum (optimisation failure)"
            for L, n, c in zip(depths, norms, construction) if c is not None and n > c]


#: Relative spread of the fitting seeds' norms at one depth above which a note says the seeds
#: end in different local minima: 1% is the precision at which ReLU norms are compared with a
#: construction (README, Starts). Linear searches reach the closed form to 1e-4 or better, far
#: inside it.
SEED_SPREAD_RTOL = 1e-2


def seed_spread_notes(depths: Sequence[int], fitting_norms: Sequence[Sequence[float]]) -> list[str]:
    """Notes for the depths where the seeds that fit the data end more than
    :data:`SEED_SPREAD_RTOL` apart (relative to the least).

    ``fitting_norms[i]`` holds the norms of depth ``depths[i]``'s runs that fit. Each norm is an
    UPPER bound on ``R(f; L)``: a spread says the searches stop in different local minima, so
    the best of them, the one the depth fit uses, may still lie above the minimum.
    """
    notes = []
    for L, norms in zip(depths, fitting_norms):
        if len(norms) < 2:
            continue
        low, high = min(norms), max(norms)
        if high > (1 + SEED_SPREAD_RTOL) * low:
            notes.append(f"depth {L}: the {len(norms)} seeds that fit end {high / low - 1:.1%} "
                         f"apart ({low:.6g} .. {high:.6g}): the search stops in different local "
                         f"minima here, so the best norm is an upper bound that more seeds may "
                         f"lower")
    return notes


def construction_norms(target: Target, depths: Sequence[int], width: int,
                       X: np.ndarray) -> list[float | None] | None:
    """Per depth the norm of the target's explicit construction (an UPPER bound on
    ``R(f; L)``), None where its depth or width rules it out; None when it has none at all."""
    build = getattr(target, "construction", None)  # duck-typed user targets may lack it
    norms, found = [], False
    for L in depths:
        try:
            net = None if build is None else build(L, width, X)
        except ValueError:  # a construction exists, but not at this depth or width
            norms.append(None)
            found = True
            continue
        found |= net is not None
        norms.append(None if net is None else net.norm_sq())
    return norms if found else None


