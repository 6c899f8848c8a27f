"""What a depth sweep's fit shows, and the evidence when it shows a failure.

Two kinds of statements, kept apart:

* **flags**: evidence that a run is not at the minimum or does not represent the target; each
  names its depth, the bound it is compared with and by how much. A sweep with flags is an
  optimisation failure until shown otherwise.
* **notes**: what the fit cannot tell from these depths, and why: ``R0`` not resolved (with the
  deeper depths that would resolve it, computed from the closed form where there is one), and,
  with an exact closed form, the truncation bias of the fit (the series
  ``L R0 + R1 + R2/L + ...`` cut after a few terms at moderate depths) that makes ``R0_free``
  and ``R1`` differ from the exact values while every norm is exact.

With an exact closed form the norms are compared with it directly and the fitted slope is
never used as evidence (its deviation is the truncation bias). Without one, the slope is
compared with the ``R0`` bounds through its leave-one-out range (a fit of 3 depths has none and
gives no evidence).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from cbn.numerics.fitting import INTEGER_TOLERANCE, DepthFit, depths_to_resolve

#: A trained norm more than this (relative) above the exact cost is not at the minimum: linear
#: sweeps reach the closed form to 1e-9..1e-10 (README, Performance), and the project's
#: acceptance criterion for trained linear nets is 1e-4.
ABOVE_EXACT_RTOL = 1e-4

#: A norm below the exact cost by more than this (relative) does not represent the target: a
#: run that fits the data to ``residual_rel <= 1e-6`` may sit that little below it.
BELOW_EXACT_RTOL = 1e-6


@dataclass
class Diagnosis:
    """``flags`` and ``notes`` (one line each, see the module docstring) and, with an exact
    closed form, ``truncation_bias``: ``R0_free - R0``, ``R1 - R1_exact`` (when the fit gives
    an R1) and the largest relative gap between the norms and the exact costs."""

    flags: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    truncation_bias: dict | None = None


def _depth_range(depths: Sequence[int]) -> str:
    return ",".join(str(d) for d in depths)


def _resolution_note(fit: DepthFit, cost: Callable[[int], float] | None,
                     r0_exact: int | None) -> str:
    if fit.R0_interval is None:
        why = f"{len(fit.depths)} depths give no leave-one-out range (4 or more are needed)"
    else:
        lo, hi = fit.R0_interval
        why = (f"leave-one-out range of the slope [{lo:.3f}, {hi:.3f}], R0_free = "
               f"{fit.R0_free:.3f}: wider than {2 * INTEGER_TOLERANCE} or not within "
               f"{INTEGER_TOLERANCE} of an integer")
    text = f"R0 is not resolved by depths {_depth_range(fit.depths)} ({why})"
    extra = None if cost is None or r0_exact is None else depths_to_resolve(fit.depths, cost,
                                                                           r0_exact)
    if extra is not None:
        return text + (f"; adding depths {_depth_range(extra)} resolves it (fit of the closed "
                       f"form at those depths)")
    deepest = max(fit.depths)
    return text + (f"; add deeper runs (e.g. depths {2 * deepest},{4 * deepest}; no closed "
                   f"form to say which suffice)")


def diagnose(fit: DepthFit, *, exact: Sequence[float] | None = None,
             exact_terms: tuple[float, float, float] | None = None,
             cost: Callable[[int], float] | None = None,
             r0_lower_bound: float | None = None,
             r0_upper_bound: float | None = None) -> Diagnosis:
    """Flags and notes of a depth fit (see the module docstring).

    Parameters
    ----------
    fit : the fit of the best norm per depth (UPPER bounds)
    exact : the exact cost per depth of ``fit.depths`` (closed form), if any
    exact_terms : exact ``(R0, R1, R2)`` of the expansion, with ``exact``
    cost : the exact cost at any depth (to find the depths that would resolve R0)
    r0_lower_bound, r0_upper_bound : proven bounds on R0 (constant-input Jacobian ranks, a
        construction); used only without an exact closed form
    """
    out = Diagnosis()
    norms = np.asarray(fit.norms)
    if exact is not None:
        rel = [(n - e) / e for n, e in zip(norms, exact)]
        for L, n, e, r in zip(fit.depths, norms, exact, rel):
            if r < -BELOW_EXACT_RTOL:
                out.flags.append(f"depth {L}: norm {n:.10g} is below the exact cost {e:.10g} "
                                 f"(by {-r:.1e} relative): the run does not represent the "
                                 f"target")
            elif r > ABOVE_EXACT_RTOL:
                out.flags.append(f"depth {L}: norm {n:.10g} is above the exact cost {e:.10g} "
                                 f"(by {r:.1e} relative): not at the minimum (optimisation "
                                 f"failure)")
        if not out.flags and exact_terms is not None:
            r0, r1, r2 = exact_terms
            bias = {"R0_free": fit.R0_free - r0, "R1": None if fit.R1 is None else fit.R1 - r1,
                    "max_norm_rel_gap": float(max(abs(r) for r in rel))}
            out.truncation_bias = bias
            r1_text = "" if bias["R1"] is None else f", R1 - R1_exact = {bias['R1']:+.4g}"
            out.notes.append(
                f"every norm equals the exact cost to {bias['max_norm_rel_gap']:.1e} "
                f"(relative): the fit's deviations are its truncation bias at depths "
                f"{_depth_range(fit.depths)} (R2 = {r2:.4g}): R0_free - R0 = "
                f"{bias['R0_free']:+.4g}{r1_text}")
    elif fit.R0_interval is not None:
        lo, hi = fit.R0_interval
        evidence = (f"fitted slope R0_free = {fit.R0_free:.3f} over depths "
                    f"{_depth_range(fit.depths)} (leave-one-out [{lo:.3f}, {hi:.3f}])")
        if r0_lower_bound is not None and hi < r0_lower_bound - INTEGER_TOLERANCE:
            out.flags.append(
                f"{evidence} is below the R0 lower bound {r0_lower_bound:g} by "
                f"{r0_lower_bound - hi:.3f} or more: the shallower runs are above their "
                f"minimum, or the bound (proven for the target on an open set) does not bind "
                f"on these samples")
        if r0_upper_bound is not None and lo > r0_upper_bound + INTEGER_TOLERANCE:
            out.flags.append(
                f"{evidence} is above the R0 upper bound {r0_upper_bound:g} of a construction "
                f"by {lo - r0_upper_bound:.3f} or more: the deeper runs are not at the minimum "
                f"(optimisation failure)")
    for i in range(len(norms) // 2 + 1, len(norms)):  # pairs among the deepest half
        if norms[i] < norms[i - 1]:
            out.flags.append(
                f"depth {fit.depths[i]}: norm {norms[i]:.6g} is below depth "
                f"{fit.depths[i - 1]}'s {norms[i - 1]:.6g} (by {norms[i - 1] - norms[i]:.3g}) "
                f"among the deepest runs, against the L*R0 growth: optimisation failure")
    if fit.R0_source == "unresolved" or (fit.R0_source == "exact" and not fit.R0_resolved):
        r0_exact = None if exact_terms is None else int(round(exact_terms[0]))
        out.notes.append(_resolution_note(fit, cost, r0_exact))
    return out
