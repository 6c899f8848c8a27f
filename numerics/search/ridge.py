"""The papers' protocol: (stochastic) gradient descent on ``loss + lam ||theta||^2``.

``loss`` is the mean over samples of the squared error summed over outputs and pixels,
``(1/N) sum_n ||f_theta(x_n) - y_n||^2``; the penalty is an explicit term of the objective
(Adam's ``weight_decay`` is not an L2 penalty and is not used). The returned network does not
interpolate: its residual is in the record, and ``norm_sq`` is an upper bound on the cost of the
function it computes, not of ``Y``.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from cbn.numerics.inputs import InputError
from cbn.numerics.search.fit import make_net
from cbn.numerics.search.result import Architecture, MinNormResult, check_data, make_record
from cbn.numerics.search.settings import DTYPES, SearchSettings
from cbn.numerics.search.start import Start
from cbn.numerics.search.status import Status


@dataclass(frozen=True)
class RidgeSettings:
    """Settings of :func:`ridge_fit` (frozen, validated on construction).

    Attributes
    ----------
    lam : weight of ``||theta||^2`` in the objective (>= 0)
    lr : learning rate (> 0), no momentum
    steps : gradient steps (>= 0)
    batch_size : None for full-batch gradient descent; else each step uses a batch drawn
        without replacement by a generator seeded with the start's seed
    gtol : with ``gtol > 0`` and full batches, stop when the objective's gradient has
        ``max |.| <= gtol`` (``Status.CONVERGED``)
    include_bias : count biases in the penalty and the reported norm
    device, dtype : where and in which float type it runs (``dtype`` as in SearchSettings)
    objective_tail : steps at the end whose objective is kept (``objective_tail`` of the
        record's settings): GD at a stable rate decreases a smooth objective monotonically,
        oscillation does not
    """

    lam: float
    lr: float
    steps: int
    batch_size: int | None = None
    gtol: float = 0.0
    include_bias: bool = True
    device: str = "cpu"
    dtype: str = "float64"
    objective_tail: int = 6

    def __post_init__(self) -> None:
        if not (self.lam >= 0 and self.lr > 0 and self.steps >= 0 and math.isfinite(self.lr)):
            raise InputError(f"need lam >= 0, lr > 0, steps >= 0; got {self.lam}, {self.lr}, "
                             f"{self.steps}")
        if self.dtype not in DTYPES:
            raise InputError(f"dtype must be one of {tuple(DTYPES)}, got {self.dtype!r}")
        if self.batch_size is not None and self.batch_size < 1:
            raise InputError(f"batch_size must be >= 1 or None, got {self.batch_size}")


def ridge_fit(X: np.ndarray, Y: np.ndarray, architecture: Architecture,
              settings: RidgeSettings, start: Start | None = None) -> MinNormResult:
    """Gradient descent on ``loss + lam ||theta||^2`` from ``start`` (default
    :meth:`Start.random`, seed 0); stops after ``settings.steps`` steps
    (``Status.STEPS``), on a non-finite objective (``Status.DIVERGED``), or at the gradient
    tolerance (``Status.CONVERGED``, see :class:`RidgeSettings`)."""
    start = Start.random() if start is None else start
    X, Y = check_data(X, Y)
    s, a = settings, architecture
    if s.batch_size is not None and s.batch_size > X.shape[0]:
        raise InputError(f"batch_size must be in [1, N={X.shape[0]}], got {s.batch_size}")
    t_start = time.perf_counter()
    dtype = DTYPES[s.dtype]
    Xt = torch.as_tensor(X, dtype=dtype, device=s.device)
    Yt = torch.as_tensor(Y, dtype=dtype, device=s.device)
    scheme = SearchSettings(init_scheme="gaussian", device=s.device, dtype=s.dtype)
    net = make_net(X, Y, a, start.network, start.seed, scheme)
    opt = torch.optim.SGD(net.parameters(), lr=s.lr, momentum=0.0, weight_decay=0.0)
    gen = torch.Generator().manual_seed(start.seed)
    n = X.shape[0]
    status, why, step = Status.STEPS, f"steps: {s.steps} steps done", 0
    tail: list[float] = []  # the objective at the last objective_tail steps (stability check)
    for step in range(1, s.steps + 1):
        if s.batch_size is None:
            xb, yb = Xt, Yt
        else:
            idx = torch.randperm(n, generator=gen)[:s.batch_size].to(s.device)
            xb, yb = Xt[idx], Yt[idx]
        opt.zero_grad()
        r = net(xb) - yb
        obj = torch.sum(r * r) / xb.shape[0] + s.lam * net.parameter_norm_sq(s.include_bias)
        if not torch.isfinite(obj):
            status, why = Status.DIVERGED, f"diverged: non-finite objective at step {step}"
            break
        if step > s.steps - s.objective_tail:
            tail.append(float(obj.detach()))
        obj.backward()
        if s.gtol > 0 and s.batch_size is None:
            gmax = max(float(p.grad.abs().max()) for p in net.parameters())
            if gmax <= s.gtol:
                status, why = Status.CONVERGED, f"converged: max|grad| = {gmax:.1e} <= {s.gtol:.0e}"
                break
        opt.step()
    return make_record(net, Xt, Yt, s.include_bias, iterations=step,
                       wall_time=time.perf_counter() - t_start, device=str(s.device),
                       status=status, message=why,
                       method="ridge_gd" if s.batch_size is None else "ridge_sgd",
                       depth=a.depth, widths=list(a.widths), seed=start.seed, dtype=s.dtype,
                       settings={**asdict(s), "objective_tail": tail})
