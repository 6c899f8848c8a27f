"""The activation bottleneck: hidden-layer energy per frequency, large versus small learning rate.

Statement under test (paper_notes/theory.md section 4, [WJ24], [J23]): with training that is
stable under a large learning rate, the hidden representations inside the bottleneck are
supported on the kept frequencies. The protocol:

- one data set ``(X, Y)`` whose target has a known kept set ``keep`` (shape ``spatial``);
- ReLU circular CNNs with biases trained by full-batch gradient descent on
  ``loss + lam ||theta||^2`` (:func:`cbn.numerics.search.ridge_fit`) from the same seeded
  random starts, at a small rate and at the largest stable rate, for the SAME gradient-flow time
  ``lr * steps`` (so the comparison isolates the rate from the training length);
- the largest stable rate is measured by geometric bisection between the small rate and an
  upper bracket (:func:`is_stable` is the rule, stated there);
- per hidden layer the energy ``E_l(m) = (1/d) sum_x sum_c |a_l(x)^(m)_c|^2``
  (:func:`cbn.numerics.spectra.activation_energy`, full DFT grid, so a conjugate pair counts
  twice) and its off-support share (:func:`off_support_share`).

Every trained network's norm is an UPPER bound on the cost of the function it computes (it
does not interpolate: its residual is recorded).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from cbn.numerics.inputs import InputError
from cbn.numerics.search import Architecture, RidgeSettings, Start, ridge_fit
from cbn.numerics.search.lbfgs import intra_op_threads, is_small
from cbn.numerics.spectra import activation_energy

__all__ = ["RateProtocol", "RateRun", "RateComparison", "off_support_share", "bottleneck_share",
           "train_at_rate", "is_stable", "largest_stable_rate", "compare_rates"]


def off_support_share(energy: np.ndarray, keep: np.ndarray) -> float:
    """Share of a layer's non-constant energy that lies off the kept set.

    ``sum_{m not kept} E(m) / sum_{m != 0} E(m)``. The constant frequency is excluded from the
    denominator because a ReLU output always carries a large mean (it is kept anyway).

    Parameters
    ----------
    energy : array, shape (*spatial, c) or (*spatial,): per-frequency (and channel) energy on
        the full DFT grid (conjugate pairs appear twice, as in every sum over G)
    keep : bool array, shape spatial, with the constant frequency kept

    Returns
    -------
    float in [0, 1]; 0 when the layer has no non-constant energy.
    """
    per_freq = energy.sum(axis=-1) if energy.ndim == keep.ndim + 1 else energy
    if per_freq.shape != keep.shape:
        raise InputError(f"energy grid {per_freq.shape} does not match the kept set "
                         f"{keep.shape}; pass E(m) or E(m, c) on the same grid")
    if not keep[(0,) * keep.ndim]:
        raise InputError("the kept set must contain the constant frequency m = 0")
    nonconst = per_freq.copy()
    nonconst[(0,) * keep.ndim] = 0.0
    total = float(nonconst.sum())
    return float(per_freq[~keep].sum()) / total if total > 0 else 0.0


def bottleneck_share(shares: Sequence[float]) -> float:
    """Mean off-support share over the hidden layers inside the bottleneck: layers 2..L-1
    (the first hidden layer still sees the raw input); all hidden layers when there is one."""
    shares = list(shares)
    return float(np.mean(shares[1:] if len(shares) > 1 else shares))


@dataclass(frozen=True)
class RateProtocol:
    """What is trained and how (all fixed before running).

    Attributes
    ----------
    depth, width : ReLU circular CNN with biases, ``depth`` layers, ``width`` hidden channels
    lam : weight of ``||theta||^2`` (biases included) in the objective
    time : gradient-flow time ``lr * steps`` of every run (steps rounded to the nearest int)
    lr_small : the small rate (assumed stable: :func:`compare_rates` checks it)
    lr_upper : upper bracket of the bisection for the largest stable rate
    bisections : geometric bisection steps between ``lr_small`` and ``lr_upper``
    objective_rtol : the stability rule's tolerance on the final objective relative to the
        small rate's at equal time (:func:`is_stable`)
    seeds : seeds of the random starts, the same for every rate
    """

    depth: int
    width: int
    lam: float
    time: float
    lr_small: float
    lr_upper: float
    bisections: int
    seeds: tuple[int, ...]
    objective_rtol: float = 0.1

    def __post_init__(self) -> None:
        if not (0 < self.lr_small < self.lr_upper and self.time > 0 and self.bisections >= 1
                and self.seeds and self.depth >= 3 and self.objective_rtol >= 0):
            raise InputError("need 0 < lr_small < lr_upper, time > 0, bisections >= 1, depth "
                             f">= 3, objective_rtol >= 0 and seeds; got {self}")

    def steps(self, lr: float) -> int:
        """Gradient steps of a run at ``lr`` (``round(time / lr)``)."""
        return max(1, round(self.time / lr))


@dataclass(frozen=True)
class RateRun:
    """One trained network.

    Attributes
    ----------
    lr, steps, seed : the run
    objective : final ``loss + lam ||theta||^2`` (inf when it diverged)
    residual_rel : ``||f(X) - Y|| / ||Y||``
    norm_sq : ``||theta||^2``, an UPPER bound on the cost of the function the network computes
    decreasing : the objective of the last step is below the one ``objective_tail`` steps before
    shares : off-support share per hidden layer (:func:`off_support_share`)
    energy : per hidden layer, ``E_l(m)`` summed over channels, shape spatial
    """

    lr: float
    steps: int
    seed: int
    objective: float
    residual_rel: float
    norm_sq: float
    decreasing: bool
    shares: tuple[float, ...]
    energy: tuple[np.ndarray, ...]

    @property
    def bottleneck(self) -> float:
        """:func:`bottleneck_share` of the run."""
        return bottleneck_share(self.shares)


def train_at_rate(X: np.ndarray, Y: np.ndarray, keep: np.ndarray, protocol: RateProtocol,
                  lr: float, seed: int, device: str = "cpu") -> RateRun:
    """Train one network at rate ``lr`` for the protocol's time from ``Start.random(seed)``.

    Parameters
    ----------
    X, Y : arrays, shapes (N, c_in, *spatial) and (N, c_out, *spatial)
    keep : bool array, shape spatial: the target's kept frequencies
    """
    p = protocol
    steps = p.steps(lr)
    # small nets on one intra-op thread (the search's thread policy, SMALL_FIT_ELEMENTS):
    # measured 5.6 ms/step on 1 thread against 99 ms/step on 2 on the loaded 2-core machine
    small = is_small(torch.as_tensor(X), [p.width] * (p.depth - 1), Y.shape[1], device)
    with intra_op_threads(1 if small else None):
        res = ridge_fit(X, Y, Architecture.uniform(p.depth, p.width),
                        RidgeSettings(lam=p.lam, lr=lr, steps=steps, device=device),
                        Start.random(seed))
    objective = res.loss + p.lam * res.norm_sq
    tail = res.settings["objective_tail"]
    finite = math.isfinite(objective) and res.iterations == steps
    if not finite:
        nan = (float("nan"),) * (p.depth - 1)
        return RateRun(lr, steps, seed, float("inf"), float("inf"), float("inf"), False, nan, ())
    energies = [e.sum(axis=-1) for e in activation_energy(res.filters, res.biases, X)[:-1]]
    return RateRun(lr, steps, seed, float(objective), float(res.residual_rel),
                   float(res.norm_sq), bool(len(tail) > 1 and tail[-1] < tail[0]),
                   tuple(off_support_share(e, keep) for e in energies), tuple(energies))


def is_stable(run: RateRun, reference: RateRun, rtol: float) -> bool:
    """The stability rule: a run is stable when its objective stayed finite, was still
    decreasing over the last steps (gradient descent below the stability edge decreases a smooth
    objective monotonically; above it the objective oscillates or blows up), and its final
    objective is at most ``(1 + rtol)`` times that of the small-rate ``reference`` run from the
    same start at equal gradient-flow time (a rate that throws the network into a worse basin,
    e.g. dead ReLUs, did not train stably even if it settles there)."""
    return (math.isfinite(run.objective) and run.decreasing
            and run.objective <= (1.0 + rtol) * reference.objective)


def largest_stable_rate(
    X: np.ndarray, Y: np.ndarray, keep: np.ndarray, protocol: RateProtocol,
    references: Sequence[RateRun], device: str = "cpu", progress=None,
) -> tuple[float, tuple[RateRun, ...], tuple[tuple[float, bool], ...]]:
    """Geometric bisection for the largest rate stable for EVERY seed (full-time runs).

    Returns
    -------
    (lr, runs at lr, one per seed, probes as (rate, stable)). ``lr`` is the largest rate found
    stable; the bracket's upper end (the least rate found unstable) is the last unstable probe,
    or ``lr_upper`` itself when it is stable (then the true edge is higher).
    """
    p = protocol
    lo, hi, best = p.lr_small, p.lr_upper, tuple(references)
    probes: list[tuple[float, bool]] = []

    def trial(lr: float) -> tuple[bool, tuple[RateRun, ...]]:
        runs = []
        for ref in references:
            run = train_at_rate(X, Y, keep, p, lr, ref.seed, device)
            runs.append(run)
            if progress is not None:
                progress.update(1)
            if not is_stable(run, ref, p.objective_rtol):
                return False, tuple(runs)
        return True, tuple(runs)

    ok, runs = trial(hi)
    probes.append((hi, ok))
    if ok:
        return hi, runs, tuple(probes)
    for _ in range(p.bisections):
        mid = math.sqrt(lo * hi)
        ok, runs = trial(mid)
        probes.append((mid, ok))
        if ok:
            lo, best = mid, runs
        else:
            hi = mid
    return lo, best, tuple(probes)


@dataclass(frozen=True)
class RateComparison:
    """The outcome of :func:`compare_rates`.

    Attributes
    ----------
    small, large : runs per seed at ``lr_small`` and at the largest stable rate
    probes : the bisection's (rate, stable for every seed)
    ratios : per seed, bottleneck share at the large rate / at the small rate (< 1: the
        prediction; NaN where the small-rate share is 0)
    """

    protocol: RateProtocol
    small: tuple[RateRun, ...]
    large: tuple[RateRun, ...]
    probes: tuple[tuple[float, bool], ...]

    @property
    def lr_stable(self) -> float:
        return self.large[0].lr

    @property
    def ratios(self) -> np.ndarray:
        return np.array([b.bottleneck / a.bottleneck if a.bottleneck > 0 else np.nan
                         for a, b in zip(self.small, self.large)])

    @property
    def log_ratio_mean(self) -> float:
        """Mean over seeds of ``log10(ratio)`` (its sign says the direction)."""
        return float(np.mean(np.log10(self.ratios)))

    @property
    def log_ratio_spread(self) -> float:
        """Sample standard deviation over seeds of ``log10(ratio)`` (inf for one seed)."""
        r = np.log10(self.ratios)
        return float(np.std(r, ddof=1)) if r.size > 1 else float("inf")

    @property
    def small_stable(self) -> bool:
        """The small rate itself passes the finite-and-decreasing part of the rule."""
        return all(math.isfinite(r.objective) and r.decreasing for r in self.small)


def compare_rates(X: np.ndarray, Y: np.ndarray, keep: np.ndarray, protocol: RateProtocol,
                  device: str = "cpu", progress=None) -> RateComparison:
    """Small-rate runs, the largest stable rate (bisection) and its runs, at equal time.

    ``progress`` (optional) is a tqdm-like object; ``update(1)`` is called per trained network.
    """
    small = []
    for seed in protocol.seeds:
        small.append(train_at_rate(X, Y, keep, protocol, protocol.lr_small, seed, device))
        if progress is not None:
            progress.update(1)
    _, large, probes = largest_stable_rate(X, Y, keep, protocol, small, device, progress)
    return RateComparison(protocol, tuple(small), large, probes)
