"""Plain (stochastic) gradient descent on the ridge objective ``loss + lam ||theta||^2``.

``loss = (1/N) sum_n ||f_theta(x_n) - y_n||^2`` (squared error summed over outputs and pixels,
or over the ``K`` one-hot entries of a pooling head); the penalty is an explicit term of the
objective, never an optimizer's ``weight_decay``. One loop serves :func:`ridge_fit` and the
short probes of :mod:`cbn.numerics.search.rate`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import torch
from tqdm import tqdm

from cbn.numerics.network import CircularCNN
from cbn.numerics.search.status import Status


def objective(net: CircularCNN, x: torch.Tensor, y: torch.Tensor, lam: float,
              include_bias: bool) -> torch.Tensor:
    """``(1/n) sum ||net(x) - y||^2 + lam ||theta||^2`` on the batch ``x`` ``(n, c, *spatial)``
    (a differentiable scalar)."""
    r = net(x) - y
    return torch.sum(r * r) / x.shape[0] + lam * net.parameter_norm_sq(include_bias)


@dataclass(frozen=True)
class Descent:
    """What one descent did.

    Attributes
    ----------
    steps : gradient steps taken (the step that found a non-finite objective or met ``gtol``
        counts, as in the record's ``iterations``)
    status, message : the stopping rule (``STEPS``, ``DIVERGED`` or ``CONVERGED``) and in words
    first : the objective at the start (on the first batch)
    tail : the objective at the last ``tail`` steps (before each of those steps)
    """

    steps: int
    status: Status
    message: str
    first: float
    tail: tuple[float, ...]


def gradient_descent(net: CircularCNN, X: torch.Tensor, Y: torch.Tensor, lam: float, lr: float,
                     steps: int, *, batch_size: int | None = None,
                     generator: torch.Generator | None = None, include_bias: bool = True,
                     gtol: float = 0.0, tail: int = 6, progress: bool = False,
                     desc: str = "ridge GD") -> Descent:
    """``steps`` steps of SGD without momentum on :func:`objective`, in place on ``net``.

    Parameters
    ----------
    X, Y : the samples and targets (tensors on the network's device and dtype)
    batch_size : None for full batches; else each step draws a batch without replacement
        with ``generator`` (CPU)
    gtol : with full batches and ``gtol > 0``, stop when ``max |grad| <= gtol``
    tail : how many final objectives to keep (the stability test of a run)
    progress : a tqdm bar on stderr (the objective shown every 50 steps)
    """
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.0, weight_decay=0.0)
    n = X.shape[0]
    status, why, step, first = Status.STEPS, f"steps: {steps} steps done", 0, float("nan")
    kept: list[float] = []
    bar = tqdm(range(1, steps + 1), desc=desc, file=sys.stderr, disable=not progress,
               leave=False, mininterval=0.5)
    for step in bar:
        if batch_size is None:
            xb, yb = X, Y
        else:
            idx = torch.randperm(n, generator=generator)[:batch_size].to(X.device)
            xb, yb = X[idx], Y[idx]
        opt.zero_grad()
        obj = objective(net, xb, yb, lam, include_bias)
        if step == 1:
            first = float(obj.detach())
        if not torch.isfinite(obj):
            status, why = Status.DIVERGED, f"diverged: non-finite objective at step {step}"
            break
        if step > steps - tail:
            kept.append(float(obj.detach()))
        if progress and step % 50 == 1:
            bar.set_postfix(objective=f"{float(obj.detach()):.4g}", refresh=False)
        obj.backward()
        if gtol > 0 and batch_size is None:
            gmax = max(float(p.grad.abs().max()) for p in net.parameters())
            if gmax <= gtol:
                status, why = Status.CONVERGED, f"converged: max|grad| = {gmax:.1e} <= {gtol:.0e}"
                break
        opt.step()
    bar.close()
    return Descent(step, status, why, first, tuple(kept))
