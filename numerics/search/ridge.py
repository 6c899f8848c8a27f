"""The papers' protocol: (stochastic) gradient descent on ``loss + lam ||theta||^2``.

``loss`` is the mean over samples of the squared error summed over outputs and pixels,
``(1/N) sum_n ||f_theta(x_n) - y_n||^2``; the penalty is an explicit term of the objective
(Adam's ``weight_decay`` is not an L2 penalty and is not used). The returned network does not
interpolate: its residual is in the record, and ``norm_sq`` is an upper bound on the cost of the
function it computes, not of ``Y``.

With a pooling head (``Architecture.head_classes = K``) the targets are labels ``(N,)``, taken
one-hot, or an ``(N, K)`` array, and the loss is the same squared error on the ``K`` outputs.
Squared loss rather than cross-entropy: it is the loss whose ``lam -> 0`` limit is the
minimal-norm interpolation of :func:`cbn.numerics.search.min_norm_fit` (the same one-hot
constraints), it has a minimiser at every ``lam > 0`` (cross-entropy pushes logits, hence the
norm, to infinity on separable data) and one definition of ``loss`` serves every caller.

The learning rate is given, or chosen by the stability rule of :mod:`cbn.numerics.search.rate`
(``lr = lr_factor / sharpness`` of the objective at the start); the largest stable rate can be
measured as well (``probe_steps > 0``). Both are in ``settings['learning_rate']`` of the record.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from cbn.numerics.inputs import InputError
from cbn.numerics.search.descent import gradient_descent
from cbn.numerics.search.fit import make_net
from cbn.numerics.search.lbfgs import intra_op_threads, is_small
from cbn.numerics.search.rate import LearningRate, largest_stable_lr, sharpness
from cbn.numerics.search.result import Architecture, MinNormResult, check_data, make_record
from cbn.numerics.search.settings import DTYPES, SearchSettings
from cbn.numerics.search.start import Start


@dataclass(frozen=True)
class RidgeSettings:
    """Settings of :func:`ridge_fit` (frozen, validated on construction).

    Attributes
    ----------
    lam : weight of ``||theta||^2`` in the objective (>= 0)
    lr : learning rate (> 0), no momentum; None: the stability rule ``lr_factor / sharpness``
        (:mod:`cbn.numerics.search.rate`)
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
    lr_factor : ``c`` of the rule ``lr = c / sharpness`` (GD on a quadratic is stable iff
        ``c < 2``; 1 keeps a margin of 2, reasons in :mod:`cbn.numerics.search.rate`)
    sharpness_iters : largest number of Hessian-vector products of the power iteration
    probe_steps : > 0: also measure the largest stable full-batch rate by probes of this many
        steps (:func:`cbn.numerics.search.rate.largest_stable_lr`); 0: do not
    probe_bisections : geometric bisections of the probes' bracket
    lr_rule : with ``lr=None``: ``"sharpness"`` (``lr = lr_factor / sharpness``) or
        ``"probe"`` (``lr = (lr_factor / 2) * largest_stable``, the same margin below the
        measured limit as the first rule keeps below the quadratic one ``2 / sharpness``;
        needs ``probe_steps > 0``). The probe rule exists because on deep ReLU nets with
        biases the start's sharpness can be far above what limits the rate (measured in the
        issue-17 report: the rule's rate 16x below the largest stable one on the digits
        classifier), and a rate that small leaves the weight decay no time to act
    progress : a progress bar on stderr
    """

    lam: float
    lr: float | None
    steps: int
    batch_size: int | None = None
    gtol: float = 0.0
    include_bias: bool = True
    device: str = "cpu"
    dtype: str = "float64"
    objective_tail: int = 6
    lr_factor: float = 1.0
    sharpness_iters: int = 50
    probe_steps: int = 0
    probe_bisections: int = 3
    lr_rule: str = "sharpness"
    progress: bool = True

    def __post_init__(self) -> None:
        lr_ok = self.lr is None or (self.lr > 0 and math.isfinite(self.lr))
        if not (self.lam >= 0 and lr_ok and self.steps >= 0):
            raise InputError(f"need lam >= 0, lr > 0 (or None), steps >= 0; got {self.lam}, "
                             f"{self.lr}, {self.steps}")
        if self.dtype not in DTYPES:
            raise InputError(f"dtype must be one of {tuple(DTYPES)}, got {self.dtype!r}")
        if self.batch_size is not None and self.batch_size < 1:
            raise InputError(f"batch_size must be >= 1 or None, got {self.batch_size}")
        if not (0 < self.lr_factor < 2 and self.sharpness_iters >= 1 and self.probe_steps >= 0
                and self.probe_bisections >= 0):
            raise InputError(f"need 0 < lr_factor < 2, sharpness_iters >= 1, probe_steps >= 0 "
                             f"and probe_bisections >= 0; got {self.lr_factor}, "
                             f"{self.sharpness_iters}, {self.probe_steps}, "
                             f"{self.probe_bisections}")
        if self.lr_rule not in ("sharpness", "probe") or (
                self.lr_rule == "probe" and self.probe_steps == 0):
            raise InputError(f"lr_rule must be 'sharpness' or 'probe' (with probe_steps > 0), "
                             f"got {self.lr_rule!r} with probe_steps {self.probe_steps}")


def choose_rate(net, Xt: torch.Tensor, Yt: torch.Tensor, settings: RidgeSettings,
                seed: int = 0) -> LearningRate:
    """The rate of a run from ``net`` (not changed): ``settings.lr``, or the stability rule;
    the sharpness is computed when the rule needs it or the largest stable rate is measured,
    and the latter only when ``settings.probe_steps > 0``."""
    s = settings
    if s.lr is not None and s.probe_steps == 0:
        return LearningRate(lr=s.lr, rule="given")
    top = sharpness(net, Xt, Yt, s.lam, s.include_bias, s.sharpness_iters, seed=seed)
    if s.lr is None:
        if not top > 0:
            raise InputError(f"the objective has sharpness {top:.3g} <= 0 at the start: give "
                             f"the learning rate explicitly (lr=...)")
        rate = LearningRate(lr=s.lr_factor / top, rule="stability", sharpness=top,
                            factor=s.lr_factor)
    else:
        rate = LearningRate(lr=s.lr, rule="given", sharpness=top)
    if s.probe_steps > 0:
        probed = largest_stable_lr(net, Xt, Yt, s.lam, rate.lr, s.probe_steps, s.include_bias,
                                   s.probe_bisections)
        lr, rule = rate.lr, rate.rule
        if s.lr is None and s.lr_rule == "probe":
            lr, rule = 0.5 * s.lr_factor * probed.largest_stable, "probe"
            if not lr > 0:
                raise InputError(f"no stable rate found down to {probed.probes[-1][0]:.3g}: "
                                 f"give the learning rate explicitly (lr=...)")
        rate = LearningRate(lr=lr, rule=rule, sharpness=top, factor=rate.factor,
                            largest_stable=probed.largest_stable,
                            smallest_unstable=probed.smallest_unstable,
                            probe_steps=probed.probe_steps, probes=probed.probes)
    return rate


def ridge_fit(X: np.ndarray, Y: np.ndarray, architecture: Architecture,
              settings: RidgeSettings, start: Start | None = None) -> MinNormResult:
    """Gradient descent on ``loss + lam ||theta||^2`` from ``start`` (default
    :meth:`Start.random`, seed 0); stops after ``settings.steps`` steps
    (``Status.STEPS``), on a non-finite objective (``Status.DIVERGED``), or at the gradient
    tolerance (``Status.CONVERGED``, see :class:`RidgeSettings`). On a CPU, batches below
    :data:`~cbn.numerics.search.lbfgs.SMALL_FIT_ELEMENTS` run on one intra-op thread.

    ``X`` is ``(N, c_in, *spatial)``; ``Y`` is ``(N, c_out, *spatial)``, or with a pooling head
    labels ``(N,)`` or ``(N, K)`` (module docstring). The record's ``settings`` hold the
    settings, ``objective_tail`` and ``learning_rate`` (a :class:`LearningRate` as a dict).
    """
    start = Start.random() if start is None else start
    X, Y = check_data(X, Y, architecture.head_classes)
    s, a = settings, architecture
    if s.batch_size is not None and s.batch_size > X.shape[0]:
        raise InputError(f"batch_size must be in [1, N={X.shape[0]}], got {s.batch_size}")
    t_start = time.perf_counter()
    dtype = DTYPES[s.dtype]
    Xt = torch.as_tensor(X, dtype=dtype, device=s.device)
    Yt = torch.as_tensor(Y, dtype=dtype, device=s.device)
    scheme = SearchSettings(init_scheme="gaussian", device=s.device, dtype=s.dtype)
    net = make_net(X, Y, a, start.network, start.seed, scheme)
    small = is_small(Xt[:s.batch_size], a.widths, Yt.shape[1] if Yt.ndim > 1 else 1, s.device)
    with intra_op_threads(1 if small else None):
        rate = choose_rate(net, Xt, Yt, s, start.seed)
        gen = torch.Generator().manual_seed(start.seed)
        run = gradient_descent(net, Xt, Yt, s.lam, rate.lr, s.steps, batch_size=s.batch_size,
                               generator=gen, include_bias=s.include_bias, gtol=s.gtol,
                               tail=s.objective_tail, progress=s.progress)
    return make_record(net, Xt, Yt, s.include_bias, iterations=run.steps,
                       wall_time=time.perf_counter() - t_start, device=str(s.device),
                       status=run.status, message=run.message,
                       method="ridge_gd" if s.batch_size is None else "ridge_sgd",
                       depth=a.depth, widths=list(a.widths), seed=start.seed, dtype=s.dtype,
                       settings={**asdict(s), "objective_tail": list(run.tail),
                                 "learning_rate": asdict(rate)})
