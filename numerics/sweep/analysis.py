"""From a sweep's stored runs to its :class:`SweepSummary`: :func:`summarize`.

Per depth the least norm among the runs that fit the data (``residual_rel <= residual_rtol``;
the least residual when none does), compared with every UPPER bound in hand (closed form,
explicit construction, a shallower best network padded to the depth) to flag optimisation
failures, which are left out of the depth fit ``L R0 + R1 (+ R2/L)``
(:mod:`cbn.numerics.fitting`, :mod:`cbn.numerics.diagnosis`); then the bounds on ``R0`` and the
CBN picture of the deepest network that did not diverge.
"""

from __future__ import annotations

from collections.abc import Sequence

from cbn.numerics.bounds import LOOSE_RANK_RTOL, bottleneck_terms
from cbn.numerics.diagnosis import diagnose
from cbn.numerics.fitting import fit_depth_scaling
from cbn.numerics.guards import above, diverged_depths, padded_bounds
from cbn.numerics.linear import expansion_terms, representation_cost
from cbn.numerics.spectra import NEAR_ONE_SPLIT
from cbn.numerics.store import StoredRecord
from cbn.numerics.sweep.evidence import (
    CONSTRUCTION_HINT,
    EXACT,
    FIT,
    LOWER_R0,
    PATH_HINT,
    UPPER,
    UPPER_R0,
    constant_inputs,
    construction_flags,
    construction_norms,
    layer_counts,
    seed_spread_notes,
    target_r0_lower_bound,
)
from cbn.numerics.sweep.spec import SweepSpec, target_from_config
from cbn.numerics.sweep.summary import (
    BottleneckInequality,
    DeepestNetwork,
    RunSummary,
    SweepSummary,
)
from cbn.numerics.targets import Target
from cbn.numerics.targets.detect import DetectedLinearTarget
from cbn.numerics.weights import Network

__all__ = ["summarize"]


def _stored_network(record: StoredRecord, spec: SweepSpec) -> Network:
    """The network of a stored run (its arrays, the sweep's activation and convention)."""
    return Network.from_arrays(record.arrays, spec.activation, spec.convention)


def _fitting_runs(spec: SweepSpec, runs: Sequence[StoredRecord]) -> list[StoredRecord]:
    """The runs whose network fits the data (``residual_rel <= spec.residual_rtol``)."""
    return [r for r in runs if r.record["residual_rel"] <= spec.residual_rtol]


def _best_per_depth(spec: SweepSpec, by_depth: dict[int, list[StoredRecord]],
                    flags: list[str]) -> list[StoredRecord]:
    """Per depth (sorted) the least norm that fits; the least residual (flagged) if none does.

    A network that does not fit the data bounds nothing about the target, so such a depth is
    shown but left out of the depth fit (:func:`summarize`).
    """
    best = []
    for L in sorted(by_depth):
        runs = by_depth[L]
        ok = _fitting_runs(spec, runs)
        if not ok:
            closest = min(runs, key=lambda r: r.record["residual_rel"])
            flags.append(f"depth {L}: no seed fits the data to residual_rel <= "
                         f"{spec.residual_rtol:g}; shown is the run of least residual "
                         f"({closest.record['residual_rel']:.2g}, norm "
                         f"{closest.record['norm_sq']:.6g}: not a bound on the target's cost), "
                         f"left out of the depth fit")
            ok = [closest]
        best.append(min(ok, key=lambda r: r.record["norm_sq"]))
    return best


def _r0_bounds(target: Target, spec: SweepSpec, linear_net: bool, X) -> tuple:
    """``(R0, R1, R2 exact or None, R0 lower bound, its detail, R0 upper bound)``.

    The Jacobian of a linear target is ``A(m)`` at every input: ``sum_m rank A(m)`` bounds
    ``R0`` from below for any network, and is ``R0`` itself for linear networks (closed form).
    """
    mult = target.linear_multipliers(spec.convention)
    if mult is not None:
        r0_exact, r1_exact, r2_exact = expansion_terms(mult, spec.convention)
        r0_lower = int(round(r0_exact))
        r0_upper = r0_lower if linear_net else target.r0_upper_bound()
        lower_info = {"rank_sum": r0_lower, "bound": EXACT if linear_net else LOWER_R0}
        return r0_exact, r1_exact, r2_exact, r0_lower, lower_info, r0_upper
    lower_info = target_r0_lower_bound(target, X)
    r0_lower = None if lower_info is None else lower_info["rank_sum"]
    return None, None, None, r0_lower, lower_info, target.r0_upper_bound()


def _deepest(spec: SweepSpec, record: StoredRecord, depth: int, X) -> DeepestNetwork:
    """The CBN picture of ``record``'s network at the first of :func:`constant_inputs`."""
    net = _stored_network(record, spec)
    terms = bottleneck_terms(net.filters, net.biases, constant_inputs(X)[0], spec.activation,
                             spec.convention, LOOSE_RANK_RTOL)
    return DeepestNetwork(
        depth=depth, key=record.key, layer_counts=layer_counts(net.filters, spec.convention),
        split=NEAR_ONE_SPLIT, bottleneck_inequality=BottleneckInequality(
            bound_total=terms.total, norm_sq=terms.norm_sq, slack=terms.slack,
            rank_term=terms.rank_term, log_pdet_term=terms.log_pdet_term,
            jacobian_ranks=terms.ranks.tolist()))


def _labels(linear_net: bool) -> dict[str, str]:
    """The bound label of every value of the summary."""
    return {
        "norm": UPPER, "exact": EXACT,
        "construction_norm": "upper bound on R(f; L): norm of the explicit construction network",
        "padded_bound": "upper bound on R(f; Omega, L): a shallower best network padded to L",
        "R0_fit": FIT, "R1_fit": FIT, "R0_interval": FIT,
        "R0_lower_bound": EXACT if linear_net else LOWER_R0,
        "R0_upper_bound": EXACT if linear_net else UPPER_R0,
    }


def summarize(spec: SweepSpec, records: Sequence[StoredRecord]) -> SweepSummary:
    """Best run per depth, depth fit, bounds, flags and the CBN picture of the deepest network.

    Returns
    -------
    :class:`SweepSummary`, whose ``to_dict()`` is the JSON of ``cbn fit --json`` (README).
    """
    target = target_from_config(spec.target)
    X = target.sample(spec.n_samples, spec.sample_seed)
    by_depth: dict[int, list[StoredRecord]] = {}
    for rec in records:
        by_depth.setdefault(rec.config["depth"], []).append(rec)
    depths = sorted(by_depth)
    flags: list[str] = []
    best = _best_per_depth(spec, by_depth, flags)
    norms = [r.record["norm_sq"] for r in best]
    fitting_nets = [_stored_network(r, spec)
                    if r.record["residual_rel"] <= spec.residual_rtol else None for r in best]
    padded = padded_bounds(depths, fitting_nets, X)
    notes = [f"depth {r.config['depth']} seed {r.config['seed']}: the run ended at "
             f"{g['failed_norm_sq']:.6g}, above its start {g['start_norm_sq']:.6g} (which "
             f"fits the data); retried from {g['retries']} random start(s), kept "
             f"{g['kept_norm_sq']:.6g}"
             for r in records if (g := r.record.get("guard")) is not None]

    mult = target.linear_multipliers(spec.convention)
    linear_net = mult is not None and spec.activation == "identity"
    exact = [representation_cost(mult, L, spec.convention) for L in depths] if linear_net else None
    construction = (construction_norms(target, depths, spec.width, X)
                    if spec.activation == "relu" else None)
    divergences = diverged_depths(depths, norms, {
        "closed form": exact, "explicit construction": construction,
        "shallower best network padded to this depth": [
            None if b is None else b.norm_sq for b in padded]})
    diverged = [d.depth for d in divergences]
    flags += [d.flag() for d in divergences]
    above_padded = [L for L, n, b in zip(depths, norms, padded)
                    if b is not None and above(n, b.norm_sq) and L not in diverged]
    flags += [f"depth {b.depth}: best norm {n:.6g} is above the upper bound {b.norm_sq:.6g} in "
              f"hand (the depth-{b.source_depth} best network padded to depth {b.depth}) by "
              f"{n / b.norm_sq - 1:.2g} relative: not at the minimum (optimisation failure); "
              f"left out of the depth fit"
              for n, b in zip(norms, padded) if b is not None and b.depth in above_padded]
    missed = [L for L, net in zip(depths, fitting_nets) if net is None]
    excluded = sorted(set(diverged) | set(above_padded) | set(missed))
    r0_exact, r1_exact, r2_exact, r0_lower, lower_info, r0_upper = _r0_bounds(
        target, spec, linear_net, X)

    kept = [i for i, L in enumerate(depths) if L not in excluded]
    depth_fit: dict = dict(R0_fit=None, R0_integer=None, R1_fit=None, R2_fit=None,
                           R0_interval=None, R1_interval=None, fit=None, truncation_bias=None)
    if len(kept) >= 3:
        fit = fit_depth_scaling([depths[i] for i in kept], [norms[i] for i in kept],
                                r0_known=int(round(r0_exact)) if linear_net else None)
        diagnosis = diagnose(
            fit, exact=None if exact is None else [exact[i] for i in kept],
            exact_terms=(r0_exact, r1_exact, r2_exact) if linear_net else None,
            cost=(lambda L: representation_cost(mult, L, spec.convention)) if linear_net
            else None,
            r0_lower_bound=r0_lower, r0_upper_bound=r0_upper)
        flags += diagnosis.flags
        notes += diagnosis.notes
        depth_fit = dict(R0_fit=fit.R0_free, R0_integer=fit.R0 if fit.R0_resolved else None,
                         R1_fit=fit.R1, R2_fit=fit.R2, R0_interval=fit.R0_interval,
                         R1_interval=fit.R1_interval, fit=fit.to_dict(),
                         truncation_bias=diagnosis.truncation_bias)
    else:
        notes.append(f"{len(kept)} depth(s) to fit (at least 3 are needed): no depth fit")
    if construction is not None:
        flags += construction_flags(depths, norms, construction)
    notes += seed_spread_notes(depths, [[r.record["norm_sq"]
                                         for r in _fitting_runs(spec, by_depth[L])]
                                        for L in depths])
    # the CBN picture comes from the deepest depth whose search did not diverge
    shown = max((i for i, L in enumerate(depths) if L not in diverged), default=len(depths) - 1)

    return SweepSummary(
        target=target.name, description=target.description(),
        linear_detected=isinstance(target, DetectedLinearTarget),
        spatial=list(target.spatial), channels=[target.c_in, target.c_out],
        activation=spec.activation, convention=spec.convention, width=spec.width,
        n_samples=spec.n_samples, seeds=spec.seeds, depths=depths, norm=norms,
        residual=[r.record["residual_max_abs"] for r in best], residual_rtol=spec.residual_rtol,
        runs=[[RunSummary(seed=r.config["seed"], norm_sq=r.record["norm_sq"],
                          residual_max_abs=r.record["residual_max_abs"],
                          residual_rel=r.record["residual_rel"],
                          converged=r.record.get("converged"), key=r.key)
               for r in by_depth[L]] for L in depths],
        exact=exact, construction_norm=construction, init=spec.init,
        start_noise=spec.start.noise, solver=spec.settings.to_dict(),
        R0_exact=r0_exact if linear_net else None, R1_exact=r1_exact if linear_net else None,
        R2_exact=r2_exact if linear_net else None, R0_lower_bound=r0_lower,
        R0_lower_bound_detail=lower_info, R0_upper_bound=r0_upper, **depth_fit,
        excluded_depths=excluded, diverged_depths=diverged,
        padded_bound=[None if b is None else b.norm_sq for b in padded],
        deepest=_deepest(spec, best[shown], depths[shown], X), flags=flags, notes=notes,
        hints=([CONSTRUCTION_HINT] if flags and construction is not None
               and spec.init != "construction" else [])
        + ([PATH_HINT] if flags and spec.activation == "relu" and spec.init != "path" else []),
        bound=_labels(linear_net))
