"""Near-minimal-norm circular CNNs that represent a target on samples (THEORY.md sections 2, 7).

Two protocols, both full-precision and deterministic per seed:

* :func:`min_norm_fit`: the constrained problem ``min ||theta||^2 s.t. f_theta(X) = Y`` by an
  augmented Lagrangian, ``||theta||^2 + <lam, c> + (mu/2) ||c||^2`` with the scaled residual
  ``c = (f_theta(X) - Y) / rms(Y)``, minimised in ``theta`` by L-BFGS (strong Wolfe line search),
  then ``lam <- lam + mu c`` and ``mu <- 10 mu`` whenever the residual fell by less than 4x.
* :func:`ridge_fit`: the papers' protocol, plain (stochastic) gradient descent on
  ``loss + lam ||theta||^2`` with a fixed learning rate; the penalty is an explicit term of the
  objective (Adam's ``weight_decay`` is not an L2 penalty and is not used).

``loss`` is always the mean over samples of the squared error summed over outputs and pixels,
``(1/N) sum_n ||f_theta(x_n) - y_n||^2``. A trained network certifies an **upper** bound on the
representation cost ``R(f; Omega, L)`` of the function it computes on the samples; it bounds the
cost of the target only up to the constraint residual, which every record reports.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from numerics.compress import compress_linear_data
from numerics.fourier import (
    filters_from_multipliers,
    multipliers_from_filters,
    self_conjugate_mask,
)
from numerics.inputs import InputError, check_real_finite
from numerics.linear import RANK_RTOL
from numerics.network import CircularCNN

#: Largest growth of the augmented-Lagrangian penalty over its start; beyond it L-BFGS loses
#: accuracy to the conditioning ``mu * ||J||^2`` and the multiplier update does the rest.
MU_GROWTH_CAP = 1e5

#: Phase 1 (residual only) must reach this ``max|residual| / max|Y|``, else the start is
#: declared infeasible: a network that cannot fit the data to 1e-4 has dead units or too few
#: channels, and the penalty phase would only trade norm for residual.
PHASE1_TOL = 1e-4

#: Conjugate-gradient passes for the least-squares multipliers that start phase 2.
CG_ITERS = 200

#: Tikhonov term of the multiplier system, relative to the Rayleigh quotient of its right-hand
#: side (a scale of ``J J^T``), used when the plain solve blows up (:data:`MULTIPLIER_BLOWUP`).
#: The constraints of a fit are often highly redundant (a ReLU net that is affine on its
#: samples: 10 independent directions among 128 constraints); CG on the singular ``J J^T`` then
#: can grow round-off in its null space without bound (multipliers of 1e12 at a warm start,
#: whose first augmented-Lagrangian step threw the norm to 1e12). With the term, directions with
#: singular values below ~1e-5 of the scale are damped, the rest solved to ~1e-10 relative.
CG_RIDGE = 1e-10

#: A multiplier estimate counts as blown up when ``||lam|| * sqrt(scale) > MULTIPLIER_BLOWUP *
#: ||grad ||theta||^2||``: a solution carried by singular values above 1e-3 of the scale stays
#: below it. Only then is the ridge used, so fits whose plain solve is sane are unchanged.
MULTIPLIER_BLOWUP = 1e3

#: Relative change of the norm over one outer step below which it counts as settled (used when
#: L-BFGS hits its inner cap at ReLU kinks although the constrained optimum is reached).
NORM_SETTLED_RTOL = 1e-9

#: Feasibility restoration after the augmented Lagrangian (:func:`_restore_feasibility`): it
#: forms the constraint Jacobian explicitly, so it runs only up to this many constraint values
#: (``N * c_out * prod(spatial)``) and this many Jacobian entries (float64: 8 bytes each).
RESTORE_MAX_CONSTRAINTS = 4096
RESTORE_MAX_ENTRIES = 2 * 10**7

#: Steps at the end of :func:`ridge_fit` whose objective is kept (``objective_tail``): GD at a
#: stable rate decreases a smooth objective monotonically, oscillation does not.
OBJECTIVE_TAIL = 6

#: Gauss-Newton steps of the restoration, and the growth of the residual over its start at
#: which the steps count as diverging (the best network seen is kept either way).
RESTORE_STEPS = 30
RESTORE_BLOWUP = 1e3


@dataclass
class MinNormResult:
    """Record of one search. ``norm_sq`` is an UPPER bound on R (see module docstring).

    Attributes
    ----------
    norm_sq : ``||theta||^2`` of the returned network (biases included iff ``include_bias``)
    residual_max_abs : ``max |f_theta(X) - Y|``
    residual_rel : ``||f_theta(X) - Y||_F / ||Y||_F``
    loss : ``(1/N) sum_n ||f_theta(x_n) - y_n||^2``
    iterations : L-BFGS iterations (``min_norm_fit``) or gradient steps (``ridge_fit``) of the
        returned run
    wall_time : seconds for the whole call (all restarts)
    device : where it ran
    converged : whether the stopping rule was met; ``stop_reason`` says which rule stopped it
    filters, biases : the network in the layout of :mod:`numerics.fourier`
    """

    norm_sq: float
    residual_max_abs: float
    residual_rel: float
    loss: float
    iterations: int
    wall_time: float
    device: str
    converged: bool
    stop_reason: str
    filters: list[np.ndarray]
    biases: list[np.ndarray]
    bound: str = "upper"
    method: str = ""
    depth: int = 0
    widths: list[int] = field(default_factory=list)
    activation: str = "relu"
    convention: str = "scaled"
    bias: bool = True
    include_bias: bool = True
    seed: int = 0
    dtype: str = "float64"
    settings: dict = field(default_factory=dict)
    restarts: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-able record without the weight arrays."""
        out = asdict(self)
        del out["filters"], out["biases"]
        return out

    def to_network(
        self, dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu"
    ) -> CircularCNN:
        """The fitted network as a :class:`CircularCNN`."""
        return CircularCNN.from_numpy(
            self.filters, self.biases if self.bias else None, activation=self.activation,
            convention=self.convention, dtype=dtype, device=device,
        )


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def _check_data(X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X = check_real_finite(np.asarray(X), "X")
    Y = check_real_finite(np.asarray(Y), "Y")
    if X.ndim not in (3, 4) or Y.ndim != X.ndim:
        raise InputError(
            f"X must be (N, c_in, *spatial) and Y (N, c_out, *spatial) with 1 or 2 spatial axes; "
            f"got X {X.shape}, Y {Y.shape}"
        )
    if X.shape[0] != Y.shape[0] or X.shape[2:] != Y.shape[2:] or X.shape[0] == 0:
        raise InputError(f"X {X.shape} and Y {Y.shape} need the same N >= 1 and spatial grid")
    return X, Y


def _check_architecture(depth: int, widths: Sequence[int]) -> list[int]:
    if int(depth) != depth or depth < 1:
        raise InputError(f"depth must be an integer >= 1, got {depth}")
    widths = [int(w) for w in widths]
    if len(widths) != depth - 1:
        raise InputError(f"depth {depth} needs {depth - 1} hidden widths, got {len(widths)}")
    if widths and min(widths) < 1:
        raise InputError(f"hidden widths must be >= 1, got {widths}")
    return widths


def _residual_stats(net: CircularCNN, Xt: torch.Tensor, Yt: torch.Tensor) -> dict:
    with torch.no_grad():
        r = net(Xt) - Yt
        ynorm = float(torch.linalg.vector_norm(Yt))
        return {
            "residual_max_abs": float(r.abs().max()),
            "residual_rel": float(torch.linalg.vector_norm(r)) / ynorm if ynorm > 0 else
            float(torch.linalg.vector_norm(r)),
            "loss": float(torch.sum(r * r)) / Xt.shape[0],
        }


def _record(net, Xt, Yt, include_bias, **fields) -> MinNormResult:
    filters, biases = net.to_numpy()
    with torch.no_grad():
        norm = float(net.parameter_norm_sq(include_bias))
    return MinNormResult(norm_sq=norm, filters=filters, biases=biases, include_bias=include_bias,
                         activation=net.activation, convention=net.convention, bias=net.has_bias,
                         **_residual_stats(net, Xt, Yt), **fields)


def _make_net(X, Y, depth, widths, activation, convention, bias, seed, init, device, dtype,
              init_scheme="gaussian"):
    if init is not None:
        net = copy.deepcopy(init).to(device=device, dtype=dtype)
        expected = (X.shape[1], *widths, Y.shape[1])
        if net.channels != expected or net.spatial != X.shape[2:] or net.head is not None:
            raise InputError(
                f"init network has channels {net.channels} on {net.spatial}; the fit needs "
                f"{expected} on {X.shape[2:]} without a head"
            )
        return net
    return CircularCNN([X.shape[1], *widths, Y.shape[1]], X.shape[2:], activation=activation,
                       bias=bias, convention=convention, dtype=dtype, device=device, seed=seed,
                       init_scheme=init_scheme)


def _orient_linear_start(net: CircularCNN, X: np.ndarray, Y: np.ndarray) -> int:
    """Match determinant signs of a square linear start to the data; returns the flips made.

    When every width equals ``c_in = c_out = c``, the end-to-end multiplier ``P(m)`` at a
    self-conjugate frequency is a real ``c x c`` matrix whose determinant cannot change sign
    without a singular layer: a start whose sign differs from that of the data's least-squares
    map ``A(m)`` (with ``A(m)`` well conditioned, ``s_min > RANK_RTOL s_max``) must cross a
    singular network, where the search crawls. Reflecting one row of the first layer's
    multiplier at ``m`` moves the start to the right component. Changes ``net`` in place.
    """
    if len(set(net.channels)) != 1 or net.stride is not None:
        return 0
    axes = tuple(range(2, X.ndim))
    xc, yc = X - X.mean(axis=0), Y - Y.mean(axis=0)  # the mean only touches m = 0 via biases
    xh = np.moveaxis(np.fft.fftn(xc, axes=axes), (0, 1), (-1, -2))  # (*grid, c, N)
    yh = np.moveaxis(np.fft.fftn(yc, axes=axes), (0, 1), (-1, -2))
    filters, _ = net.to_numpy()
    mults = [multipliers_from_filters(f, net.convention) for f in filters]
    flips = 0
    for m in map(tuple, np.argwhere(self_conjugate_mask(net.spatial))):
        a = np.real(yh[m] @ np.linalg.pinv(xh[m]))
        sv = np.linalg.svd(a, compute_uv=False)
        if sv[-1] <= RANK_RTOL * sv[0]:
            continue
        p = np.eye(a.shape[0])
        for mult in mults:
            p = np.real(mult[m]) @ p
        if np.linalg.det(p) * np.linalg.det(a) < 0:
            mults[0][m][0] *= -1
            flips += 1
    if flips:
        with torch.no_grad():
            net.weights[0].copy_(torch.as_tensor(filters_from_multipliers(mults[0],
                                                                          net.convention)))
    return flips


#: A fit whose largest per-layer activation (fit samples x channels x pixels) has fewer entries
#: than this runs on one intra-op thread: torch parallelises no elementwise op below its grain
#: size (32768 elements), so extra threads only wait for each other; on the shared 2-core
#: machine, with the other core busy, the quick linear figure's depth-3 fit took 30.3 s on 2
#: threads against 6.8 s on 1 (and a different iteration count).
SMALL_FIT_ELEMENTS = 32768


def _is_small(Xf: torch.Tensor, widths: Sequence[int], c_out: int, device) -> bool:
    """Whether a fit on CPU is below :data:`SMALL_FIT_ELEMENTS` (see there)."""
    if torch.device(device).type != "cpu":
        return False
    channels = max([Xf.shape[1], c_out, *widths])
    return Xf.shape[0] * channels * math.prod(Xf.shape[2:]) < SMALL_FIT_ELEMENTS


@contextlib.contextmanager
def _intra_op_threads(n: int | None):
    """Run the block on ``n`` torch intra-op threads (``None``: leave the setting), restored
    afterwards."""
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# ---------------------------------------------------------------------------------------------
# augmented Lagrangian
# ---------------------------------------------------------------------------------------------


def _lbfgs(params, closure_of, max_iter, gtol, history_size) -> tuple[int, bool]:
    """One L-BFGS run; returns (iterations, stopped before its iteration cap)."""
    opt = torch.optim.LBFGS(params, lr=1.0, max_iter=max_iter, max_eval=2 * max_iter,
                            tolerance_grad=gtol, tolerance_change=0.0,
                            history_size=history_size, line_search_fn="strong_wolfe")
    opt.step(closure_of(opt))
    iters = int(opt.state[params[0]].get("n_iter", 0))
    evals = int(opt.state[params[0]].get("func_evals", 0))
    return iters, iters < max_iter and evals < 2 * max_iter


def _solve_jjt(net, Xt, yscale, rhs_of, iters, ridge=0.0):
    """CG on ``(J J^T + delta I) u = b`` with ``J`` the Jacobian of ``f_theta(X) / yscale`` in
    theta, ``delta = ridge * scale`` and ``scale = <b, J J^T b> / <b, b>`` (see
    :data:`CG_RIDGE`). Returns ``(u, jtvp, scale)``.

    ``rhs_of(jvp, out)`` builds ``b``; ``J^T w`` is a backward pass and ``J v`` the
    double-backward trick, so no Jacobian is formed. Returns ``(u, jtvp)``. (Tried and dropped:
    a Gauss-Newton projection onto the constraint with this solver; CG on the rank-deficient
    ``J J^T`` of redundant constraints blew the step up, and the safeguarded version never
    helped.)
    """
    params = list(net.parameters())
    out = net(Xt) / yscale
    w0 = torch.zeros_like(out, requires_grad=True)
    jtw0 = torch.autograd.grad(out, params, w0, create_graph=True)

    def jvp(v):
        return torch.autograd.grad(jtw0, w0, v, retain_graph=True)[0]

    def jtvp(w):
        return torch.autograd.grad(out, params, w, retain_graph=True)

    b = rhs_of(jvp, out.detach())
    u = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    rr = float(torch.sum(r * r))
    scale = float(torch.sum(b * jvp(jtvp(b)))) / max(rr, 1e-300)
    delta = ridge * scale
    stop = 1e-28 * max(rr, 1e-300)
    for _ in range(iters):
        if rr <= stop:
            break
        ap = jvp(jtvp(p)) + delta * p
        pap = float(torch.sum(p * ap))
        if pap <= 0:
            break
        alpha = rr / pap
        u = u + alpha * p
        r = r - alpha * ap
        rr_new = float(torch.sum(r * r))
        p = r + (rr_new / rr) * p
        rr = rr_new
    return u.detach(), jtvp, scale


def _multiplier_estimate(net, Xt, yscale, include_bias, iters) -> torch.Tensor:
    """Least-squares multipliers ``argmin_lam ||grad ||theta||^2 + J^T lam||`` (J of ``c``).

    At a feasible point near the optimum the augmented Lagrangian then starts with nearly exact
    multipliers.
    """
    g = torch.autograd.grad(net.parameter_norm_sq(include_bias), list(net.parameters()))
    gnorm = math.sqrt(sum(float(torch.sum(v * v)) for v in g))
    lam, _, scale = _solve_jjt(net, Xt, yscale, lambda jvp, out: -jvp(g), iters)
    size = float(torch.linalg.norm(lam)) * math.sqrt(max(scale, 0.0))
    if not math.isfinite(size) or size > MULTIPLIER_BLOWUP * gnorm:
        lam, _, _ = _solve_jjt(net, Xt, yscale, lambda jvp, out: -jvp(g), iters, CG_RIDGE)
    return lam


def _constraint_jacobian(out: torch.Tensor, params: list[torch.Tensor]) -> torch.Tensor:
    """``d out / d theta`` as a dense ``(out.numel(), n_params)`` matrix (batched VJPs)."""
    flat = out.reshape(-1)
    eye = torch.eye(flat.numel(), dtype=flat.dtype, device=flat.device)
    rows = []
    for chunk in eye.split(256):
        grads = torch.autograd.grad(flat, params, chunk, retain_graph=True,
                                    is_grads_batched=True, allow_unused=True,
                                    materialize_grads=True)
        rows.append(torch.cat([g.reshape(len(chunk), -1) for g in grads], dim=1))
    return torch.cat(rows)


def _restore_feasibility(net: CircularCNN, Xt: torch.Tensor, Yt: torch.Tensor, tol: float,
                         include_bias: bool) -> dict:
    """Gauss-Newton on ``f_theta(X) = Y`` with a watchdog, in place on ``net``.

    Started where the augmented Lagrangian stopped short of ``tol``: each step is the
    minimum-norm correction ``-J^T (J J^T + eps I)^{-1} r`` of the linearised constraint
    (``eps = 1e-12 * mean eigenvalue of J J^T``, only to keep the solve defined). Near a point
    where ``J`` has full row rank it converges quadratically and moves ``theta`` by O(residual),
    so the norm changes little. Steps may first raise the residual (they cross ReLU kinks; a
    monotone Levenberg-Marquardt variant damped itself to a standstill there), so the best
    network seen is kept and restored at the end, and the steps stop once the residual exceeds
    ``RESTORE_BLOWUP`` times the starting one. At the bottleneck target of issue 5 (depth 4,
    12 samples) it took a run from max residual 1.5e-5 to 1e-15 in 5 steps for +0.13% of norm,
    where 5000 L-BFGS steps on the residual alone had gained nothing. It runs only when the
    Jacobian is small enough (:data:`RESTORE_MAX_CONSTRAINTS`, :data:`RESTORE_MAX_ENTRIES`)
    and never returns a larger residual than it started from.

    Returns the restoration's part of ``settings``: ``restoration`` = ``{"steps",
    "residual_max_rel_before", "residual_max_rel_after", "norm_before", "norm_after",
    "seconds", "stopped"}``.
    """
    t0 = time.perf_counter()
    params = list(net.parameters())
    n_params = sum(p.numel() for p in params)
    ymax = float(Yt.abs().max()) or 1.0

    def max_residual() -> tuple[torch.Tensor, float]:
        with torch.no_grad():
            r = (net(Xt) - Yt).reshape(-1)
        return r, float(r.abs().max()) / ymax

    r, res = max_residual()
    with torch.no_grad():
        info = {"steps": 0, "residual_max_rel_before": res,
                "norm_before": float(net.parameter_norm_sq(include_bias))}
    best = (res, [p.detach().clone() for p in params])
    if r.numel() > RESTORE_MAX_CONSTRAINTS or r.numel() * n_params > RESTORE_MAX_ENTRIES:
        stopped = (f"skipped: {r.numel()} constraints x {n_params} parameters exceed "
                   f"{RESTORE_MAX_CONSTRAINTS} / {RESTORE_MAX_ENTRIES:.0e} entries")
    else:
        stopped = f"max steps ({RESTORE_STEPS})"
        for _ in range(RESTORE_STEPS):
            if res <= tol:
                stopped = f"max|residual|/max|Y| <= {tol:.0e}"
                break
            if not res <= RESTORE_BLOWUP * info["residual_max_rel_before"]:
                stopped = f"residual grew {RESTORE_BLOWUP:.0e}-fold: steps diverge"
                break
            jac = _constraint_jacobian(net(Xt), params).detach()
            jjt = jac @ jac.T
            eps = 1e-12 * float(torch.trace(jjt)) / len(jjt)
            eye = torch.eye(len(jjt), dtype=jjt.dtype, device=jjt.device)
            delta = -(jac.T @ torch.linalg.solve(jjt + eps * eye, r))
            with torch.no_grad():
                i = 0
                for p in params:
                    p.add_(delta[i:i + p.numel()].reshape(p.shape))
                    i += p.numel()
            r, res = max_residual()
            info["steps"] += 1
            if res < best[0]:
                best = (res, [p.detach().clone() for p in params])
    with torch.no_grad():
        for p, saved in zip(params, best[1]):
            p.copy_(saved)
        info.update(residual_max_rel_after=best[0],
                    norm_after=float(net.parameter_norm_sq(include_bias)),
                    seconds=time.perf_counter() - t0, stopped=stopped)
    return {"restoration": info}


def _augmented_lagrangian(net, fit, check, include_bias, max_iter, tol, gtol, inner_iter, mu0,
                          history_size, restore,
                          estimate_multipliers=True) -> tuple[int, bool, str, dict]:
    """Run the method in place on ``net``; returns (iterations, converged, stop_reason, info).

    ``fit = (Xf, Yf)`` are the samples the objective sees and ``check = (Xt, Yt)`` those every
    stopping rule and reported residual uses (the same tensors, or the exact compression of
    :mod:`numerics.compress` for linear networks, whose residual has the same norm up to a
    constant). Scales (``rms(Y)``, ``max|Y|``, the number of constraints) come from ``check``.

    Phase 1 minimises the residual alone (L-BFGS) to reach an interpolating network; where it
    stalls above ``PHASE1_TOL`` and ``restore`` is set, Gauss-Newton steps
    (:func:`_restore_feasibility`) finish it (``info['phase1_restoration']``). Phase 2 is
    the augmented Lagrangian started at ``mu = mu0 * ||theta||^2 / n_constraints``: a penalty
    that is large from the start, because for ``L >= 3`` a frequency block that collapses to 0
    under a weak penalty is a local minimum the search never leaves (dropping a small singular
    value ``s`` saves ``L s^{2/L}`` of norm and costs only ``mu s^2`` of penalty). Phase 2
    starts from least-squares multipliers (:func:`_multiplier_estimate`), nearly exact at a
    warm start, or from ``lam = 0`` when ``estimate_multipliers`` is false (see
    :func:`_starts_from_zero_multipliers`). Per outer step ``info['history']`` keeps
    [iterations, residual, norm, seconds]; ``info['initial_multipliers']`` says which start.
    """
    t_start = time.perf_counter()
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
    while res > PHASE1_TOL:  # chunks of inner_iter until PHASE1_TOL (a warm start may already
        prev = res  # be there), 3 chunks without a 10% gain, or half the budget
        iters, _ = _lbfgs(params, feasibility, min(inner_iter, max_iter // 2 - total),
                          0.0, history_size)
        total += iters
        res = max_residual()
        slow = slow + 1 if res > 0.9 * prev else 0
        if res <= PHASE1_TOL or slow >= 3 or total >= max_iter // 2 or iters == 0:
            break
    info = {"phase1_iterations": total, "phase1_residual_max_rel": res,
            "history": []}  # per outer step: [L-BFGS its, max|res|/max|Y|, norm, seconds]
    if restore and res > PHASE1_TOL:  # a stalled L-BFGS (e.g. a perturbed, ill-conditioned
        # start) is often a few Gauss-Newton steps from the data
        info["phase1_restoration"] = _restore_feasibility(net, Xt, Yt, PHASE1_TOL,
                                                          include_bias)["restoration"]
        res = info["phase1_restoration"]["residual_max_rel_after"]  # of the network it kept
    info["phase1_seconds"] = time.perf_counter() - t_start
    with torch.no_grad():
        norm = float(net.parameter_norm_sq(include_bias))
    if not res <= PHASE1_TOL:
        return total, False, (f"infeasible start: phase 1 reached only max|residual|/max|Y| = "
                              f"{res:.1e} > {PHASE1_TOL:.0e} (dead ReLU units, too narrow, or "
                              f"a slow deep start); try another seed, restarts or max_iter"), info
    if estimate_multipliers:
        lam = _multiplier_estimate(net, Xf, yscale, include_bias, CG_ITERS)
        info["initial_multipliers"] = "least squares"
    else:
        lam = torch.zeros_like(Yf)
        info["initial_multipliers"] = "zero"
    info["multiplier_seconds"] = time.perf_counter() - t_start - info["phase1_seconds"]
    mu = float(mu0) * max(norm, 1e-12) / Yt.numel()
    mu_max = MU_GROWTH_CAP * mu
    prev_res, prev_norm, stalls, outer = math.inf, math.inf, 0, 0
    while True:
        budget = max_iter - total
        if budget <= 0:
            return total, False, f"max_iter: {max_iter} L-BFGS iterations used", info
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

        iters, finished = _lbfgs(params, lagrangian, min(inner_iter, budget), gtol, history_size)
        total += iters
        with torch.no_grad():
            lam += mu * residual()
            norm = float(net.parameter_norm_sq(include_bias))
        res = max_residual()
        info.update(outer=outer, mu=mu, residual_max_rel=res, inner_finished=finished)
        info["history"].append([iters, res, norm, time.perf_counter() - t_start])
        if not (math.isfinite(res) and math.isfinite(norm)):
            return total, False, "diverged: non-finite value", info
        settled = abs(norm - prev_norm) <= NORM_SETTLED_RTOL * norm
        if res <= tol and (finished or settled):
            why = ("L-BFGS stopped at a stationary point of the augmented Lagrangian"
                   if finished else f"the norm settled to {NORM_SETTLED_RTOL:.0e} relative")
            return total, True, (f"converged: {why}; max|residual|/max|Y| = {res:.1e} <= "
                                 f"{tol:.0e}"), info
        progress = res < 0.999 * prev_res or abs(norm - prev_norm) > 1e-13 * norm
        stalls = 0 if progress else stalls + 1
        if stalls >= 5:
            return total, False, (f"stalled: no progress in 5 outer iterations (max|residual|/"
                                  f"max|Y| = {res:.1e})"), info
        if res > 0.25 * prev_res:
            mu = min(3.0 * mu, mu_max)
        prev_res, prev_norm = res, norm


def _starts_from_zero_multipliers(activation: str, depth: int) -> bool:
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


def min_norm_fit(
    X: np.ndarray,
    Y: np.ndarray,
    depth: int,
    widths: Sequence[int],
    activation: str = "relu",
    convention: str = "scaled",
    bias: bool = True,
    seed: int = 0,
    init: CircularCNN | None = None,
    restarts: int = 1,
    max_iter: int = 20000,
    tol: float = 1e-10,
    device: str = "cpu",
    dtype: torch.dtype = torch.float64,
    include_bias: bool = True,
    gtol: float = 1e-10,
    inner_iter: int = 200,
    mu0: float = 1e3,
    history_size: int | None = None,
    init_scheme: str | None = None,
    compress_linear: bool = True,
    restore: bool = True,
) -> MinNormResult:
    """Minimise ``||theta||^2`` subject to ``f_theta(X) = Y`` (augmented Lagrangian + L-BFGS).

    Parameters
    ----------
    X : array ``(N, c_in, *spatial)``; Y : array ``(N, c_out, *spatial)``
    depth : number of convolution layers ``L``; widths : hidden widths ``c_1 .. c_{L-1}``
    activation, convention, bias : of the network (:class:`CircularCNN`)
    seed : initialisation seed; restart ``r`` uses ``seed + r``
    init : optional starting network (restart 0 starts from a copy of it)
    restarts : independent runs; the converged run of least norm is returned (else the run of
        least residual), every run is summarised in ``restarts`` of the record
    max_iter : L-BFGS iteration budget per run
    tol : stop when ``max|f(X) - Y| / max|Y| <= tol`` and the last inner L-BFGS run stopped
        on its own (``max|grad| <= gtol``, or no descent direction left in float64), not at
        its iteration cap
    mu0 : initial penalty as a multiple of ``||theta||^2 / n_constraints`` after phase 1
    inner_iter : L-BFGS iterations per augmented-Lagrangian step and per phase-1 chunk
    include_bias : count biases in the minimised norm (THEORY.md default)
    history_size : L-BFGS memory; default 20 for compressed linear fits (there the two-loop
        recursion, not the tiny network, dominates an iteration: 3 ms against 10 ms at 50 on
        the issue-3 benchmark) and 50 otherwise (on ReLU fits 20 needs up to 4x the iterations)
    init_scheme : random starts of :class:`CircularCNN`; default 'orthogonal' for linear
        networks (multipliers with equal singular values keep deep products well conditioned:
        phase 1 of the benchmark takes 300-400 iterations instead of 1600) and 'gaussian' for
        ReLU networks (no measured gain there)
    compress_linear : for ``activation='identity'``, let the objective see the exact
        compression of :func:`numerics.compress.compress_linear_data` (``c_in`` or ``2 c_in``
        samples instead of ``N``); stopping rules and the record always use all of ``(X, Y)``.
        Random starts of square linear networks are also oriented
        (:func:`_orient_linear_start`).
    restore : when the augmented Lagrangian stops without converging and above ``tol``, restore
        feasibility by Gauss-Newton steps (:func:`_restore_feasibility`) on all of
        ``(X, Y)``; the run stays ``converged=False`` (the result need not be a KKT point) but
        its network fits the data it reports, and ``settings['restoration']`` records the
        residual and the norm before and after. The same steps finish a phase 1 that stalls
        above its tolerance (``settings['phase1_restoration']``).

    Notes
    -----
    Give hidden widths above the largest per-frequency rank when possible: at width = rank a
    real (self-conjugate) frequency block whose determinant sign differs from the target's is
    reachable only through a singular layer, and the search then stops with
    ``infeasible start``.

    Returns
    -------
    MinNormResult with ``bound = 'upper'``, ``method = 'augmented_lagrangian'``.
    """
    X, Y = _check_data(X, Y)
    widths = _check_architecture(depth, widths)
    if restarts < 1:
        raise InputError(f"restarts must be >= 1, got {restarts}")
    start = time.perf_counter()
    Xt = torch.as_tensor(X, dtype=dtype, device=device)
    Yt = torch.as_tensor(Y, dtype=dtype, device=device)
    linear = activation == "identity"
    compressed = linear and compress_linear
    if history_size is None:
        history_size = 20 if compressed else 50
    if init_scheme is None:
        init_scheme = "orthogonal" if linear else "gaussian"
    Xf, Yf = Xt, Yt
    if compressed:
        Xc, Yc = compress_linear_data(X, Y, bias=bias)
        Xf = torch.as_tensor(Xc, dtype=dtype, device=device)
        Yf = torch.as_tensor(Yc, dtype=dtype, device=device)
    runs = []
    with _intra_op_threads(1 if _is_small(Xf, widths, Yf.shape[1], device) else None):
        for r in range(restarts):
            from_init = init is not None and r == 0
            net = _make_net(X, Y, depth, widths, activation, convention, bias, seed + r,
                            init if from_init else None, device, dtype, init_scheme)
            flips = _orient_linear_start(net, X, Y) if linear and not from_init else 0
            t0 = time.perf_counter()
            iters, ok, why, info = _augmented_lagrangian(net, (Xf, Yf), (Xt, Yt), include_bias,
                                                         max_iter, tol, gtol, inner_iter, mu0,
                                                         history_size, restore,
                                                         not _starts_from_zero_multipliers(
                                                             activation, depth))
            if "phase1_restoration" in info:
                rest = info["phase1_restoration"]
                why += (f"; phase 1 had stalled at max|residual|/max|Y| "
                        f"{rest['residual_max_rel_before']:.1e}: {rest['steps']} Gauss-Newton "
                        f"steps took it to {rest['residual_max_rel_after']:.1e}")
            # only after phase 2 ran: an infeasible start was never norm-minimised
            if restore and not ok and info.get("residual_max_rel", 0.0) > tol:
                info.update(_restore_feasibility(net, Xt, Yt, tol, include_bias))
                rest = info["restoration"]
                why += (f"; then {rest['steps']} Gauss-Newton restoration steps: "
                        f"max|residual|/max|Y| {rest['residual_max_rel_before']:.1e} -> "
                        f"{rest['residual_max_rel_after']:.1e}, norm {rest['norm_before']:.6g} -> "
                        f"{rest['norm_after']:.6g} ({rest['stopped']})")
            rec = _record(net, Xt, Yt, include_bias, iterations=iters, wall_time=0.0,
                          device=str(device), converged=ok, stop_reason=why,
                          method="augmented_lagrangian", depth=depth, widths=widths,
                          seed=seed + r, dtype=str(dtype).replace("torch.", ""),
                          settings={"tol": tol, "gtol": gtol, "max_iter": max_iter,
                                    "inner_iter": inner_iter, "mu0": mu0,
                                    "history_size": history_size, **info,
                                    "from_init": from_init, "init_scheme": init_scheme,
                                    "fit_samples": int(Xf.shape[0]), "orientation_flips": flips})
            runs.append((rec, time.perf_counter() - t0))
    ok_runs = [rec for rec, _ in runs if rec.converged]
    best = min(ok_runs, key=lambda rec: rec.norm_sq) if ok_runs else \
        min((rec for rec, _ in runs), key=lambda rec: (rec.residual_rel, rec.norm_sq))
    best.restarts = [{"seed": rec.seed, "norm_sq": rec.norm_sq, "residual_rel": rec.residual_rel,
                      "converged": rec.converged, "iterations": rec.iterations,
                      "wall_time": t} for rec, t in runs]
    best.wall_time = time.perf_counter() - start
    return best


# ---------------------------------------------------------------------------------------------
# ridge protocol
# ---------------------------------------------------------------------------------------------


def ridge_fit(
    X: np.ndarray,
    Y: np.ndarray,
    depth: int,
    widths: Sequence[int],
    lam: float,
    lr: float,
    steps: int,
    activation: str = "relu",
    convention: str = "scaled",
    bias: bool = True,
    seed: int = 0,
    init: CircularCNN | None = None,
    batch_size: int | None = None,
    device: str = "cpu",
    dtype: torch.dtype = torch.float64,
    include_bias: bool = True,
    gtol: float = 0.0,
) -> MinNormResult:
    """(Stochastic) gradient descent on ``loss + lam ||theta||^2`` with learning rate ``lr``.

    ``batch_size=None`` is full-batch gradient descent; otherwise each step uses a batch drawn
    without replacement by a generator seeded with ``seed`` (mean squared error over the batch).
    Stops after ``steps`` steps, on a non-finite objective (``diverged``), or, with ``gtol > 0``
    and full batches, when the objective's gradient has ``max |.| <= gtol`` (``converged``).
    The returned network does not interpolate: its residual is in the record, and ``norm_sq`` is
    an upper bound on the cost of the function it computes, not of ``Y``.
    """
    X, Y = _check_data(X, Y)
    widths = _check_architecture(depth, widths)
    if not (lam >= 0 and lr > 0 and steps >= 0):
        raise InputError(f"need lam >= 0, lr > 0, steps >= 0; got {lam}, {lr}, {steps}")
    if batch_size is not None and not 1 <= batch_size <= X.shape[0]:
        raise InputError(f"batch_size must be in [1, N={X.shape[0]}], got {batch_size}")
    start = time.perf_counter()
    Xt = torch.as_tensor(X, dtype=dtype, device=device)
    Yt = torch.as_tensor(Y, dtype=dtype, device=device)
    net = _make_net(X, Y, depth, widths, activation, convention, bias, seed, init, device, dtype)
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.0, weight_decay=0.0)
    gen = torch.Generator().manual_seed(seed)
    n = X.shape[0]
    converged, why, step = False, f"steps: {steps} steps done", 0
    tail: list[float] = []  # the objective at the last OBJECTIVE_TAIL steps (stability check)
    for step in range(1, steps + 1):
        if batch_size is None:
            xb, yb = Xt, Yt
        else:
            idx = torch.randperm(n, generator=gen)[:batch_size].to(device)
            xb, yb = Xt[idx], Yt[idx]
        opt.zero_grad()
        r = net(xb) - yb
        obj = torch.sum(r * r) / xb.shape[0] + lam * net.parameter_norm_sq(include_bias)
        if not torch.isfinite(obj):
            why = f"diverged: non-finite objective at step {step}"
            break
        if step > steps - OBJECTIVE_TAIL:
            tail.append(float(obj.detach()))
        obj.backward()
        if gtol > 0 and batch_size is None:
            gmax = max(float(p.grad.abs().max()) for p in net.parameters())
            if gmax <= gtol:
                converged, why = True, f"converged: max|grad| = {gmax:.1e} <= {gtol:.0e}"
                break
        opt.step()
    return _record(net, Xt, Yt, include_bias, iterations=step, wall_time=time.perf_counter() -
                   start, device=str(device), converged=converged, stop_reason=why,
                   method="ridge_gd" if batch_size is None else "ridge_sgd", depth=depth,
                   widths=widths, seed=seed, dtype=str(dtype).replace("torch.", ""),
                   settings={"lam": lam, "lr": lr, "steps": steps, "batch_size": batch_size,
                             "gtol": gtol, "objective_tail": tail})
