"""Depth sweeps: minimal-norm fits at every (depth, seed), best per depth, R0/R1 fit, bounds.

Flow: :class:`SweepSpec` (:mod:`.spec`) -> one JSON-able run configuration per (depth, seed)
(:meth:`SweepSpec.run_configs`) -> :func:`execute_sweep` (:mod:`.driver`) runs the missing ones
on an executor, each by :func:`run_min_norm` (:mod:`.worker`), and stores each as soon as it
finishes (:mod:`cbn.numerics.store`) -> :func:`summarize` (:mod:`.analysis`) keeps the best run
per depth, fits ``L R0 + R1 (+ R2/L)`` (:mod:`cbn.numerics.fitting`) and weighs it against the
bounds of :mod:`.evidence`, giving a :class:`SweepSummary` (:mod:`.summary`).

Bound labels (paper_notes/theory.md section 7): a trained network's norm is an UPPER bound on
``R(f; Omega, L)``; closed-form costs of linear targets are EXACT; ranks of constant-input
Jacobians of the target give a LOWER bound on ``R0`` for the target prescribed on an open set
around those inputs; a known factorisation gives an UPPER bound on ``R0``. The label strings
themselves are in :mod:`.evidence`.
"""

from cbn.numerics.sweep.analysis import summarize
from cbn.numerics.sweep.driver import ExecutionReport, execute, execute_ladder, execute_sweep
from cbn.numerics.sweep.evidence import (
    constant_inputs,
    construction_flags,
    construction_norms,
    target_r0_lower_bound,
)
from cbn.numerics.sweep.spec import SweepSpec, data_sha256, pin_target, target_from_config
from cbn.numerics.sweep.summary import (
    BottleneckInequality,
    DeepestNetwork,
    RunSummary,
    StoreUse,
    SweepSummary,
)
from cbn.numerics.sweep.worker import result_from_record, run_min_norm

__all__ = [
    "BottleneckInequality", "DeepestNetwork", "ExecutionReport", "RunSummary", "StoreUse",
    "SweepSpec", "SweepSummary", "constant_inputs", "construction_flags", "construction_norms",
    "data_sha256", "execute", "execute_ladder", "execute_sweep", "pin_target",
    "result_from_record", "run_min_norm", "summarize", "target_from_config",
    "target_r0_lower_bound",
]
