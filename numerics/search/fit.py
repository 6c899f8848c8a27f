"""Near-minimal-norm circular CNNs that represent a target on samples
(paper_notes/theory.md sections 2, 7).

:func:`min_norm_fit` solves ``min ||theta||^2 s.t. f_theta(X) = Y`` by an augmented Lagrangian
(:mod:`cbn.numerics.search.augmented_lagrangian`): ``||theta||^2 + <lam, c> + (mu/2) ||c||^2``
with the scaled residual ``c = (f_theta(X) - Y) / rms(Y)``, minimised in ``theta`` by L-BFGS
(strong Wolfe line search). A trained network certifies an **upper** bound on the
representation cost ``R(f; Omega, L)`` of the function it computes on the samples; it bounds
the cost of the target only up to the constraint residual, which every record reports.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np
import torch

from cbn.numerics.compress import compress_linear_data
from cbn.numerics.inputs import InputError
from cbn.numerics.network import CircularCNN
from cbn.numerics.search.augmented_lagrangian import (
    augmented_lagrangian,
    starts_from_zero_multipliers,
)
from cbn.numerics.search.lbfgs import intra_op_threads, is_small
from cbn.numerics.search.orientation import orient_linear_start
from cbn.numerics.search.path import ridge_path
from cbn.numerics.search.restoration import restore_feasibility
from cbn.numerics.search.result import (
    Architecture,
    MinNormResult,
    best_run,
    check_data,
    make_record,
)
from cbn.numerics.search.settings import SearchSettings
from cbn.numerics.search.start import Start
from cbn.numerics.search.status import Status


@dataclass(frozen=True)
class FitData:
    """The samples of one search: ``X``, ``Y`` as given (numpy, float64), the tensors every
    stopping rule and record uses (``Xt``, ``Yt``) and those the objective sees (``Xf``,
    ``Yf``: the same, or the exact compression of a linear fit)."""

    X: np.ndarray
    Y: np.ndarray
    Xt: torch.Tensor
    Yt: torch.Tensor
    Xf: torch.Tensor
    Yf: torch.Tensor


def make_net(X: np.ndarray, Y: np.ndarray, architecture: Architecture,
             network: CircularCNN | None, seed: int, settings: SearchSettings) -> CircularCNN:
    """A copy of ``network`` on the search's device and dtype (checked against the data), or a
    random network seeded ``seed`` with ``settings.init_scheme`` (resolved, not None)."""
    a, dtype, device = architecture, settings.torch_dtype, settings.device
    if network is not None:
        net = copy.deepcopy(network).to(device=device, dtype=dtype)
        expected = tuple(a.channels(X.shape[1], Y.shape[1]))
        if net.channels != expected or net.spatial != X.shape[2:] or \
                net.head_classes != a.head_classes:
            head = "without a head" if a.head_classes is None else \
                f"with a {a.head_classes}-class head"
            raise InputError(
                f"init network has channels {net.channels} on {net.spatial} (head classes "
                f"{net.head_classes}); the fit needs {expected} on {X.shape[2:]} {head}"
            )
        return net
    return CircularCNN(a.channels(X.shape[1], Y.shape[1]), X.shape[2:],
                       activation=a.activation, bias=a.bias, convention=a.convention,
                       dtype=dtype, device=device, seed=seed, init_scheme=settings.init_scheme,
                       head_classes=a.head_classes)


def resolved(settings: SearchSettings, architecture: Architecture) -> SearchSettings:
    """``settings`` with the per-network defaults of ``history_size``, ``init_scheme`` and
    ``inner_iter`` filled in (documented on :class:`SearchSettings`)."""
    linear = architecture.activation == "identity"
    compressed = linear and settings.compress_linear
    return settings.with_values({
        "history_size": settings.history_size or (20 if compressed else 50),
        "init_scheme": settings.init_scheme or ("orthogonal" if linear else "gaussian"),
        "inner_iter": settings.inner_iter or (200 if linear else 2000),
    })


def search_once(data: FitData, architecture: Architecture, network: CircularCNN | None,
                seed: int, settings: SearchSettings, path: bool = False) -> MinNormResult:
    """One run of the search from ``network`` (None: a random network seeded ``seed``, moved
    along the weight-decay path of :mod:`cbn.numerics.search.path` first when ``path``)."""
    a = architecture
    linear = a.activation == "identity"
    net = make_net(data.X, data.Y, a, network, seed, settings)
    t0 = time.perf_counter()
    stages = ridge_path(net, data.Xt, data.Yt, settings, seed) if path and network is None else []
    orient = linear and network is None and a.head_classes is None and not path
    flips = orient_linear_start(net, data.X, data.Y) if orient else 0
    iters, status, why, info = augmented_lagrangian(
        net, (data.Xf, data.Yf), (data.Xt, data.Yt), settings,
        not starts_from_zero_multipliers(a.activation, a.depth))
    if "phase1_restoration" in info:
        rest = info["phase1_restoration"]
        why += (f"; phase 1 had stalled at max|residual|/max|Y| "
                f"{rest['residual_max_rel_before']:.1e}: {rest['steps']} Gauss-Newton "
                f"steps took it to {rest['residual_max_rel_after']:.1e}")
    restored = False
    # only after phase 2 ran: an infeasible start was never norm-minimised
    if settings.restore and status is not Status.CONVERGED and \
            info.get("residual_max_rel", 0.0) > settings.tol:
        info.update(restore_feasibility(net, data.Xt, data.Yt, settings.tol, settings))
        rest = info["restoration"]
        restored = rest["residual_max_rel_after"] < rest["residual_max_rel_before"]
        why += (f"; then {rest['steps']} Gauss-Newton restoration steps: "
                f"max|residual|/max|Y| {rest['residual_max_rel_before']:.1e} -> "
                f"{rest['residual_max_rel_after']:.1e}, norm {rest['norm_before']:.6g} -> "
                f"{rest['norm_after']:.6g} ({rest['stopped']})")
    return make_record(
        net, data.Xt, data.Yt, settings.include_bias, iterations=iters,
        wall_time=time.perf_counter() - t0, device=str(settings.device), status=status,
        message=why, restored=restored, method="augmented_lagrangian", depth=a.depth,
        widths=list(a.widths), seed=seed, dtype=settings.dtype,
        settings={**settings.to_dict(), **info, "from_init": network is not None,
                  "fit_samples": int(data.Xf.shape[0]), "orientation_flips": flips,
                  "path": [stage.to_dict() for stage in stages]})


def min_norm_fit(
    X: np.ndarray,
    Y: np.ndarray,
    architecture: Architecture,
    start: Start | None = None,
    settings: SearchSettings | None = None,
) -> MinNormResult:
    """Minimise ``||theta||^2`` subject to ``f_theta(X) = Y`` (augmented Lagrangian + L-BFGS).

    Parameters
    ----------
    X : array ``(N, c_in, *spatial)``; Y : array ``(N, c_out, *spatial)``, or with a pooling
        head (``architecture.head_classes = K``) labels ``(N,)`` or an array ``(N, K)``: the
        constraints are then ``f_theta(x_n) = onehot(y_n)`` (or the given rows)
    architecture : depth, hidden widths, activation, convention, bias and head of the network
    start : :meth:`Start.random` (default, seed 0), :meth:`Start.path` or :meth:`Start.given`;
        restart ``r`` starts from the given network (``r = 0``) or at random with seed
        ``start.seed + r`` (after the weight-decay path for a path start)
    settings : every other choice, with its default and reason (:class:`SearchSettings`)

    The search runs ``settings.restarts`` times (stopping at the first run that fits when
    ``settings.restart_until_fit``) and keeps :func:`cbn.numerics.search.result.best_run`: the
    fitting run (``residual_rel <= settings.residual_rtol``) of least norm, else the run of
    least residual; ``restarts`` of the record summarises every run.

    Notes
    -----
    Give hidden widths above the largest per-frequency rank when possible: at width = rank a
    real (self-conjugate) frequency block whose determinant sign differs from the target's is
    reachable only through a singular layer, and the search then stops with
    ``Status.INFEASIBLE_START``.

    Returns
    -------
    MinNormResult with ``bound = 'upper'``, ``method = 'augmented_lagrangian'``.
    """
    start = Start.random() if start is None else start
    settings = resolved(SearchSettings() if settings is None else settings, architecture)
    X, Y = check_data(X, Y, architecture.head_classes)
    if start.kind not in ("random", "path") and start.network is None:
        raise InputError(f"a {start.kind} start needs its network: use Start.given(network)")
    if start.noise > 0:
        raise InputError("min_norm_fit takes a start network as given: perturb it first "
                         "(cbn.numerics.starts.perturbed_network) and pass noise 0")
    t_start = time.perf_counter()
    dtype, device = settings.torch_dtype, settings.device
    Xt = torch.as_tensor(X, dtype=dtype, device=device)
    Yt = torch.as_tensor(Y, dtype=dtype, device=device)
    Xf, Yf = Xt, Yt
    if architecture.activation == "identity" and settings.compress_linear and \
            architecture.head_classes is None:  # the compression is for convolution outputs
        Xc, Yc = compress_linear_data(X, Y, bias=architecture.bias)
        Xf = torch.as_tensor(Xc, dtype=dtype, device=device)
        Yf = torch.as_tensor(Yc, dtype=dtype, device=device)
    data = FitData(X, Y, Xt, Yt, Xf, Yf)
    runs: list[MinNormResult] = []
    small = is_small(Xf, architecture.widths, Yf.shape[1], device)
    with intra_op_threads(1 if small else None):
        for r in range(settings.restarts):
            network = start.network if r == 0 else None
            runs.append(search_once(data, architecture, network, start.seed + r, settings,
                                    path=start.kind == "path"))
            if settings.restart_until_fit and runs[-1].fits(settings.residual_rtol):
                break
    best = best_run(runs, settings.residual_rtol)
    best.restarts = [run.summary() for run in runs]
    best.wall_time = time.perf_counter() - t_start
    return best
