"""The learning rate of a ridge run: a stability rule, and the largest stable rate measured.

Rule. Gradient descent on a quadratic with Hessian ``H`` is stable iff ``lr < 2 / lambda_max(H)``
(the error along the top eigenvector is multiplied by ``1 - lr lambda_max`` per step). The rule
estimates the **sharpness** ``lambda_max`` of the full-batch objective
``loss + lam ||theta||^2`` at the start, by power iteration with Hessian-vector products (float64,
double backward), and takes ``lr = factor / sharpness``. The default ``factor = 1`` is half the
quadratic limit: the Rayleigh quotient of power iteration is a lower bound on ``lambda_max``,
the Hessian of a ReLU network changes along the path, and training from a random start sharpens
it (Cohen et al. 2021, "progressive sharpening"), so the rule keeps a margin of 2.

Measurement. :func:`largest_stable_lr` runs short full-batch descents from the same start at
rates doubled (or halved) from a first guess until stability changes, then bisects the bracket
geometrically. A run is **stable** when every objective is finite, the last one is below the
first, and the objectives of the tail never increase (beyond round-off, :data:`ROUND_OFF`): on
a quadratic exactly the runs at ``lr < 2 / lambda_max`` (the objective is a sum of squared
error components, each shrinking by ``(1 - lr lambda_i)^2`` per step).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch

from cbn.numerics.network import CircularCNN
from cbn.numerics.search.descent import gradient_descent, objective
from cbn.numerics.search.status import Status

#: Relative increase of the objective between two steps still read as "not increasing": the
#: objective is a float64 sum of N * outputs squares (relative round-off ~1e-15 per term, a few
#: 1e-14 summed); 1e-10 is far above that and far below any growth that instability causes
#: (a factor ``|1 - lr lambda|^2 > 1`` on the top mode).
ROUND_OFF = 1e-10


@dataclass(frozen=True)
class LearningRate:
    """How the rate of a ridge run was chosen, and what was measured about it.

    Attributes
    ----------
    lr : the rate used
    rule : ``"given"`` (set by the caller), ``"stability"`` (``factor / sharpness``) or
        ``"probe"`` (``(factor / 2) * largest_stable``, :class:`RidgeSettings`)
    sharpness : Rayleigh-quotient estimate of the largest Hessian eigenvalue of the full-batch
        objective at the start (None when not computed)
    factor : ``c`` of the rule ``lr = c / sharpness`` (None for a given rate)
    largest_stable, smallest_unstable : the bracket measured by :func:`largest_stable_lr`
        (None when not measured; ``smallest_unstable`` is inf when no probed rate failed)
    probe_steps : steps of each probe (0: not measured)
    probes : ``(rate, stable)`` of every probe, in order
    """

    lr: float
    rule: str
    sharpness: float | None = None
    factor: float | None = None
    largest_stable: float | None = None
    smallest_unstable: float | None = None
    probe_steps: int = 0
    probes: tuple[tuple[float, bool], ...] = ()


def sharpness(net: CircularCNN, X: torch.Tensor, Y: torch.Tensor, lam: float,
              include_bias: bool = True, iters: int = 50, rtol: float = 1e-4,
              seed: int = 0) -> float:
    """Largest eigenvalue of the Hessian of ``objective(net, X, Y, lam)`` in the parameters.

    Power iteration with Hessian-vector products (double backward) from a seeded Gaussian
    vector, stopped when the Rayleigh quotient changes by less than ``rtol`` relative or after
    ``iters`` products. If the dominant eigenvalue is negative (possible away from a minimum),
    a second run on ``H - lambda_1 I`` finds the largest algebraic one. The estimate is a Rayleigh
    quotient, hence a lower bound on the largest eigenvalue, exact up to the convergence
    tolerance when the top of the spectrum is separated.
    """
    params = list(net.parameters())
    grads = torch.autograd.grad(objective(net, X, Y, lam, include_bias), params,
                                create_graph=True)
    gen = torch.Generator().manual_seed(int(seed))

    def hvp(v: list[torch.Tensor]) -> list[torch.Tensor]:
        return list(torch.autograd.grad(grads, params, v, retain_graph=True))

    def power(shift: float) -> float:
        v = [torch.randn(p.shape, generator=gen, dtype=torch.float64).to(p) for p in params]
        eig = math.nan
        for _ in range(iters):
            norm = math.sqrt(sum(float(torch.sum(u * u)) for u in v))
            v = [u / norm for u in v]
            hv = [h - shift * u for h, u in zip(hvp(v), v)]
            new = sum(float(torch.sum(u * h)) for u, h in zip(v, hv))
            done = abs(new - eig) <= rtol * abs(new)
            eig, v = new, hv
            if done:
                break
        return eig

    top = power(0.0)
    return top if top >= 0 else power(top) + top


def _stable(net: CircularCNN, X: torch.Tensor, Y: torch.Tensor, lam: float, lr: float,
            steps: int, include_bias: bool) -> bool:
    """Whether ``steps`` full-batch steps at ``lr`` from a copy of ``net`` are stable (module
    docstring)."""
    run = gradient_descent(copy.deepcopy(net), X, Y, lam, lr, steps, include_bias=include_bias,
                           tail=max(2, steps // 4))
    values = (run.first, *run.tail)
    if run.status is not Status.STEPS or not all(math.isfinite(v) for v in values):
        return False
    rising = any(b > a + ROUND_OFF * abs(a) for a, b in zip(run.tail, run.tail[1:]))
    return run.tail[-1] < run.first and not rising


def largest_stable_lr(net: CircularCNN, X: torch.Tensor, Y: torch.Tensor, lam: float,
                      lr0: float, steps: int = 50, include_bias: bool = True,
                      bisections: int = 3, max_doublings: int = 12) -> LearningRate:
    """Bracket the largest stable full-batch rate from ``net`` by short probes.

    From ``lr0``, rates are doubled while stable (halved while not) for at most
    ``max_doublings`` probes, then the bracket ``[stable, unstable]`` is bisected geometrically
    ``bisections`` times, so ``smallest_unstable / largest_stable = 2^(2^-bisections)``.
    ``net`` is not changed. Returns a :class:`LearningRate` with ``lr = largest_stable``
    (``rule = "given"``; callers replace ``lr``/``rule`` with their own).
    """
    probes: list[tuple[float, bool]] = []

    def probe(lr: float) -> bool:
        ok = _stable(net, X, Y, lam, lr, steps, include_bias)
        probes.append((lr, ok))
        return ok

    lo, hi = (lr0, math.inf) if probe(lr0) else (0.0, lr0)
    for _ in range(max_doublings):
        if hi < math.inf and lo > 0:
            break
        if hi == math.inf:
            if probe(2 * lo):
                lo = 2 * lo
            else:
                hi = 2 * lo
        elif probe(hi / 2):
            lo = hi / 2
        else:
            hi = hi / 2
    if lo > 0 and hi < math.inf:
        for _ in range(bisections):
            mid = math.sqrt(lo * hi)
            if probe(mid):
                lo = mid
            else:
                hi = mid
    return LearningRate(lr=lo, rule="given", largest_stable=lo, smallest_unstable=hi,
                        probe_steps=steps, probes=tuple(probes))
