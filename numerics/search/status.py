"""Why a search stopped, as a value (the record's ``message`` says it in words)."""

from __future__ import annotations

from enum import Enum


class Status(str, Enum):
    """Stopping rule of one run of :func:`cbn.numerics.search.min_norm_fit` or ``ridge_fit``.

    The values are the words that start each run's ``message``.
    """

    #: the stopping rule was met (a KKT point to ``tol``, or ``max|grad| <= gtol`` for ridge)
    CONVERGED = "converged"
    #: the L-BFGS iteration budget ``max_iter`` was used up
    MAX_ITER = "max_iter"
    #: no progress in 5 outer augmented-Lagrangian steps
    STALLED = "stalled"
    #: a non-finite norm, residual or objective
    DIVERGED = "diverged"
    #: phase 1 could not bring the residual below ``phase1_tol``
    INFEASIBLE_START = "infeasible start"
    #: ridge protocol: every requested gradient step was taken
    STEPS = "steps"

    def __str__(self) -> str:
        return self.value
