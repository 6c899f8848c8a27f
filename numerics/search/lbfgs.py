"""L-BFGS runs of the search, and the intra-op thread policy for small fits."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence

import torch

#: A fit whose largest per-layer activation (fit samples x channels x pixels) has fewer entries
#: than this runs on one intra-op thread: torch parallelises no elementwise op below its grain
#: size (32768 elements), so extra threads only wait for each other; on the shared 2-core
#: machine, with the other core busy, the quick linear figure's depth-3 fit took 30.3 s on 2
#: threads against 6.8 s on 1 (and a different iteration count).
SMALL_FIT_ELEMENTS = 32768


#: The same rule for the steps of ridge (stochastic) gradient descent, per batch. With waiting
#: threads asleep (``OMP_WAIT_POLICY=PASSIVE``) a second thread costs a wake-up per op: float64
#: SGD steps of a 3-layer, 32-channel net with a pooling head took 17.7 ms on one thread
#: against 45.1 ms on two at 7x7 and batch 50, 264 against 547 ms at 28x28 and batch 50, and
#: the same on both (292 ms) at 14x14 and batch 300 (1.9M entries per activation).
SMALL_STEP_ELEMENTS = 2**21


def is_small(Xf: torch.Tensor, widths: Sequence[int], c_out: int, device,
             limit: int = SMALL_FIT_ELEMENTS) -> bool:
    """Whether a fit on CPU is below ``limit`` entries per activation (samples ``Xf.shape[0]``
    x largest channel count x pixels; see :data:`SMALL_FIT_ELEMENTS`)."""
    if torch.device(device).type != "cpu":
        return False
    channels = max([Xf.shape[1], c_out, *widths])
    return Xf.shape[0] * channels * math.prod(Xf.shape[2:]) < limit


@contextlib.contextmanager
def intra_op_threads(n: int | None):
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


def lbfgs(params, closure_of, max_iter, gtol, history_size) -> tuple[int, bool]:
    """One L-BFGS run; returns (iterations, stopped before its iteration cap)."""
    opt = torch.optim.LBFGS(params, lr=1.0, max_iter=max_iter, max_eval=2 * max_iter,
                            tolerance_grad=gtol, tolerance_change=0.0,
                            history_size=history_size, line_search_fn="strong_wolfe")
    opt.step(closure_of(opt))
    iters = int(opt.state[params[0]].get("n_iter", 0))
    evals = int(opt.state[params[0]].get("func_evals", 0))
    return iters, iters < max_iter and evals < 2 * max_iter

