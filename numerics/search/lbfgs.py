"""L-BFGS runs of the search, and the intra-op thread policy for small fits."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence

import torch

#: A fit (or a ridge SGD batch) whose largest per-layer activation (samples x channels x pixels)
#: has fewer entries than this runs on one intra-op thread. With waiting threads asleep
#: (``OMP_WAIT_POLICY=PASSIVE``, set on import) a second thread costs a wake-up per op, and on
#: the 2-core machine one thread was as fast or faster at every size measured up to 1.9M
#: entries: float64 L-BFGS on a 28x28 autoencoder (64 images, width 8, depth 6, 401k entries,
#: 50 iterations) 15.1 s on one thread against 62.6 s on two (24 s of it in the kernel);
#: SGD steps of a 32-channel classifier 17.7 against 45.1 ms (7x7, batch 50), 264 against
#: 547 ms (28x28, batch 50), equal at 14x14 and batch 300 (292 ms, 1.9M entries); the quick
#: linear figure's depth-3 fit 6.8 s against 30.3 s with the other core busy.
SMALL_FIT_ELEMENTS = 2**21


def is_small(Xf: torch.Tensor, widths: Sequence[int], c_out: int, device) -> bool:
    """Whether a fit on CPU is below :data:`SMALL_FIT_ELEMENTS` (see there); ``Xf`` holds the
    samples of one evaluation (the batch, for stochastic steps)."""
    if torch.device(device).type != "cpu":
        return False
    channels = max([Xf.shape[1], c_out, *widths])
    return Xf.shape[0] * channels * math.prod(Xf.shape[2:]) < SMALL_FIT_ELEMENTS


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

