"""The augmented Lagrangian of ``min ||theta||^2 s.t. f_theta(X) = Y`` (phases 1 and 2)."""

from __future__ import annotations

import math
import time

import torch

from cbn.numerics.search.constraint import multiplier_estimate
from cbn.numerics.search.lbfgs import lbfgs
from cbn.numerics.search.restoration import restore_feasibility
from cbn.numerics.search.settings import SearchSettings
from cbn.numerics.search.status import Status


def augmented_lagrangian(net, fit, check, settings: SearchSettings,
                         estimate_multipliers: bool = True) -> tuple[int, Status, str, dict]:
    """Run the method in place on ``net``; returns (iterations, status, message, info).

    ``settings`` has ``history_size`` and ``inner_iter`` resolved (not None).

    ``fit = (Xf, Yf)`` are the samples the objective sees and ``check = (Xt, Yt)`` those every
    stopping rule and reported residual uses (the same tensors, or the exact compression of
    :mod:`cbn.numerics.compress` for linear networks, whose residual has the same norm up to a
    constant). Scales (``rms(Y)``, ``max|Y|``, the number of constraints) come from ``check``.

    Phase 1 minimises the residual alone (L-BFGS) to reach an interpolating network; where it
    stalls above ``settings.phase1_tol`` and ``restore`` is set, Gauss-Newton steps
    (:func:`cbn.numerics.search.restoration.restore_feasibility`) finish it
    (``info['phase1_restoration']``). Phase 2 is the augmented Lagrangian started at ``mu = mu0
    * ||theta||^2 / n_constraints``: a penalty that is large from the start, because for ``L >=
    3`` a frequency block that collapses to 0 under a weak penalty is a local minimum the search
    never leaves (dropping a small singular value ``s`` saves ``L s^{2/L}`` of norm and costs
    only ``mu s^2`` of penalty). Phase 2 starts from least-squares multipliers
    (:func:`cbn.numerics.search.constraint.multiplier_estimate`), nearly exact at a warm start, or
    from ``lam = 0`` when ``estimate_multipliers`` is false (see
    :func:`starts_from_zero_multipliers`). Per outer step ``info['history']`` keeps [iterations,
    residual, norm, seconds]; ``info['initial_multipliers']`` says which start.
    """
    t_start = time.perf_counter()
    include_bias, max_iter, tol = settings.include_bias, settings.max_iter, settings.tol
    inner_iter, history_size, phase1_tol = (settings.inner_iter, settings.history_size,
                                            settings.phase1_tol)
    params = list(net.parameters())
    (Xf, Yf), (Xt, Yt) = fit, check
    yscale = float(torch.sqrt(torch.mean(Yt * Yt))) or 1.0
    ymax = float(Yt.abs().max()) or 1.0

    def residual():
        return (net(Xf) - Yf) / yscale

    def max_residual() -> float:
        with torch.no_grad():
            return float((net(Xt) - Yt).abs().max()) / ymax

    def feasibility(opt):
        def closure():
            opt.zero_grad()
            c = residual()
            obj = 0.5 * torch.sum(c * c)
            obj.backward()
            return obj
        return closure

    total, slow = 0, 0
    res = max_residual()
    while res > phase1_tol:  # chunks of inner_iter until phase1_tol (a warm start may already
        prev = res  # be there), 3 chunks without a 10% gain, or half the budget
        iters, _ = lbfgs(params, feasibility, min(inner_iter, max_iter // 2 - total),
                          0.0, history_size)
        total += iters
        res = max_residual()
        slow = slow + 1 if res > 0.9 * prev else 0
        if res <= phase1_tol or slow >= 3 or total >= max_iter // 2 or iters == 0:
            break
    info = {"phase1_iterations": total, "phase1_residual_max_rel": res,
            "history": []}  # per outer step: [L-BFGS its, max|res|/max|Y|, norm, seconds]
    if settings.restore and res > phase1_tol:  # a stalled L-BFGS (e.g. a perturbed, ill-conditioned
        # start) is often a few Gauss-Newton steps from the data
        info["phase1_restoration"] = restore_feasibility(net, Xt, Yt, phase1_tol,
                                                         settings)["restoration"]
        res = info["phase1_restoration"]["residual_max_rel_after"]  # of the network it kept
    info["phase1_seconds"] = time.perf_counter() - t_start
    with torch.no_grad():
        norm = float(net.parameter_norm_sq(include_bias))
    if not res <= phase1_tol:
        return total, Status.INFEASIBLE_START, (
            f"infeasible start: phase 1 reached only max|residual|/max|Y| = "
            f"{res:.1e} > {phase1_tol:.0e} (dead ReLU units, too narrow, or "
            f"a slow deep start); try another seed, restarts or max_iter"), info
    if estimate_multipliers:
        lam = multiplier_estimate(net, Xf, yscale, settings)
        info["initial_multipliers"] = "least squares"
    else:
        lam = torch.zeros_like(Yf)
        info["initial_multipliers"] = "zero"
    info["multiplier_seconds"] = time.perf_counter() - t_start - info["phase1_seconds"]
    mu = settings.mu0 * max(norm, 1e-12) / Yt.numel()
    mu_max = settings.mu_growth_cap * mu
    prev_res, prev_norm, stalls, outer = math.inf, math.inf, 0, 0
    while True:
        budget = max_iter - total
        if budget <= 0:
            return total, Status.MAX_ITER, f"max_iter: {max_iter} L-BFGS iterations used", info
        outer += 1

        def lagrangian(opt, lam=lam, mu=mu):
            def closure():
                opt.zero_grad()
                c = residual()
                obj = net.parameter_norm_sq(include_bias) + torch.sum(lam * c) \
                    + 0.5 * mu * torch.sum(c * c)
                obj.backward()
                return obj
            return closure

        iters, finished = lbfgs(params, lagrangian, min(inner_iter, budget), settings.gtol,
                                history_size)
        total += iters
        with torch.no_grad():
            lam += mu * residual()
            norm = float(net.parameter_norm_sq(include_bias))
        res = max_residual()
        info.update(outer=outer, mu=mu, residual_max_rel=res, inner_finished=finished)
        info["history"].append([iters, res, norm, time.perf_counter() - t_start])
        if not (math.isfinite(res) and math.isfinite(norm)):
            return total, Status.DIVERGED, "diverged: non-finite value", info
        settled = abs(norm - prev_norm) <= settings.norm_settled_rtol * norm
        if res <= tol and (finished or settled):
            why = ("L-BFGS stopped at a stationary point of the augmented Lagrangian"
                   if finished else
                   f"the norm settled to {settings.norm_settled_rtol:.0e} relative")
            return total, Status.CONVERGED, (f"converged: {why}; max|residual|/max|Y| = "
                                             f"{res:.1e} <= {tol:.0e}"), info
        progress = res < 0.999 * prev_res or abs(norm - prev_norm) > 1e-13 * norm
        stalls = 0 if progress else stalls + 1
        if stalls >= 5:
            return total, Status.STALLED, (f"stalled: no progress in 5 outer iterations "
                                           f"(max|residual|/max|Y| = {res:.1e})"), info
        window = info["history"][-settings.plateau_steps - 1:]
        if settings.plateau_rtol > 0 and len(window) > settings.plateau_steps and \
                res <= phase1_tol and plateaued(window, settings.plateau_rtol):
            return total, Status.STALLED, (
                f"norm plateaued: it fell by <= {settings.plateau_rtol:.0e} relative and the "
                f"residual by < 10x over {settings.plateau_steps} outer iterations "
                f"(max|residual|/max|Y| = {res:.1e})"), info
        if res > 0.25 * prev_res:
            mu = min(3.0 * mu, mu_max)
        prev_res, prev_norm = res, norm


def plateaued(window: list, rtol: float) -> bool:
    """Whether the outer steps ``window`` (rows ``[iterations, residual, norm, seconds]`` of
    ``info['history']``) crawl: the norm fell by at most ``rtol`` relative and the residual
    did not fall tenfold (a run still converging drives the residual down; a crawl at ReLU
    kinks leaves it hovering)."""
    norms = [h[2] for h in window]
    residuals = [h[1] for h in window]
    return norms[0] - min(norms) <= rtol * norms[-1] and min(residuals) > 0.1 * residuals[0]


def starts_from_zero_multipliers(activation: str, depth: int) -> bool:
    """Whether phase 2 starts from ``lam = 0`` instead of least-squares multipliers.

    True for linear networks of depth 2. There, a frequency block (or a direction of one) that
    the optimum leaves empty is bilinear, ``M_2(m) M_1(m)`` with both factors ``O(s)``: its
    residual is ``O(s^2)``, as small as its norm ``2 s^2``. The least-squares multipliers at a
    phase-1 network explain the norm's gradient there too, which takes spectral norm ``>= 2``
    in that block, the curvature of the norm: the Lagrangian is then flat to second order in
    ``s`` and the stray factors shrink only through the quartic penalty ``mu s^4``, whose
    decrease float64 stops resolving against ``||theta||^2`` (the quick linear figure stalled
    at ``s ~ 7e-5``, max residual ~6e-9, for 2800-5800 iterations). From ``lam = 0`` the
    Lagrangian has curvature 2 in those factors and they decay geometrically. Zero multipliers
    are safe at depth 2 because its cost, the nuclear norm of the product, is convex: no
    block collapses into a local minimum. For ``L >= 3`` the norm ``L s^2`` dominates the
    residual ``s^L`` (no such flatness), while a weak start does trap blocks at 0 (the reason
    for the least-squares start, :func:`_augmented_lagrangian`): they keep it. ReLU networks
    keep it too (not measured there).
    """
    return activation == "identity" and depth == 2

